"""The channel's share of the retention purge (``store/retention.py``): finished inbox rows
(with the claims of Meta's message ids), finished outbox rows (with their statuses) and the
time of her last message, once older than the horizon; and of an erasure
(``store/erasure.py``): the same rows of one conversation, whatever their age. Rows still
pending or being sent stay, and so does the time of her last message (a keyed digest and a
time, until retention): the answer to «Borrar mis datos» must still leave inside WhatsApp's
24-hour window."""

from __future__ import annotations

from sqlalchemy import delete

from channels.whatsapp import inbox, outbox
from channels.whatsapp.inbox import InboxState
from channels.whatsapp.outbox import FINAL_STATES
from channels.whatsapp.tables import engine, last_inbound
from channels.whatsapp.tables import inbox as inbox_table
from channels.whatsapp.tables import outbox as outbox_table
from store.crypto import data_keyring
from store.retention import Horizon, register


def forget_last_messages(before: float) -> int:
    """Forget the last-message time of people silent since ``before`` (epoch seconds)."""
    with engine().begin() as conn:
        return int(conn.execute(delete(last_inbound)
                                .where(last_inbound.c.last_message_at < before)).rowcount)


@register("whatsapp_channel")
def purge(horizon: Horizon) -> int:
    now = horizon.now.timestamp()
    older_than = now - horizon.cutoff_epoch
    return (inbox.prune(older_than, now) + outbox.prune(older_than, now)
            + forget_last_messages(horizon.cutoff_epoch))


def forget_conversation(conversation_id: str) -> int:
    """Erasure: delete the finished channel rows of one conversation."""
    key = data_keyring().digest(conversation_id)
    finished = [InboxState.DONE.value, InboxState.SILENT.value, InboxState.SKIPPED.value]
    with engine().begin() as conn:
        return sum(int(conn.execute(statement).rowcount) for statement in (
            delete(inbox_table).where(inbox_table.c.sender_digest == key,
                                      inbox_table.c.state.in_(finished)),
            delete(outbox_table).where(outbox_table.c.recipient_digest == key,
                                       outbox_table.c.state.in_(FINAL_STATES))))
