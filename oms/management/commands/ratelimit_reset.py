"""Forget rate-limit counters: of one client address, of one API user, or all of them.

(The admin login lockout has its own commands: axes_reset, axes_reset_username, axes_reset_ip.)
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from oms import ratelimit
from oms.clientip import address_key


class Command(BaseCommand):
    help = "Forget the rate-limit counters of an address (--address), a user (--user) or all."

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--address", help="a client address (IPv6: its /64 is forgotten)")
        group.add_argument("--user", help="the username of an API user")
        group.add_argument("--all", action="store_true", help="every counter")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["address"]:
            who = address_key(options["address"])
            if who == "unknown":
                raise CommandError(f"{options['address']!r} is not an IP address.")
        elif options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user {options['user']!r}.")
            who = f"user:{user.pk}"
        else:
            who = None
        removed = ratelimit.reset(who=who)
        self.stdout.write(f"Forgot {removed} rate-limit counter(s) of {who or 'everyone'}.")
