"""A migration operation for PostgreSQL table storage options (a no-op on other databases).

Not a migration itself: Django's loader skips modules whose name starts with "_".
"""

from django.db import migrations


def postgresql_table_options(table: str, **options) -> migrations.RunPython:
    """Set `options` (name=value) on `table`; reversing resets them."""
    names = ", ".join(options)
    values = ", ".join(f"{name} = {value}" for name, value in options.items())

    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE {table} SET ({values})")

    def revert(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE {table} RESET ({names})")

    return migrations.RunPython(apply, revert)
