"""Pruning the feed and telling the admins about a disabled endpoint."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone

from oms.roles import MANAGER
from webhooks.models import Event, WebhookEndpoint


def events_prune(*, batch: int = 5000) -> int:
    """Delete events older than OMS_EVENTS_RETENTION_DAYS (their deliveries with them), in
    batches; returns how many."""
    cutoff = timezone.now() - dt.timedelta(days=settings.OMS_EVENTS_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(
            Event.objects.filter(recorded_at__lt=cutoff).values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return deleted
        Event.objects.filter(pk__in=ids).delete()
        deleted += len(ids)


def admin_addresses() -> list[str]:
    """Who hears of an endpoint disabled: settings.ADMINS, superusers and managers."""
    found = [str(entry[1]) for entry in settings.ADMINS]
    users = get_user_model().objects.filter(
        Q(is_superuser=True) | Q(groups__name=MANAGER), is_active=True
    )
    found += [u.email for u in users.exclude(email="") if u.email]
    return sorted(set(found))


def endpoint_disabled_notify(*, endpoint_id: int) -> int:
    """E-mail the admins that an endpoint was disabled; returns how many were written to."""
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    recipients = admin_addresses()
    if endpoint is None or endpoint.is_active or not recipients:
        return 0
    link = f"{settings.OMS_PUBLIC_URL}/admin/webhooks/webhookendpoint/{endpoint.pk}/change/"
    send_mail(
        subject=f"Webhook endpoint disabled: {endpoint.url}"[:200],
        message=(
            f"The webhook endpoint {endpoint.url} ({endpoint.description or 'no description'}) "
            f"was disabled: {endpoint.disabled_reason}\n\n"
            f"Its events are still recorded. Enable it again once it answers: {link}\n"
        ),
        from_email=None,
        recipient_list=recipients,
    )
    return len(recipients)
