#!/usr/bin/env python
"""Django's command-line utility for the OMS.

Without SECRET_KEY it runs in development mode (DEBUG on, a fixed insecure key) and says so on
stderr, loudly, every time: a deployment that forgot its SECRET_KEY must not pass unnoticed.
"""

import os
import sys

DEVELOPMENT_MODE_WARNING = (
    "DEVELOPMENT MODE: DEBUG is on because SECRET_KEY is not set; never run like this in production"
)
_FALSE = {"0", "false", "no", "off"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
    if not os.environ.get("SECRET_KEY"):
        # No secret key means a development checkout: development defaults. A deployment sets
        # SECRET_KEY (and so runs with DEBUG off unless it says otherwise). DEBUG=0 without a
        # key is refused by the settings instead.
        os.environ.setdefault("DEBUG", "1")
        if os.environ["DEBUG"].strip().lower() not in _FALSE:
            print(DEVELOPMENT_MODE_WARNING, file=sys.stderr)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
