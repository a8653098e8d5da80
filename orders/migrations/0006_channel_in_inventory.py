"""Order.channel and FraudRule.channel point at inventory.Channel (moved from channels). State
only: the foreign keys in the database already point at the same table (channels_channel)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0005_channel"),
        ("orders", "0005_privacy_requests"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="fraudrule",
                    name="channel",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="fraud_rules",
                        to="inventory.channel",
                    ),
                ),
                migrations.AlterField(
                    model_name="order",
                    name="channel",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="orders",
                        to="inventory.channel",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
