"""The kernel's inbound-webhook inbox (oms.inbox): one table for the deliveries of sales
channels, carriers and 3PLs. Fulfilment 0005 and channels 0010 move their rows into it."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("oms", "0003_outbox_and_heartbeats"),
    ]

    operations = [
        migrations.CreateModel(
            name="InboundWebhook",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("channel", "Sales channel"),
                            ("carrier", "Carrier"),
                            ("partner", "3PL partner"),
                        ],
                        max_length=10,
                    ),
                ),
                ("source", models.CharField(max_length=64)),
                ("channel_id", models.BigIntegerField(blank=True, null=True)),
                ("delivery_id", models.CharField(max_length=128)),
                ("topic", models.CharField(blank=True, max_length=128)),
                ("payload", models.JSONField(default=dict)),
                ("nul_stripped", models.BooleanField(default=False)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("received", "Received"),
                            ("processed", "Processed"),
                            ("failed", "Failed"),
                        ],
                        default="received",
                        max_length=10,
                    ),
                ),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("error", models.TextField(blank=True)),
                ("claimed_until", models.DateTimeField(blank=True, null=True)),
                ("claimed_by", models.CharField(blank=True, default="", max_length=300)),
                ("received_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("processed_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "verbose_name": "inbound webhook",
                "ordering": ["-received_at", "-id"],
                "indexes": [
                    models.Index(fields=["status", "received_at"], name="inbox_status_received"),
                    models.Index(fields=["received_at"], name="inbox_received"),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("kind", "source", "delivery_id"), name="inbox_delivery_once"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("kind__in", ["channel", "carrier", "partner"])),
                        name="inbox_kind_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("status__in", ["received", "processed", "failed"])),
                        name="inbox_status_valid",
                    ),
                ],
            },
        ),
    ]
