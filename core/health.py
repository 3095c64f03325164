"""Checks of the services Gwangju Hub needs, answered within a deadline (``/healthz``).

A load balancer or an uptime monitor polls ``/healthz`` often, so each check
is cheap (one ``SELECT 1``, one Redis ``PING`` on a pooled connection) and the
whole probe answers within ``DEADLINE_SECONDS`` whatever is down: a *refused*
service fails at once, but a *hung* one (Redis stopped with SIGSTOP, a full
network buffer) would block a plain call forever. So the broker check runs
in a small pool of threads, and whatever has not answered by the deadline is
reported as down. The database check runs in the request's own thread, on
its persistent connection.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.db import connection

DEADLINE_SECONDS = 2.5
# Redis's own timeouts, shorter than the deadline so a hung Redis is reported
# by the check itself ("TimeoutError") rather than by the deadline.
REDIS_TIMEOUT_SECONDS = 1.5

# A few threads: a check stuck on a hung service holds one until its own
# timeout, and the next probe still finds a free one.
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="healthz")


def check_database() -> str | None:
    """Return None when the database answers a query, else why not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return type(exc).__name__
    return None


@functools.cache
def _redis_client(url: str):
    """One client (and connection pool) per process, reused by every probe."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        # redis-py retries timeouts three times by default: a probe must not.
        retry=Retry(NoBackoff(), 0),
    )


def check_broker() -> str | None:
    """Return None when the Celery broker answers, else why not.

    Redis: a PING on a pooled connection with short timeouts. The embedded
    filesystem broker: its queue folder exists and is writable.
    """
    url = settings.CELERY_BROKER_URL
    try:
        if url.startswith(("redis://", "rediss://", "unix://")):
            _redis_client(url).ping()
        elif url.startswith("filesystem://"):
            folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
            if not os.access(folder, os.W_OK):
                return "NotWritable"
        else:
            return "UnsupportedBroker"  # settings configure Redis or the filesystem only
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return type(exc).__name__
    return None


def run_checks(
    checks: dict[str, Callable[[], str | None]], deadline: float = DEADLINE_SECONDS
) -> dict[str, str | None]:
    """Run the checks side by side; one that has not answered by the deadline is down."""
    started = time.monotonic()
    futures = {name: _pool.submit(check) for name, check in checks.items()}
    results: dict[str, str | None] = {}
    for name, future in futures.items():
        remaining = max(0.0, deadline - (time.monotonic() - started))
        try:
            results[name] = future.result(timeout=remaining)
        except FutureTimeout:
            results[name] = "Timeout"
    return results
