"""The "manage channel connections" permission; oms.roles grants it after migrate."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0006_lease_and_claim_holders"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="channel",
            options={
                "ordering": ["code"],
                "permissions": [
                    (
                        "manage_channel_connections",
                        "Can manage channel credentials and connections (syncs, stock pushes)",
                    )
                ],
            },
        ),
    ]
