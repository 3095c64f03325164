"""``manage.py restore DIR [--force]``: verify, restore, verify again (see core/backup.py)."""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.backup import BackupError, restore_backup


class Command(BaseCommand):
    help = (
        "Restore a backup made by `backup`: first check every file against the manifest "
        "(nothing is written if one differs), refuse a database that already holds data "
        "unless --force, restore the database and the attachments, then check every row "
        "count and checksum against the manifest. Stop the web, worker and beat first."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("directory", type=Path, metavar="DIR")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Replace the data of a database that is not empty.",
        )

    def handle(self, *args, directory: Path, force: bool, **options) -> None:
        started = time.monotonic()
        try:
            restore_backup(directory, force=force, out=self.stdout)
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            self.style.SUCCESS(f"Restored from {directory} in {time.monotonic() - started:.1f}s")
        )
