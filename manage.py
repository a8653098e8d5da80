#!/usr/bin/env python
"""Django's command-line utility for the OMS."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
    if not os.environ.get("SECRET_KEY"):
        # No secret key means a development checkout: development defaults. A deployment sets
        # SECRET_KEY (and so runs with DEBUG off unless it says otherwise).
        os.environ.setdefault("DEBUG", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
