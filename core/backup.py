"""Backups that restore: one directory with the database, the attachments and a manifest.

Layout of a backup directory::

    manifest.json          what is here, written last (a backup without it is unfinished)
    database.dump          PostgreSQL: ``pg_dump -Fc`` (custom format)
    database.sqlite3       SQLite: a copy made with SQLite's online backup API
    files/<storage name>   every file of the default storage under ``attachments/``,
                           plus any other file a FileField row points at

The manifest carries the row count of every concrete model and the SHA-256
and size of every file, so ``restore`` can refuse a damaged backup before it
writes anything and prove afterwards that what it restored is what was saved.

Consistency. On PostgreSQL the counts are taken inside a REPEATABLE READ
transaction whose snapshot is exported (``pg_export_snapshot()``) and handed to
``pg_dump --snapshot``, so the dump and the counts describe the same instant
while the app keeps writing. (Counting from a restored copy of the dump would
be just as exact but would cost a second database and a full restore per
backup.) On SQLite the counts are read from the copy itself. Files are read
*after* the snapshot: attachments are never rewritten in place (each upload
gets a new random name), so a file the snapshot refers to is already there;
a file uploaded meanwhile is merely extra.

Files are read and written through Django's default storage, so the same
commands work whether attachments live on a local disk or in S3.

This module imports no app of ours: models are found through the app
registry, and files through the storage and the models' FileFields.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from django.apps import apps
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, connections, models

FORMAT = "gwangju-hub-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PG_DUMP_FILE = "database.dump"
SQLITE_FILE = "database.sqlite3"
FILES_DIR = "files"
ATTACHMENTS_PREFIX = "attachments"
CHUNK = 1024 * 1024


class BackupError(Exception):
    """Something an operator must act on; the message says what."""


# --- What gets counted -----------------------------------------------------


def counted_models() -> list[type[models.Model]]:
    """Every model that owns a table: concrete, managed, not a proxy (M2M tables included)."""
    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    ]


def project_app_labels() -> set[str]:
    """Labels of the apps that are this project's own code (not Django's or a package's)."""
    base = Path(settings.BASE_DIR).resolve()
    labels = set()
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if path.is_relative_to(base) and "site-packages" not in path.parts:
            labels.add(config.label)
    return labels


def count_rows(cursor: Any, quote_name: Any, tables: dict[str, str]) -> dict[str, int]:
    """``SELECT COUNT(*)`` of each table, on whatever DB-API cursor (and snapshot) is given."""
    counts = {}
    for label, table in sorted(tables.items()):
        cursor.execute(f"SELECT COUNT(*) FROM {quote_name(table)}")  # noqa: S608 - quoted name
        counts[label] = cursor.fetchone()[0]
    return counts


def model_tables() -> dict[str, str]:
    return {model._meta.label: model._meta.db_table for model in counted_models()}


def referenced_file_names(cursor: Any, quote_name: Any) -> set[str]:
    """Every file name a FileField row points at, read through the given cursor (snapshot)."""
    names: set[str] = set()
    for model in counted_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.FileField):
                cursor.execute(
                    f"SELECT DISTINCT {quote_name(field.column)} "  # noqa: S608 - quoted names
                    f"FROM {quote_name(model._meta.db_table)} "
                    f"WHERE {quote_name(field.column)} <> ''"
                )
                names.update(row[0] for row in cursor.fetchall() if row[0])
    return names


# --- Files -------------------------------------------------------------------


def sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def storage_sha256(name: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with default_storage.open(name, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def walk_storage(top: str) -> Iterator[str]:
    """Every file name under ``top`` in the default storage (empty when ``top`` does not exist)."""
    try:
        directories, files = default_storage.listdir(top)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield f"{top}/{name}"
    for directory in sorted(directories):
        yield from walk_storage(f"{top}/{directory}")


def safe_relative(name: str) -> PurePosixPath:
    """A storage name as a path that stays inside the backup (no ``..``, not absolute)."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name:
        raise BackupError(f"Refusing an unsafe file name in the backup: {name!r}")
    return path


def _copy_from_storage(name: str, target: Path) -> tuple[str, int]:
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with default_storage.open(name, "rb") as source, target.open("wb") as out:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size


# --- Versions ----------------------------------------------------------------


def app_version() -> dict[str, str | None]:
    """The package version and, when known, the git commit of the code that made the backup."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("gwangju-hub")
    except PackageNotFoundError:
        package = None
    commit = os.environ.get("GIT_COMMIT") or None
    if commit is None and shutil.which("git") and (Path(settings.BASE_DIR) / ".git").exists():
        result = subprocess.run(  # noqa: S603 - fixed arguments
            ["git", "-C", str(settings.BASE_DIR), "rev-parse", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=10,
        )
        commit = result.stdout.strip() or None if result.returncode == 0 else None
    return {"version": package, "git_commit": commit}


def _major(version_output: str) -> int:
    """15 from "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"."""
    match = re.search(r"\)\s*(\d+)", version_output) or re.search(r"(\d+)", version_output)
    if not match:
        raise BackupError(f"Cannot read a version from {version_output!r}")
    return int(match.group(1))


def pg_tool(name: str) -> tuple[str, int, str]:
    """Path, major version and version text of ``pg_dump``/``pg_restore``; BackupError if absent."""
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} was not found on PATH. Install the PostgreSQL client tools "
            f"(Debian: apt-get install postgresql-client-<server major version>)."
        )
    output = subprocess.run(  # noqa: S603 - our own tool path
        [path, "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()
    return path, _major(output), output


def pg_connection_args(alias: str = "default") -> tuple[list[str], dict[str, str]]:
    """``-h/-p/-U`` arguments and the libpq environment (PGPASSWORD, PGSSLMODE...) for a database.

    The password goes into the child's environment only, never onto the
    command line, where ``ps`` would show it to every user of the machine.
    """
    from django.db.backends.postgresql.client import DatabaseClient

    settings_dict = connections[alias].settings_dict
    args, env = DatabaseClient.settings_to_cmd_args_env(settings_dict, [])
    connection_args = args[1:]
    if settings_dict.get("NAME"):
        connection_args = connection_args[:-1]  # the trailing database name
    child_env = {**os.environ, **(env or {})}
    return connection_args, child_env


# --- Backup ------------------------------------------------------------------


@dataclass
class _FileEntry:
    path: str
    sha256: str
    size: int
    storage_name: str | None = None

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": self.path, "sha256": self.sha256, "size": self.size}
        if self.storage_name is not None:
            entry["storage_name"] = self.storage_name
        return entry


def _prepare_directory(directory: Path) -> None:
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty; give a new directory for each backup.")
    # A backup holds every user's data: readable by its owner only.
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)


def _backup_postgresql(directory: Path, out: TextIO) -> tuple[dict[str, Any], dict, set[str]]:
    pg_dump, dump_major, dump_version = pg_tool("pg_dump")
    connection.ensure_connection()
    server_major = connection.pg_version // 10000
    if dump_major < server_major:
        raise BackupError(
            f"pg_dump {dump_major} cannot dump a PostgreSQL {server_major} server; install "
            f"the client tools of version {server_major} or newer."
        )
    tables = model_tables()
    target = directory / PG_DUMP_FILE
    args, env = pg_connection_args()
    # A connection of our own, so the snapshot transaction is not mixed with
    # anything Django's connection does.
    raw = connection.get_new_connection(connection.get_connection_params())
    try:
        raw.autocommit = True
        with raw.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            counts = count_rows(cursor, connection.ops.quote_name, tables)
            referenced = referenced_file_names(cursor, connection.ops.quote_name)
            # The exporting transaction stays open until pg_dump is done with it.
            result = subprocess.run(  # noqa: S603 - our own tool path and arguments
                [
                    pg_dump,
                    *args,
                    "--no-password",
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--file={target}",
                    connection.settings_dict["NAME"],
                ],
                env=env,
                capture_output=True,
                text=True,
            )
            cursor.execute("COMMIT")
    finally:
        raw.close()
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed (exit {result.returncode}): {result.stderr.strip()}")
    database = {
        "vendor": "postgresql",
        "server_major": server_major,
        "file": PG_DUMP_FILE,
        "tool": dump_version,
        "tool_major": dump_major,
        "consistency": "row counts and pg_dump share one exported REPEATABLE READ snapshot",
    }
    return database, counts, referenced


def _backup_sqlite(directory: Path, out: TextIO) -> tuple[dict[str, Any], dict, set[str]]:
    source_path = connection.settings_dict["NAME"]
    target = directory / SQLITE_FILE
    source = sqlite3.connect(source_path, timeout=30)
    copy = sqlite3.connect(target)
    try:
        # The online backup API copies a consistent state even while the app
        # writes (it restarts when the source changes under it).
        source.backup(copy)
        cursor = copy.cursor()
        counts = count_rows(cursor, connection.ops.quote_name, model_tables())
        referenced = referenced_file_names(cursor, connection.ops.quote_name)
    finally:
        copy.close()
        source.close()
    database = {
        "vendor": "sqlite",
        "file": SQLITE_FILE,
        "tool": f"sqlite3 {sqlite3.sqlite_version} online backup API",
        "consistency": "row counts are read from the copy itself",
    }
    return database, counts, referenced


def create_backup(directory: Path, out: TextIO) -> dict[str, Any]:
    """Write a complete backup into ``directory`` (new or empty) and return its manifest."""
    directory = Path(directory)
    vendor = connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise BackupError(f"Backups support PostgreSQL and SQLite, not {vendor}.")
    missing_tables = sorted(
        set(model_tables().values()) - set(connection.introspection.table_names())
    )
    if missing_tables:
        raise BackupError(
            f"The database has no table {missing_tables[0]} (and {len(missing_tables) - 1} "
            "more): run `manage.py migrate` with this code first."
        )
    _prepare_directory(directory)
    try:
        return _write_backup(directory, vendor, out)
    except BaseException:
        # The directory was empty: leave it so, ready for another try.
        for child in directory.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise


def _write_backup(directory: Path, vendor: str, out: TextIO) -> dict[str, Any]:
    created_at = datetime.now(UTC)
    if vendor == "postgresql":
        database, counts, referenced = _backup_postgresql(directory, out)
    else:
        database, counts, referenced = _backup_sqlite(directory, out)
    digest, size = sha256_of(directory / database["file"])
    entries = [_FileEntry(database["file"], digest, size)]
    out.write(f"Database ({vendor}): {sum(counts.values())} rows, {size} bytes\n")

    names = set(walk_storage(ATTACHMENTS_PREFIX))
    missing = sorted(name for name in referenced - names if not default_storage.exists(name))
    names |= referenced - set(missing)
    for name in sorted(names):
        relative = FILES_DIR / safe_relative(name)
        digest, size = _copy_from_storage(name, directory / relative)
        entries.append(_FileEntry(str(relative), digest, size, storage_name=name))
    if missing:
        out.write(
            f"WARNING: {len(missing)} file(s) referenced by the database are missing from "
            f"storage and are not in this backup: {', '.join(missing[:5])}\n"
        )
    file_bytes = sum(entry.size for entry in entries[1:])
    out.write(f"Files: {len(entries) - 1} ({file_bytes} bytes)\n")

    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": created_at.isoformat(),
        "app": app_version(),
        "database": database,
        "row_counts": counts,
        "tables": model_tables(),
        "files": [entry.as_json() for entry in entries],
        "missing_files": missing,
    }
    _write_json_atomically(directory / MANIFEST, manifest)
    return manifest


def _write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".manifest-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


# --- Restore -----------------------------------------------------------------


def read_manifest(directory: Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise BackupError(f"{path} not found: not a backup directory, or an unfinished backup.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(f"{path} is not valid JSON: {error}") from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"{path} is not a {FORMAT} manifest of version {FORMAT_VERSION} "
            f"(found {manifest.get('format')!r} version {manifest.get('format_version')!r})."
        )
    return manifest


def verify_backup(directory: Path) -> dict[str, Any]:
    """Check every file of the backup against the manifest; BackupError naming each mismatch."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    problems = []
    database_file = manifest["database"]["file"]
    if database_file not in {entry["path"] for entry in manifest["files"]}:
        problems.append(f"the manifest lists no checksum for {database_file}")
    for entry in manifest["files"]:
        path = directory / safe_relative(entry["path"])
        if entry.get("storage_name") is not None:
            safe_relative(entry["storage_name"])
        if not path.is_file():
            problems.append(f"{entry['path']}: missing")
            continue
        digest, size = sha256_of(path)
        if size != entry["size"] or digest != entry["sha256"]:
            problems.append(
                f"{entry['path']}: SHA-256 {digest[:12]}… ({size} bytes), "
                f"manifest says {entry['sha256'][:12]}… ({entry['size']} bytes)"
            )
    if problems:
        raise BackupError(
            "The backup does not match its manifest; nothing was restored:\n  "
            + "\n  ".join(problems)
        )
    return manifest


def tables_with_rows() -> dict[str, int]:
    """Rows in this project's own tables that exist in the configured database."""
    ours = project_app_labels()
    existing = set(connection.introspection.table_names())
    tables = {
        model._meta.label: model._meta.db_table
        for model in counted_models()
        if model._meta.app_label in ours and model._meta.db_table in existing
    }
    with connection.cursor() as cursor:
        counts = count_rows(cursor, connection.ops.quote_name, tables)
    return {label: rows for label, rows in counts.items() if rows}


def _restore_postgresql(directory: Path, manifest: dict[str, Any]) -> None:
    pg_restore, restore_major, _ = pg_tool("pg_restore")
    dump_major = manifest["database"].get("tool_major", 0)
    if restore_major < dump_major:
        raise BackupError(
            f"pg_restore {restore_major} cannot read an archive written by pg_dump "
            f"{dump_major}; install the client tools of version {dump_major} or newer."
        )
    args, env = pg_connection_args()
    connections.close_all()  # our own open transaction would block the DROPs
    result = subprocess.run(  # noqa: S603 - our own tool path and arguments
        [
            pg_restore,
            *args,
            "--no-password",
            "--clean",
            "--if-exists",
            # The dump's owners and grants name roles of the source server,
            # which the target need not have.
            "--no-owner",
            "--no-privileges",
            # All or nothing: a failure leaves the database as it was.
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={connection.settings_dict['NAME']}",
            str(directory / manifest["database"]["file"]),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BackupError(
            f"pg_restore failed (exit {result.returncode}); the database was left as it "
            f"was: {result.stderr.strip()}"
        )


def _restore_sqlite(directory: Path, manifest: dict[str, Any]) -> None:
    target_path = Path(connection.settings_dict["NAME"])
    target_path.parent.mkdir(parents=True, exist_ok=True)
    connections.close_all()
    source = sqlite3.connect(f"file:{directory / manifest['database']['file']}?mode=ro", uri=True)
    target = sqlite3.connect(target_path, timeout=30)
    try:
        # The backup API in reverse: it replaces the target's pages under
        # SQLite's own locking, so a WAL file or a reader cannot see a
        # half-copied database, which copying the file over it could cause.
        source.backup(target)
    finally:
        target.close()
        source.close()


def _restore_files(directory: Path, manifest: dict[str, Any], out: TextIO) -> int:
    restored = 0
    for entry in manifest["files"]:
        name = entry.get("storage_name")
        if name is None:
            continue
        if default_storage.exists(name):
            if storage_sha256(name) == (entry["sha256"], entry["size"]):
                continue  # already there, byte for byte
            default_storage.delete(name)
        with (directory / entry["path"]).open("rb") as handle:
            saved = default_storage.save(name, File(handle, name=name))
        if saved != name:
            raise BackupError(f"The storage saved {name} as {saved}; restore it by hand.")
        restored += 1
    return restored


def verify_restored(manifest: dict[str, Any]) -> list[str]:
    """Differences between the configured database and storage and the manifest."""
    problems = []
    tables = manifest["tables"]
    existing = set(connection.introspection.table_names())
    absent = sorted(label for label, table in tables.items() if table not in existing)
    problems.extend(f"{label}: table {tables[label]} is missing" for label in absent)
    with connection.cursor() as cursor:
        counts = count_rows(
            cursor,
            connection.ops.quote_name,
            {label: table for label, table in tables.items() if label not in absent},
        )
    for label, rows in counts.items():
        expected = manifest["row_counts"][label]
        if rows != expected:
            problems.append(f"{label}: {rows} rows, manifest says {expected}")
    for entry in manifest["files"]:
        name = entry.get("storage_name")
        if name is None:
            continue
        if not default_storage.exists(name):
            problems.append(f"{name}: missing from storage")
        elif storage_sha256(name) != (entry["sha256"], entry["size"]):
            problems.append(f"{name}: SHA-256 differs from the manifest")
    return problems


def restore_backup(directory: Path, *, force: bool, out: TextIO) -> dict[str, Any]:
    """Verify, restore and re-verify a backup; BackupError (nothing written) on a bad backup."""
    directory = Path(directory)
    manifest = verify_backup(directory)
    out.write(f"Backup verified: {len(manifest['files'])} files match the manifest\n")
    vendor = manifest["database"]["vendor"]
    if vendor != connection.vendor:
        raise BackupError(
            f"This is a {vendor} backup; the configured database is {connection.vendor}."
        )
    try:
        connection.ensure_connection()
    except DatabaseError as error:
        raise BackupError(
            f"Cannot connect to the database {connection.settings_dict['NAME']} ({error}). "
            "Create it first (PostgreSQL: createdb), then run restore again."
        ) from None
    occupied = tables_with_rows()
    if occupied and not force:
        listed = ", ".join(f"{label} ({rows})" for label, rows in sorted(occupied.items())[:6])
        raise BackupError(
            f"The database {connection.settings_dict['NAME']} already holds data: {listed}. "
            "Restore into a new, empty database, or pass --force to replace what is there."
        )

    if vendor == "postgresql":
        _restore_postgresql(directory, manifest)
    else:
        _restore_sqlite(directory, manifest)
    out.write(f"Database restored from {manifest['database']['file']}\n")
    restored = _restore_files(directory, manifest, out)
    out.write(f"Files restored: {restored} written\n")

    problems = verify_restored(manifest)
    if problems:
        raise BackupError(
            "The restored data does not match the manifest:\n  " + "\n  ".join(problems)
        )
    rows = sum(manifest["row_counts"].values())
    out.write(
        f"Verified: {len(manifest['row_counts'])} tables ({rows} rows) and "
        f"{len(manifest['files']) - 1} files match the manifest\n"
    )
    return manifest
