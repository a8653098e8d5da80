"""RoutingRule.channel points at inventory.Channel (moved from channels). State only: the
foreign key in the database already points at the same table (channels_channel)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("fulfilment", "0003_webhook_nul_stripped"),
        ("inventory", "0005_channel"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="routingrule",
                    name="channel",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="inventory.channel",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
