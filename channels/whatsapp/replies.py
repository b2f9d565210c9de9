"""Spanish texts the channel sends by itself, without Rasa."""

from __future__ import annotations

VOICE_OR_AUDIO = (
    "Por ahora solo puedo leer mensajes escritos. Si no puedes escribir, llama al 1455 "
    "(orientación, gratis) o, si estás en peligro, al 133."
)
FILE = "Recibí tu archivo, pero solo puedo leer texto. Escríbeme con palabras lo que necesitas."
STICKER = "Gracias por tu mensaje. Solo puedo leer texto: escríbeme con palabras lo que necesitas."
CONTACT = (
    "Recibí un contacto, pero solo puedo leer texto. Escríbeme con palabras lo que necesitas."
)
UNSUPPORTED = (
    "No pude leer ese mensaje. Escríbeme con palabras lo que necesitas. "
    "Si estás en peligro, llama al 133."
)

MENU_LABEL = "Ver opciones"
CHOOSE_OPTION = "Elige una opción:"

_BY_TYPE = {
    "audio": VOICE_OR_AUDIO,
    "image": FILE,
    "video": FILE,
    "document": FILE,
    "sticker": STICKER,
    "contacts": CONTACT,
}


def auto_reply_for(message_type: str) -> str:
    """The kind answer to a message type the bot cannot read."""
    return _BY_TYPE.get(message_type, UNSUPPORTED)
