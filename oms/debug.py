"""What error reports (the debug page, the error e-mails to ADMINS) may show.

Invariant: a report never shows a secret: Django's filter already masks settings and request
headers whose names look secret (KEY, TOKEN, SECRET, PASS ...) and the POST parameters a view
marks sensitive (the admin's secret fields: oms.admin_utils); this filter also masks the
password inside any URL (a broker, cache or database URL such as redis://:password@host).
"""

from __future__ import annotations

import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

#: scheme://user:password@host -> the password part.
URL_PASSWORD = re.compile(
    r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]+)(?=@)", re.I
)


def url_passwords_masked(text: str, mask: str = "********") -> str:
    """`text` with the password of every URL in it replaced by `mask`."""
    return URL_PASSWORD.sub(lambda m: m.group("head") + mask, text)


class SecretsReporterFilter(SafeExceptionReporterFilter):
    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):
            return url_passwords_masked(cleansed, self.cleansed_substitute)
        return cleansed
