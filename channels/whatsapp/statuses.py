"""Delivery statuses of our messages: recorded, logged when failed, never answered."""

from __future__ import annotations

import logging
import time

from sqlalchemy import insert

from channels.whatsapp.errors import meaning
from channels.whatsapp.inbound import InboundStatus
from channels.whatsapp.privacy import hash_id
from channels.whatsapp.tables import engine, message_statuses

logger = logging.getLogger(__name__)


def record_status(status: InboundStatus) -> None:
    """Store the status; log a failure with its code and meaning (no content, no number)."""
    if status.status == "failed":
        logger.warning(
            "WhatsApp message %s failed: code %s (%s)",
            hash_id(status.message_id),
            status.error_code,
            meaning(status.error_code),
        )
    with engine().begin() as conn:
        conn.execute(
            insert(message_statuses).values(
                wamid=status.message_id[:255],
                status=status.status[:32],
                error_code=status.error_code,
                recorded_at=time.time(),
            )
        )
