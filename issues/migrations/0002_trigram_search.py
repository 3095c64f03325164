"""Korean substring search on PostgreSQL: pg_trgm GIN indexes.

PostgreSQL's text-search configurations have no Korean analyser; trigrams
split Korean syllables fine and serve LIKE '%…%'. The indexes are on
UPPER(col) because Django's icontains compiles to UPPER(col) LIKE UPPER(%s).
SQLite has neither GIN nor pg_trgm, so there this migration does nothing and
search falls back to a scan.
"""

from django.db import migrations

INDEXES = {
    "issue_title_trgm_idx": "UPPER((title)::text)",
    "issue_description_trgm_idx": "UPPER(description)",
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON issues_issue USING gin ({expression} gin_trgm_ops)"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("issues", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
