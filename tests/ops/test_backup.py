"""`manage.py backup` and `restore`: a round trip into a fresh database, refusals, tampering.

Everything runs as the operator would: `manage.py` in subprocesses, each with
its own DATABASE_URL and MEDIA_ROOT, so the source and the fresh target are
really two databases (two PostgreSQL databases on the test server, or two
SQLite files) and two attachment stores (directories, or buckets of a local
S3 server). The PostgreSQL variant runs when the suite runs against
PostgreSQL (its DATABASE_URL names the server).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings

from tests.issues import s3server

ISSUES, COMMENTS = 300, 1500

# Prints the row count of every table and the SHA-256 of every attachment,
# computed here (not by core.backup), so the test does not trust the code it tests.
INVENTORY = """
import hashlib, json, django
django.setup()
from django.apps import apps
from django.core.files.storage import default_storage
from django.db import connection
tables = set(connection.introspection.table_names())
counts = {}
for model in apps.get_models(include_auto_created=True):
    if model._meta.managed and not model._meta.proxy and model._meta.db_table in tables:
        counts[model._meta.label] = model._base_manager.count()
def walk(top):
    try:
        dirs, files = default_storage.listdir(top)
    except FileNotFoundError:
        return
    for f in files:
        yield top + "/" + f
    for d in dirs:
        yield from walk(top + "/" + d)
files = {}
for name in walk("attachments"):
    with default_storage.open(name, "rb") as handle:
        files[name] = hashlib.sha256(handle.read()).hexdigest()
print(json.dumps({"counts": counts, "files": files}))
"""

# Real attachments through the service the upload view uses, plus one orphan
# file that no row points at (a backup must still carry it).
ATTACH = """
import django
django.setup()
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from issues import services
from issues.models import Issue
from tests.issues import samples
issue = Issue.objects.order_by("pk").first()
actor = issue.created_by
for name, data in [("회의록.pdf", samples.pdf_bytes()), ("현장.png", samples.png_bytes()),
                   ("현황.csv", samples.csv_bytes())]:
    services.attachment_add(issue=issue, actor=actor, uploaded_file=SimpleUploadedFile(name, data))
default_storage.save("attachments/orphan/left-behind", ContentFile(b"no row points at me"))
"""


class Site:
    """One configuration of the app: a database and an attachment store (directory or bucket)."""

    def __init__(self, database_url: str, root: Path, storage_env: dict[str, str]) -> None:
        self.database_url = database_url
        self.media = root / "media"
        self.var = root / "var"
        self.storage_env = storage_env

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "REDIS_URL", "MEDIA_ROOT", "VAR_DIR")
            and not k.startswith("AWS_")
        }
        return {
            **env,
            "DEBUG": "1",
            "DATABASE_URL": self.database_url,
            "MEDIA_ROOT": str(self.media),
            "VAR_DIR": str(self.var),
            **self.storage_env,
        }

    def manage(self, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
        return self.python("manage.py", *args, timeout=timeout)

    def python(self, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, *args],
            env=self.env(),
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def inventory(self) -> dict:
        result = self.python("-c", INVENTORY)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


def _postgres_server() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


class Backend:
    """Makes fresh, empty databases of one kind (and buckets) and drops them afterwards."""

    def __init__(self, kind: str, tmp: Path, s3: s3server.S3Server | None = None) -> None:
        self.kind = kind
        self.tmp = tmp
        self.s3 = s3
        self.made: list[str] = []

    def new_site(self, label: str) -> Site:
        root = self.tmp / f"{label}-{secrets.token_hex(3)}"
        root.mkdir()
        storage = self.s3.env(self.s3.create_bucket()) if self.s3 else {}
        if self.kind == "sqlite":
            return Site(f"sqlite:///{root / 'db.sqlite3'}", root, storage)
        import psycopg

        name = f"gh_backup_test_{label}_{secrets.token_hex(4)}"
        with psycopg.connect(self._url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return Site(self._url(name), root, storage)

    def _url(self, name: str) -> str:
        parts = urlsplit(_postgres_server())
        return urlunsplit(parts._replace(path=f"/{name}"))

    def drop_all(self) -> None:
        if not self.made:
            return
        import psycopg

        with psycopg.connect(self._url("postgres"), autocommit=True) as conn:
            for name in self.made:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "s3"])
def backend(request, tmp_path_factory):
    """SQLite and PostgreSQL with attachments on disk; then attachments in S3.

    The S3 variant uses the suite's own database (PostgreSQL when the suite
    runs on it) and moto's S3 server, which stands in for MinIO here (see
    tests/issues/s3server.py): backup and restore read and write attachments
    only through Django's default storage, so the same code serves both.
    """
    kind = request.param
    if kind == "s3":
        kind = "postgresql" if _postgres_server() and shutil.which("pg_dump") else "sqlite"
    elif kind == "postgresql" and _postgres_server() is None:
        pytest.skip("the suite runs on SQLite (set DATABASE_URL to a PostgreSQL server)")
    elif kind == "postgresql" and shutil.which("pg_dump") is None:
        pytest.skip("pg_dump/pg_restore are not installed (Debian: postgresql-client)")
    tmp = tmp_path_factory.mktemp(f"backup-{request.param}")
    with contextlib.ExitStack() as stack:
        server = None
        if request.param == "s3":
            server = stack.enter_context(s3server.running(tmp / "moto.log"))
        made = Backend(kind, tmp, server)
        yield made
        made.drop_all()


@pytest.fixture(scope="module")
def source(backend):
    """Benchmark-shaped demo data with real attachments, backed up once."""
    site = backend.new_site("source")
    for args in (["migrate", "-v0"], ["seed_demo"], ["seed_demo", "--issues", str(ISSUES)]):
        result = site.manage(*args)
        assert result.returncode == 0, result.stderr
    result = site.manage("seed_demo", "--issues", str(ISSUES), "--comments", str(COMMENTS))
    assert result.returncode == 0, result.stderr
    result = site.python("-c", ATTACH)
    assert result.returncode == 0, result.stderr

    directory = backend.tmp / "the-backup"
    result = site.manage("backup", str(directory))
    assert result.returncode == 0, result.stderr
    return site, directory, site.inventory()


def _tampered_copy(directory: Path, tmp: Path, pick) -> Path:
    copy = tmp / f"tampered-{secrets.token_hex(3)}"
    shutil.copytree(directory, copy)
    victim = pick(copy)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01  # one byte, one bit
    victim.write_bytes(bytes(data))
    return copy


def test_a_backup_restores_into_a_fresh_database_with_every_count_and_checksum(backend, source):
    site, directory, before = source
    target = backend.new_site("fresh")

    result = target.manage("restore", str(directory))

    assert result.returncode == 0, result.stderr
    after = target.inventory()
    assert after["counts"] == before["counts"]
    assert after["files"] == before["files"]
    # The data set really was benchmark-shaped, and the orphan came along too.
    assert before["counts"]["issues.Issue"] >= ISSUES
    assert before["counts"]["issues.Comment"] >= COMMENTS
    assert before["counts"]["issues.Attachment"] == 3
    assert len(before["files"]) == 4
    assert "attachments/orphan/left-behind" in after["files"]
    # The restored database needs no migration: its schema history came along.
    check = target.manage("migrate", "--check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_manifest_describes_the_backup(source):
    site, directory, before = source

    manifest = json.loads((directory / "manifest.json").read_text())

    assert manifest["format"] == "gwangju-hub-backup" and manifest["format_version"] == 1
    assert manifest["app"]["version"] == "0.1.0"
    assert manifest["row_counts"] == before["counts"]
    files = {entry["path"]: entry for entry in manifest["files"]}
    database_file = manifest["database"]["file"]
    assert database_file in files
    for entry in files.values():
        data = (directory / entry["path"]).read_bytes()
        assert entry["size"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    stored = {e["storage_name"]: e["sha256"] for e in files.values() if "storage_name" in e}
    assert stored == before["files"]


def test_restore_refuses_a_database_that_holds_data_unless_forced(backend, source):
    site, directory, before = source
    target = backend.new_site("occupied")
    assert target.manage("restore", str(directory)).returncode == 0
    extra = target.python(
        "-c",
        "import django; django.setup(); from issues.models import Category; "
        "Category.objects.create(slug='extra', name_ko='추가', name_en='Extra')",
    )
    assert extra.returncode == 0, extra.stderr

    refused = target.manage("restore", str(directory))

    assert refused.returncode != 0
    assert "already holds data" in refused.stderr
    assert "--force" in refused.stderr
    assert (
        target.inventory()["counts"]["issues.Category"] == before["counts"]["issues.Category"] + 1
    )

    forced = target.manage("restore", str(directory), "--force")

    assert forced.returncode == 0, forced.stderr
    assert target.inventory() == before


@pytest.mark.parametrize("what", ["attachment", "database"])
def test_a_tampered_backup_is_refused_before_anything_is_written(backend, source, what):
    site, directory, before = source
    manifest = json.loads((directory / "manifest.json").read_text())
    if what == "attachment":
        victim = next(e["path"] for e in manifest["files"] if "storage_name" in e)
    else:
        victim = manifest["database"]["file"]
    tampered = _tampered_copy(directory, backend.tmp, lambda copy: copy / victim)
    target = backend.new_site("tampered")

    result = target.manage("restore", str(tampered), "--force")

    assert result.returncode != 0
    assert "does not match its manifest" in result.stderr
    assert victim in result.stderr
    assert target.inventory() == {"counts": {}, "files": {}}  # no table, no file


# Inserts a category every few milliseconds until told to stop (bounded in time).
WRITER = """
import sys, time, django
django.setup()
from pathlib import Path
from issues.models import Category
stop, deadline, n = Path(sys.argv[1]), time.monotonic() + 120, 0
while not stop.exists() and time.monotonic() < deadline:
    n += 1
    Category.objects.create(slug=f"w-{n}", name_ko=f"쓰기 {n}", name_en=f"write {n}")
    time.sleep(0.005)
"""


def test_a_backup_taken_while_the_app_writes_is_consistent(backend, source, tmp_path):
    """The counts in the manifest and the dump are one snapshot, so restore verifies."""
    import time

    site, _, _ = source
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(stop)],
        env=site.env(),
        cwd=settings.BASE_DIR,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)  # the writer is up and writing
        directory = tmp_path / "during-writes"
        result = site.manage("backup", str(directory))
        time.sleep(0.5)
    finally:
        stop.touch()
        _, errors = writer.communicate(timeout=60)
    assert result.returncode == 0, result.stderr
    assert writer.returncode == 0, errors
    manifest = json.loads((directory / "manifest.json").read_text())
    written_after = site.inventory()["counts"]["issues.Category"]
    assert manifest["row_counts"]["issues.Category"] < written_after  # writes went on

    target = backend.new_site("during-writes")
    restored = target.manage("restore", str(directory))

    assert restored.returncode == 0, restored.stderr  # every count matched the manifest
    assert "Verified:" in restored.stdout


def test_backup_will_not_write_into_a_directory_that_is_not_empty(source, tmp_path):
    site, directory, before = source
    (tmp_path / "something").write_text("already here")

    result = site.manage("backup", str(tmp_path))

    assert result.returncode != 0
    assert "is not empty" in result.stderr


def test_restore_of_a_directory_without_a_manifest_is_refused(source, tmp_path):
    site, directory, before = source

    result = site.manage("restore", str(tmp_path))

    assert result.returncode != 0
    assert "manifest.json not found" in result.stderr


def test_an_old_pg_dump_is_refused_with_the_version_to_install(backend, source, tmp_path):
    if backend.kind != "postgresql" or backend.s3:
        pytest.skip("pg_dump is PostgreSQL's (and once is enough)")
    site, _, _ = source
    fake = tmp_path / "bin" / "pg_dump"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    fake.chmod(0o755)
    env = site.env()
    env["PATH"] = f"{fake.parent}:{env['PATH']}"

    result = subprocess.run(
        [sys.executable, "manage.py", "backup", str(tmp_path / "b")],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "pg_dump 9 cannot dump a PostgreSQL" in result.stderr
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


def test_versions_are_read_from_the_tools_banner():
    from core.backup import _major

    assert _major("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)") == 15
    assert _major("pg_restore (PostgreSQL) 17.2") == 17
    assert _major("pg_dump (PostgreSQL) 9.6.24") == 9
