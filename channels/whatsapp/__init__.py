"""WhatsApp Cloud API channel for Rasa (``channels.whatsapp.WhatsAppInput`` in credentials.yml).

Modules: config (env settings), signature (webhook HMAC), inbound (payload parsing),
translate (to Rasa text/metadata), payloads (neutralising ``/`` and signed reply ids),
dedup (message id claims), window (24-hour window), statuses, graph_client (Graph API
with retries), formatting (limits), output (OutputChannel), input (InputChannel),
dispatch (ordered background work), replies (Spanish texts), tables, privacy, errors.
"""

from channels.whatsapp.input import WhatsAppInput
from channels.whatsapp.output import WhatsAppOutput
from channels.whatsapp.window import is_window_open

__all__ = ["WhatsAppInput", "WhatsAppOutput", "is_window_open"]
