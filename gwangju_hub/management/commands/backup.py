"""``manage.py backup DIR``: database, attachments and a manifest (see core/backup.py)."""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.backup import BackupError, create_backup


class Command(BaseCommand):
    help = (
        "Write a consistent backup into DIR (new or empty): the database (pg_dump custom "
        "format on PostgreSQL, SQLite's online backup API on SQLite), every attachment from "
        "the configured storage, and manifest.json with row counts and SHA-256 checksums."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("directory", type=Path, metavar="DIR")

    def handle(self, *args, directory: Path, **options) -> None:
        started = time.monotonic()
        try:
            create_backup(directory, self.stdout)
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup written to {directory} in {time.monotonic() - started:.1f}s"
            )
        )
