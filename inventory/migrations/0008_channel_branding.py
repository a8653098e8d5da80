from django.core import validators
from django.db import migrations, models


class Migration(migrations.Migration):
    """The merchant name and logo shoppers see (packing slip, e-mails, tracking page)."""

    dependencies = [
        ("inventory", "0007_channel_shipped_elsewhere_stock"),
    ]

    operations = [
        migrations.AddField(
            model_name="channel",
            name="merchant_name",
            field=models.CharField(
                blank=True,
                db_default="",
                default="",
                help_text="The shop name shoppers see on packing slips, e-mails and the tracking "
                "page (empty: the channel's name).",
                max_length=255,
            ),
        ),
        migrations.AddField(
            model_name="channel",
            name="logo_url",
            field=models.URLField(
                blank=True,
                db_default="",
                default="",
                help_text="An https:// image shown on the e-mails and the tracking page (never "
                "fetched by the OMS: the shopper's browser or mail client loads it).",
                max_length=500,
                validators=[
                    validators.URLValidator(
                        code="not_https", message="Enter an https:// URL.", schemes=["https"]
                    )
                ],
                verbose_name="Logo URL",
            ),
        ),
    ]
