"""What `make run` does before it starts the processes, in one process: migrate, load the demo
data (idempotent: what is there is not rebuilt), create the development superuser. One Django
start-up and one round of system checks instead of three keeps a restart fast."""

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "migrate, demo_data and dev_superuser in one process (what `make run` runs first)."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, skip_checks=True, verbosity=options["verbosity"])
        call_command("demo_data", skip_checks=True)
        call_command("dev_superuser", skip_checks=True)
