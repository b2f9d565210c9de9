"""The one outbox sender of a deployment.

Every channel instance runs this loop, but only the holder of the ``sender`` lease sends, so
Meta's limits and the order per recipient are one process's job. It takes, per recipient, the
oldest open row (nothing earlier pending or in flight), paces it (pacing.py), sends it with
one Graph API call and records the outcome:
- accepted: ``sent`` with Meta's message id;
- a transient failure (no answer, HTTP 429/5xx, 130429, 131056): pending again after a backoff
  (and a pause of all sending when the API itself fails), kept in order; after
  ``WHATSAPP_SEND_MAX_AGE`` it is ``failed`` (``sin_respuesta``);
- any other error: ``failed`` with Meta's code.

Each message carries ``biz_opaque_callback_data`` = its row id: Meta returns it in the
statuses, so a send cut by a crash is found ``sent`` by its status, and only sent again if
no status came within ``WHATSAPP_RECONCILE_SECONDS``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from channels.whatsapp import outbox
from channels.whatsapp.config import WhatsAppConfig
from channels.whatsapp.errors import (
    PAIR_RATE_CODE,
    THROUGHPUT_CODE,
    WINDOW_CLOSED_CODE,
    FailureReason,
    is_transient,
)
from channels.whatsapp.graph_client import GraphClient, SendResult
from channels.whatsapp.group_commit import GroupCommitter
from channels.whatsapp.instances import SENDER_LEASE, acquire_lease, release_lease
from channels.whatsapp.outbox import OutboundKind, OutboxRow
from channels.whatsapp.pacing import PairPacer, TokenBucket, backoff
from channels.whatsapp.privacy import hash_id
from channels.whatsapp.window import WINDOW_SECONDS, last_user_message_at
from store.crypto import InvalidToken, data_keyring

logger = logging.getLogger(__name__)

BACKOFF_BASE = 0.5
READ_RECEIPT_MAX_AGE = 600.0  # a read receipt later than this is pointless


class OutboxSender:
    def __init__(self, config: WhatsAppConfig, graph: GraphClient, instance_id: str) -> None:
        self.config = config
        self.tuning = config.tuning
        self.graph = graph
        self.instance_id = instance_id
        now = time.time()
        self.rate = TokenBucket.full(self.tuning.send_rate, self.tuning.send_rate, now)
        self.pairs = PairPacer(self.tuning.pair_burst, self.tuning.pair_interval)
        self.max_in_flight = max(1, getattr(graph, "_max_in_flight", 24))
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._busy: set[str] = set()  # recipients with a send in flight
        self._templated: set[str] = set()  # recipients sent the template while it was closed
        # recipient → end of her 24-hour window as last read: her last message time only
        # moves forward, so until then the window is open without asking the database
        self._open_until: dict[str, float] = {}
        # sends that end together record their «sent» in one transaction
        self._accepted: GroupCommitter[tuple[int, str | None, float]] = GroupCommitter(
            None, outbox.mark_sent_many)
        self._paused_until = 0.0
        self._api_failures = 0
        self._leader_since: float | None = None
        self._lease_checked = 0.0
        self._reconciled = 0.0
        self._stopping = False

    @property
    def is_leader(self) -> bool:
        return self._leader_since is not None

    def nudge(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                await self._step(time.time())
            except Exception:  # noqa: BLE001 - the database may be down for a moment
                logger.exception("outbox sender step failed; trying again")
            await self._sleep()

    async def _sleep(self) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), self.tuning.poll_seconds)
        except asyncio.TimeoutError:
            pass

    async def _step(self, now: float) -> None:
        if not await self._hold_lease(now) or now < self._paused_until:
            return
        if now - self._reconciled > self.tuning.stale_seconds / 4:
            await self._reconcile(now)
        free = self.max_in_flight - len(self._tasks)
        if free <= 0:
            return
        rows = await asyncio.to_thread(outbox.heads, free + len(self._busy), now)
        chosen: list[OutboxRow] = []
        for row in rows:
            if len(chosen) >= free or self._stopping:
                break
            if row.recipient_digest in self._busy or not self._paced(row, now):
                continue
            chosen.append(row)  # heads gives one row per recipient
        if not chosen:
            return
        taken = await asyncio.to_thread(outbox.mark_sending, [r.id for r in chosen],
                                        self.instance_id, now)
        for row in chosen:
            if row.id in taken:
                self._start(row)

    def _paced(self, row: OutboxRow, now: float) -> bool:
        """Take the tokens this row needs (read receipts are not messages)."""
        if row.kind is OutboundKind.READ:
            return True
        if not self.rate.take(now):
            return False
        if not self.pairs.take(row.recipient_digest, now):
            self.rate.tokens += 1.0  # give the number's token back
            return False
        return True

    def _start(self, row: OutboxRow) -> None:
        self._busy.add(row.recipient_digest)
        task = asyncio.ensure_future(self._send(row))
        self._tasks.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self._tasks.discard(finished)
            self._busy.discard(row.recipient_digest)
            self.nudge()

        task.add_done_callback(done)

    async def _hold_lease(self, now: float) -> bool:
        """Take or renew the sender lease every few seconds (ttl: the stale horizon)."""
        if now - self._lease_checked < self.tuning.stale_seconds / 4:
            return self.is_leader
        self._lease_checked = now
        held = await asyncio.to_thread(acquire_lease, SENDER_LEASE, self.instance_id,
                                       self.tuning.stale_seconds, now)
        if held and self._leader_since is None:
            logger.info("this instance now sends the WhatsApp outbox")
            self._leader_since = now
        elif not held:
            self._leader_since = None
        return held

    async def _reconcile(self, now: float) -> None:
        """Sends cut by a crash (another sender's rows left ``sending``): if Meta's status did
        not arrive within the grace period since we lead, send them again."""
        self._reconciled = now
        assert self._leader_since is not None
        if now - self._leader_since < self.tuning.reconcile_seconds:
            return
        again = await asyncio.to_thread(outbox.reconcile_interrupted, self.instance_id,
                                        now - self.tuning.reconcile_seconds)
        if again:
            logger.warning("%d WhatsApp message(s) cut by a stop got no status from Meta; "
                           "sending them again", again)

    # --- one send ------------------------------------------------------------------------

    async def _send(self, row: OutboxRow) -> None:
        try:
            ring = data_keyring()
            try:
                recipient = ring.decrypt_text(row.recipient) or ""
                message = ring.decrypt_json(row.payload) or {}
            except (InvalidToken, ValueError, TypeError):
                logger.error("outbox row %s cannot be decrypted; marked failed", row.id)
                await asyncio.to_thread(outbox.mark_failed, row.id, None,
                                        FailureReason.UNREADABLE.value)
                return
            body = await self._body(row, recipient, message)
            if body is None:
                return
            result = await self.graph.send(body, recipient=recipient, max_attempts=1)
            await self._record(row, result)
        except Exception:  # noqa: BLE001 - a row must never stay "sending" by mistake
            logger.exception("outbox row %s: unexpected error; will retry", row.id)
            await asyncio.to_thread(outbox.retry_later, row.id, time.time() + 5.0, None)

    async def _body(self, row: OutboxRow, recipient: str,
                    message: dict[str, Any]) -> dict[str, Any] | None:
        if row.kind is OutboundKind.READ:
            return {"messaging_product": "whatsapp", "status": "read",
                    "message_id": message.get("message_id")}
        message = await self._fit_window(row, recipient, message)
        if message is None:
            return None
        return {**message, "messaging_product": "whatsapp", "recipient_type": "individual",
                "to": recipient, "biz_opaque_callback_data": row.callback}

    async def _fit_window(self, row: OutboxRow, recipient: str,
                          message: dict[str, Any]) -> dict[str, Any] | None:
        """Outside the 24-hour window only a template may go: send it once, or fail."""
        if message.get("type") == "template":
            return message
        try:
            window_open = await self._window_open(row.recipient_digest, recipient)
        except Exception:  # noqa: BLE001 - if unsure, try: Meta refuses with 131047
            logger.exception("could not read the 24-hour window; sending anyway")
            return message
        if window_open:
            self._templated.discard(row.recipient_digest)
            return message
        ref = hash_id(recipient)
        reason = None
        if not self.config.template_name:
            reason = FailureReason.NO_TEMPLATE
            logger.warning("WhatsApp message to %s NOT SENT: more than 24 hours since her last "
                           "message and WHATSAPP_TEMPLATE_NAME is not set", ref)
        elif row.recipient_digest in self._templated:
            reason = FailureReason.TEMPLATE_ALREADY_SENT
            logger.info("WhatsApp message to %s not sent: window closed, template already sent",
                        ref)
        if reason is not None:
            await asyncio.to_thread(outbox.mark_failed, row.id, WINDOW_CLOSED_CODE, reason.value)
            return None
        logger.info("24-hour window closed for %s: sending the template instead", ref)
        self._templated.add(row.recipient_digest)
        return {"type": "template", "template": {
            "name": self.config.template_name,
            "language": {"code": self.config.template_language}}}

    async def _window_open(self, digest: str, recipient: str) -> bool:
        now = time.time()
        if now < self._open_until.get(digest, 0.0):
            return True
        last = await asyncio.to_thread(last_user_message_at, recipient)
        if last is None or now - last >= WINDOW_SECONDS:
            self._open_until.pop(digest, None)
            return False
        if len(self._open_until) >= 10_000:
            self._open_until = {k: t for k, t in self._open_until.items() if t > now}
        self._open_until[digest] = last + WINDOW_SECONDS
        return True

    async def _record(self, row: OutboxRow, result: SendResult) -> None:
        now = time.time()
        if result.ok:
            self._api_failures = 0
            await self._accepted.store((row.id, result.message_id, now))
            return
        if not is_transient(result.http_status, result.error_code):
            await asyncio.to_thread(outbox.mark_failed, row.id, result.error_code, None, now)
            return
        max_age = (READ_RECEIPT_MAX_AGE if row.kind is OutboundKind.READ
                   else self.tuning.send_max_age)
        if now - row.created_at > max_age:
            await asyncio.to_thread(outbox.mark_failed, row.id, result.error_code,
                                    FailureReason.NO_ANSWER.value, now)
            return
        delay = backoff(row.attempts + 1, BACKOFF_BASE, self.tuning.send_max_backoff)
        if result.error_code == PAIR_RATE_CODE:
            self.pairs.throttled(row.recipient_digest, now)
            delay = max(delay, self.tuning.pair_interval)
        else:  # the API or the number's throughput: hold every send for a while
            self._api_failures += 1
            pause = backoff(self._api_failures, BACKOFF_BASE, self.tuning.send_max_backoff)
            if result.error_code == THROUGHPUT_CODE or result.http_status == 429:
                pause = max(pause, 1.0)
            self._paused_until = max(self._paused_until, now + pause)
            delay = max(delay, pause)
        await asyncio.to_thread(outbox.retry_later, row.id, now + delay, result.error_code)

    # --- stopping -----------------------------------------------------------------------

    async def stop(self, timeout: float) -> None:
        """Stop taking rows; wait at most ``timeout`` s for sends in flight. Rows still in
        flight stay ``sending``: the next sender settles them by their status."""
        self._stopping = True
        self.nudge()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in list(self._tasks):
            task.cancel()
        if self.is_leader:
            try:
                await asyncio.to_thread(release_lease, SENDER_LEASE, self.instance_id)
            except Exception:  # noqa: BLE001
                logger.exception("could not release the sender lease")
        self._leader_since = None
