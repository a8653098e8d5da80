"""What error reports (the debug page, the error e-mails to ADMINS) may show.

Invariant: with DEBUG off a report never shows a secret. Django's filter masks settings and
request headers whose names look secret and the POST parameters a view marks sensitive (the
admin's secret fields: oms.admin.services); this filter also masks
- the password inside any URL (a broker, cache or database URL such as redis://:password@host);
- names that hold credentials (`credentials`, `secret`, `token` ...), in settings, headers and
  the local variables of every frame, also as keys of dicts (a command's validated `data`);
- DRF serializers among the local variables (their repr prints the data they were given).
"""

from __future__ import annotations

import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter
from rest_framework.serializers import BaseSerializer

#: scheme://user:password@host -> the password part.
URL_PASSWORD = re.compile(
    r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]+)(?=@)", re.IGNORECASE
)


def url_passwords_masked(text: str, mask: str = "********") -> str:
    """`text` with the password of every URL in it replaced by `mask`."""
    # str(): a lazy string (a setting of django-axes) is a str to isinstance, not to re.
    return URL_PASSWORD.sub(lambda m: m.group("head") + mask, str(text))


class SecretsReporterFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CREDENTIAL", flags=re.IGNORECASE
    )

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):
            return url_passwords_masked(cleansed, self.cleansed_substitute)
        return cleansed

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        if not self.is_active(request):
            return variables
        return [
            (
                name,
                f"<{type(value).__name__}: {self.cleansed_substitute}>"
                if isinstance(value, BaseSerializer)
                else self.cleanse_setting(name, value),
            )
            for name, value in variables
        ]
