"""Spanish labels the channel adds when it reshapes a message to fit WhatsApp's limits.

The answers themselves (including the «solo puedo leer texto» reply to media) come from
``domain.yml``: the channel passes media to Rasa as ``/medio_no_soportado``.
"""

from __future__ import annotations

MENU_LABEL = "Ver opciones"  # the button that opens a list of more than 3 options
CHOOSE_OPTION = "Elige una opción:"  # body of buttons sent after a long text
