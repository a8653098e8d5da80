"""The Channel moves from the channels app to inventory (issue 15): the apps below channels
(orders, fulfilment) may then point at it. State only: the table keeps its name
(channels_channel, and channels_channel_locations for its locations), so no row moves; the
channels app's migration 0009 deletes its own copy of the model and moves the content type.
"""

import django.core.validators
from django.db import migrations, models

import inventory.models


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0004_stock_bin"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Channel",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "code",
                            models.CharField(
                                max_length=32,
                                unique=True,
                                validators=[
                                    django.core.validators.RegexValidator(
                                        "^[A-Za-z0-9][A-Za-z0-9._/-]*$",
                                        "Use letters, digits, '.', '_', '/' and '-', starting with a letter or digit.",
                                    )
                                ],
                            ),
                        ),
                        ("name", models.CharField(max_length=255)),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("shopify", "Shopify"),
                                    ("amazon", "Amazon"),
                                    ("ebay", "eBay"),
                                    ("woocommerce", "WooCommerce"),
                                    ("pos", "Point of sale"),
                                    ("api", "Direct API"),
                                    ("csv", "CSV import"),
                                ],
                                max_length=16,
                            ),
                        ),
                        (
                            "currency",
                            models.CharField(
                                max_length=3, validators=[inventory.models.validate_currency]
                            ),
                        ),
                        (
                            "stock_buffer",
                            models.PositiveIntegerField(
                                default=0,
                                help_text="Units per SKU held back from what the channel is told it can sell.",
                            ),
                        ),
                        ("is_active", models.BooleanField(default=True)),
                        (
                            "send_emails",
                            models.BooleanField(
                                default=True,
                                help_text="Send the shopper our e-mails (off for marketplaces that send their own).",
                            ),
                        ),
                        ("credentials_encrypted", models.TextField(blank=True, editable=False)),
                        (
                            "location_map",
                            models.JSONField(
                                blank=True,
                                default=dict,
                                help_text='Channel-side location id -> our location code, e.g. {"L7Q3": "STORE-1"}.',
                            ),
                        ),
                        (
                            "sync_interval_minutes",
                            models.PositiveIntegerField(
                                default=5,
                                help_text="Minutes between two scheduled order pulls (0 = never scheduled).",
                            ),
                        ),
                        (
                            "sync_overlap_minutes",
                            models.PositiveIntegerField(
                                default=10,
                                help_text="Each pull starts this far before the last change seen, so that a change written late on the channel's side is never skipped.",
                            ),
                        ),
                        (
                            "sync_cursor",
                            models.DateTimeField(
                                blank=True,
                                editable=False,
                                help_text="Last channel-side change stored.",
                                null=True,
                            ),
                        ),
                        (
                            "sync_next_at",
                            models.DateTimeField(blank=True, editable=False, null=True),
                        ),
                        (
                            "sync_lease_until",
                            models.DateTimeField(blank=True, editable=False, null=True),
                        ),
                        (
                            "sync_lease_holder",
                            models.CharField(
                                blank=True, default="", editable=False, max_length=300
                            ),
                        ),
                        (
                            "stock_push_lease_until",
                            models.DateTimeField(blank=True, editable=False, null=True),
                        ),
                        (
                            "return_window_days",
                            models.PositiveIntegerField(
                                default=30,
                                help_text="Days after delivery within which shoppers may return items.",
                            ),
                        ),
                        (
                            "returns_auto_authorise",
                            models.BooleanField(
                                default=True,
                                help_text="Authorise shoppers' returns within the window at once (else staff review).",
                            ),
                        ),
                        (
                            "refund_basis",
                            models.CharField(
                                choices=[
                                    ("received", "Received lines"),
                                    ("authorised", "Authorised lines"),
                                ],
                                default="received",
                                help_text="Which lines the suggested refund counts.",
                                max_length=12,
                            ),
                        ),
                        (
                            "exchange_timing",
                            models.CharField(
                                choices=[
                                    ("on_receipt", "When the return is received"),
                                    ("immediate", "At once"),
                                ],
                                default="on_receipt",
                                help_text="When an exchange's replacement order is created.",
                                max_length=12,
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "locations",
                            models.ManyToManyField(
                                blank=True,
                                db_table="channels_channel_locations",
                                help_text="Locations whose stock this channel sells and from which its orders ship.",
                                related_name="channels",
                                to="inventory.location",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "channels_channel",
                        "ordering": ["code"],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    (
                                        "kind__in",
                                        [
                                            "shopify",
                                            "amazon",
                                            "ebay",
                                            "woocommerce",
                                            "pos",
                                            "api",
                                            "csv",
                                        ],
                                    )
                                ),
                                name="channel_kind_valid",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("refund_basis__in", ["received", "authorised"])
                                ),
                                name="channel_refund_basis_valid",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("exchange_timing__in", ["on_receipt", "immediate"])
                                ),
                                name="channel_exchange_timing_valid",
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
