from django.db import migrations, models


class Migration(migrations.Migration):
    """The language of the channel's shopper pages and e-mails (English for existing rows)."""

    dependencies = [
        ("inventory", "0008_channel_branding"),
    ]

    operations = [
        migrations.AddField(
            model_name="channel",
            name="language",
            field=models.CharField(
                choices=[
                    ("en", "English"),
                    ("de", "German"),
                    ("fr", "French"),
                    ("nl", "Dutch"),
                    ("es", "Spanish"),
                ],
                db_default="en",
                default="en",
                help_text="The language of the tracking page, return pages and e-mails of this channel's orders, unless an order names its own (Shopify's customer locale).",
                max_length=5,
                verbose_name="Shoppers' language",
            ),
        ),
    ]
