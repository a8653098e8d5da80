"""Development e-mail: one log line per message (recipient, subject, its first link) instead of
the whole multipart message on the console, so that a worker's log stays readable.

Invariant: the line is logged at INFO (sending an e-mail is normal work, not a warning); set
OMS_EMAIL_LOG_FULL=1 to print whole messages with Django's console backend instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend

logger = logging.getLogger("oms.mail")
LINK = re.compile(r"https?://\S+")


class LogEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[Any]) -> int:
        for message in email_messages:
            found = LINK.search(str(message.body or ""))
            logger.info(
                "E-mail to %s: %s%s",
                ", ".join(message.to),
                message.subject,
                f" ({found.group(0)})" if found else "",
            )
        return len(email_messages)
