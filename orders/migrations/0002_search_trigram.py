"""Fast `search` on PostgreSQL: a trigram GIN index on the order's search text (ILIKE '%q%').

SQLite has no trigram index; it scans, which is fine at development sizes.
"""

from django.db import migrations


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS orders_order_search_trgm "
        "ON orders_order USING gin (search_text gin_trgm_ops)"
    )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS orders_order_search_trgm")


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
