"""Trigram indexes on the raw title and description, for searches without
cased letters (Korean), which match with a plain LIKE. See 0002 for the
UPPER() indexes used by Latin-letter searches. PostgreSQL only."""

from django.db import migrations

INDEXES = {
    "issue_title_raw_trgm_idx": "title",
    "issue_description_raw_trgm_idx": "description",
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON issues_issue USING gin ({column} gin_trgm_ops)"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("issues", "0004_alter_event_kind")]

    operations = [migrations.RunPython(forwards, backwards)]
