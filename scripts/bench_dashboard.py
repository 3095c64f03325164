"""Time the uncached dashboard in-process: `python scripts/bench_dashboard.py [-n 30] [--profile]`.

Signs in as the Mayor's office demo user (``mayor1``, else the first
``mayor_office`` user) with Django's test client, under production-like
settings (``DEBUG=0``, Redis cache), against the benchmark data set that
``make bench`` loads (``gwangju_bench``: 20,000 issues, 100,000 comments).
The cache is cleared before every request, so each one computes every figure.
Prints the median and p95 wall time of N requests and the query count; with
``--profile``, a cProfile of one more uncached request (top 15 by cumulative
time).

The database is only read: the session lives in a signed cookie, signing in
runs in a transaction that is rolled back (``last_login``, django-axes' access
log), and every request runs in a read-only transaction that is rolled back,
so a write anywhere would fail loudly instead of changing the data set another
benchmark measures.

Environment (defaults in brackets):
    DATABASE_URL  [postgres://postgres@127.0.0.1:5432/gwangju_bench]
    REDIS_URL     [redis://127.0.0.1:6379/14]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import secrets
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
URL = "/dashboard/"


def configure() -> None:
    """Production settings as ``scripts/bench.py`` sets them, pointed at the bench data set."""
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gwangju_bench")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    os.environ.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        SECURE_HSTS_SECONDS="0",
        VAR_DIR=str(BASE_DIR / "var" / "bench-dashboard"),
        EMAIL_URL="consolemail://",
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"),
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gwangju_hub.settings")
    sys.path.insert(0, str(BASE_DIR))
    import django
    from django.conf import settings

    django.setup()
    from django.core.management import call_command

    # Production serves hashed static names from a manifest; build it in VAR_DIR.
    call_command("collectstatic", interactive=False, verbosity=0)
    # A signed-cookie session: signing in writes no session row.
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"


def signed_in_client():
    from django.contrib.auth import user_logged_in
    from django.contrib.auth.models import update_last_login
    from django.db import transaction
    from django.test import Client

    from agencies.models import Role, User

    user = (
        User.objects.filter(username="mayor1").first()
        or User.objects.filter(role=Role.MAYOR_OFFICE, is_active=True).order_by("pk").first()
    )
    if user is None:
        sys.exit("no Mayor's office user in this database: load the benchmark data set first")
    user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
    client = Client(HTTP_HOST="127.0.0.1")
    # Signing in writes through signal receivers (django-axes logs each login):
    # in a transaction rolled back, so none of it reaches the data set.
    with transaction.atomic():
        client.force_login(user)
        transaction.set_rollback(True)
    return client, user


class ReadOnly:
    """Each request in a read-only transaction, rolled back; counts and times its queries."""

    def __init__(self) -> None:
        self.queries = 0
        self.statements: list[tuple[float, str]] = []

    def __enter__(self):
        from django.db import connection, transaction

        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION READ ONLY")
        self.wrapper = connection.execute_wrapper(self._count)
        self.wrapper.__enter__()
        return self

    def _count(self, execute, sql, params, many, context):
        self.queries += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.statements.append((time.perf_counter() - started, sql))

    def __exit__(self, *exc):
        from django.db import transaction

        self.wrapper.__exit__(*exc)
        transaction.set_rollback(True)
        self.atomic.__exit__(*exc)
        return False


def uncached_get(client) -> tuple[float, int]:
    """(seconds, queries) of one request after clearing the cache."""
    from django.core.cache import cache

    cache.clear()
    with ReadOnly() as counter:
        started = time.perf_counter()
        response = client.get(URL)
        elapsed = time.perf_counter() - started
    if response.status_code != 200:
        sys.exit(f"{URL} answered {response.status_code}")
    return elapsed, counter.queries


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with ``fraction`` of them at or below it."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def _where(filename: str, lineno: int, name: str) -> str:
    where = f"{filename}:{lineno}({name})"
    return where.replace(str(BASE_DIR) + "/", "").split("/site-packages/")[-1]


def profile(client, limit: int = 15) -> list[str]:
    """cProfile of one uncached request: project code by cumulative time, then any code
    by its own time, then the slowest SQL statements (timed without the profiler)."""
    from django.core.cache import cache

    cache.clear()
    profiler = cProfile.Profile()
    with ReadOnly():
        profiler.enable()
        client.get(URL)
        profiler.disable()
    rows = [
        (where, calls, own, cumulative)
        for where, (_, calls, own, cumulative, _) in pstats.Stats(profiler).stats.items()
    ]
    # Middleware layers each "take" the whole request; the view and below say where it goes.
    ours = [
        r
        for r in rows
        if r[0][0].startswith(str(BASE_DIR))
        and "/.venv/" not in r[0][0]
        and "middleware" not in r[0][0]
        and not r[0][0].endswith("bench_dashboard.py")
    ]
    ours.sort(key=lambda r: r[3], reverse=True)
    rows.sort(key=lambda r: r[2], reverse=True)
    lines = ["cProfile (roughly doubles Python's time)", "cumulative ms   calls  project code"]
    lines += [f"{r[3] * 1000:13.1f} {r[1]:>7}  {_where(*r[0])}" for r in ours[:limit]]
    lines += ["", "   own ms       calls  any code, by time in the function itself"]
    lines += [f"{r[2] * 1000:13.1f} {r[1]:>7}  {_where(*r[0])}" for r in rows[:limit]]
    cache.clear()
    with ReadOnly() as timed:
        client.get(URL)
    lines += ["", "      SQL ms  statements, slowest first (without cProfile)"]
    for elapsed, sql in sorted(timed.statements, reverse=True):
        lines.append(f"{elapsed * 1000:12.1f}  {' '.join(sql.split())[:140]}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="measured requests (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured requests first")
    parser.add_argument("--profile", action="store_true", help="print a cProfile top 15")
    args = parser.parse_args()

    configure()
    from django.db import connection

    client, user = signed_in_client()
    for _ in range(args.warmup):
        uncached_get(client)
    timings, counts = [], set()
    for _ in range(args.n):
        elapsed, queries = uncached_get(client)
        timings.append(elapsed * 1000)
        counts.add(queries)
    database = connection.settings_dict["NAME"]
    print(
        f"{URL} uncached as {user.username}, {args.n} requests on {database}: "
        f"median {statistics.median(timings):.1f} ms, p95 {percentile(timings, 0.95):.1f} ms, "
        f"min {min(timings):.1f} ms, queries {'/'.join(map(str, sorted(counts)))}"
    )
    if args.profile:
        print("\n".join(profile(client)))


if __name__ == "__main__":
    main()
