"""The default return reasons, created if missing (an edited or deactivated reason is kept)."""

from decimal import Decimal

from django.db import migrations

DEFAULT_REASONS = [
    ("changed_mind", "Changed my mind", Decimal("0")),
    ("wrong_size", "Wrong size or fit", Decimal("0")),
    ("damaged", "Arrived damaged", Decimal("0")),
    ("defective", "Defective or does not work", Decimal("0")),
    ("not_as_described", "Not as described", Decimal("0")),
    ("late", "Arrived too late", Decimal("0")),
]


def create_reasons(apps, schema_editor):
    ReturnReason = apps.get_model("returns", "ReturnReason")
    for code, label, fee in DEFAULT_REASONS:
        ReturnReason.objects.get_or_create(
            code=code, defaults={"label": label, "restocking_fee_percent": fee}
        )


class Migration(migrations.Migration):
    dependencies = [("returns", "0002_dispositions_exchanges_queue")]

    operations = [migrations.RunPython(create_reasons, migrations.RunPython.noop)]
