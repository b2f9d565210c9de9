"""WhatsApp Cloud API channel for Rasa (``channels.whatsapp.WhatsAppInput`` in credentials.yml).

Modules: config (env settings), signature (webhook HMAC), inbound (payload parsing), inbox
(durable inbound rows, claims, events for the console), worker (Rasa turns from the inbox),
translate (to Rasa text/metadata), payloads (neutralising ``/`` and signed reply ids), output
(OutputChannel → outbox), outbox (durable outbound rows, delivery states for the console),
sender (the one outbox sender), pacing (Meta's limits), graph_client (Graph API), instances
(heartbeats and leases), turn_guard (turns that cannot finish are not saved), runtime
(background work of one instance), readiness, window (24-hour window), formatting (limits),
replies (labels), tables, errors (+ errores_meta.yml), privacy, webhook (the webhook's
handlers), input (InputChannel), receiver (the webhook receiver process), nudge (its datagrams).
"""

from channels.whatsapp.inbox import channel_events, recent_identity_changes, revoked_message_digests
from channels.whatsapp.input import WhatsAppInput
from channels.whatsapp.outbox import reply_state, states_for
from channels.whatsapp.output import WhatsAppOutput
from channels.whatsapp.window import is_window_open

__all__ = ["WhatsAppInput", "WhatsAppOutput", "channel_events", "is_window_open",
           "recent_identity_changes", "reply_state", "revoked_message_digests", "states_for"]
