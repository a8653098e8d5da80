"""The "refund orders" permission (returns.refund_orders); oms.roles grants it after migrate."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("returns", "0004_refund_attempts_attention"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="refund",
            options={
                "ordering": ["-created_at", "-id"],
                "permissions": [("refund_orders", "Can refund orders")],
            },
        ),
    ]
