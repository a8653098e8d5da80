"""Create the development superuser (DEBUG only) and print its credentials."""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

USERNAME = "admin"
PASSWORD = "admin"


class Command(BaseCommand):
    help = "Create the development superuser admin/admin (only with DEBUG on)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("Refusing to create a development superuser with DEBUG off.")
        user_model = get_user_model()
        if not user_model.objects.filter(username=USERNAME).exists():
            user_model.objects.create_superuser(USERNAME, "admin@example.com", PASSWORD)
            self.stdout.write("Created the development superuser.")
        self.stdout.write(self.style.SUCCESS(f"  Log in as {USERNAME} / {PASSWORD}"))
