"""The stock ledger is append-only: the database itself refuses to change a movement.

PostgreSQL refuses UPDATE and DELETE (TRUNCATE, used only to wipe a test database, is not
affected); SQLite refuses UPDATE (its test runner empties tables with DELETE).
"""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION inventory_stockmovement_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'stock movements are immutable: write a new movement instead';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER inventory_stockmovement_no_update BEFORE UPDATE OR DELETE
    ON inventory_stockmovement FOR EACH ROW EXECUTE FUNCTION inventory_stockmovement_immutable();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS inventory_stockmovement_no_update ON inventory_stockmovement;
DROP FUNCTION IF EXISTS inventory_stockmovement_immutable();
"""
SQLITE_FORWARD = """
CREATE TRIGGER inventory_stockmovement_no_update BEFORE UPDATE ON inventory_stockmovement
BEGIN
    SELECT RAISE(ABORT, 'stock movements are immutable: write a new movement instead');
END;
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS inventory_stockmovement_no_update;"


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("inventory", "0002_stock")]

    operations = [migrations.RunPython(forward, backward)]
