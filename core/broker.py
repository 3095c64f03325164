"""Queue a Celery task after commit as a speed-up that may fail.

Whatever a user is owed after a change is written to the database in the
same transaction; a periodic sweep delivers it. Telling a worker "there is
work" right after commit only makes delivery quicker, so it must never fail
the request that made the change, nor make it wait on a broker that is down:

- every error of the publish is caught and logged;
- the request waits at most ``WAIT`` seconds for the publish (which goes on
  in a thread of its own, bounded by the Redis timeouts in settings);
- after a failure, this process stops trying for ``PAUSE`` seconds (a tiny
  circuit breaker), so a dead or hung broker costs one short wait, not one
  per request;
- the same task is queued at most once per transaction, however many rows
  the transaction wrote;
- the task's result is not stored: nobody waits for it, and with Redis as
  the result backend, asking for a result would connect to Redis a second
  time (and, with Celery's defaults, retry for 20 s).

Imports no app of ours (see core/__init__.py).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction

logger = logging.getLogger(__name__)

# How long a process leaves the broker alone after a failed publish. Short
# enough that kicks resume soon after the broker is back; beat's periodic run
# delivers in the meantime.
PAUSE = 30.0
# How long a request waits for a publish. A healthy broker takes milliseconds;
# anything slower is treated as down, so no page waits on it (CONTRACT.md).
WAIT = 0.5


class _Breaker:
    """Open (skip publishing) for ``PAUSE`` seconds after a failure; per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open_until = 0.0

    def is_open(self) -> bool:
        with self._lock:
            return time.monotonic() < self._open_until

    def trip(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + PAUSE

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0


breaker = _Breaker()


def enqueue(task, *args: Any) -> bool:
    """Publish ``task(*args)``; True if the broker took it within ``WAIT`` seconds.

    Never raises. The publish runs in a thread of its own and the caller waits
    at most ``WAIT`` seconds for it: a working broker answers in a few
    milliseconds, a hung one would hold the request for the whole socket
    timeout. A failure, or a publish still waiting at ``WAIT``, is logged and
    opens the breaker; a late publish finishes (or times out) in its thread.
    """
    name = getattr(task, "name", repr(task))
    if breaker.is_open():
        logger.info("broker paused after a recent failure: %s not queued", name)
        return False
    started = time.monotonic()
    done = threading.Event()
    outcome: dict[str, bool] = {}

    def publish() -> None:
        try:
            task.apply_async(args=args, ignore_result=True)
        except Exception as error:
            breaker.trip()
            logger.warning(
                "could not queue %s (%.1f s): %s: %s; pausing publishes for %d s",
                name,
                time.monotonic() - started,
                type(error).__name__,
                error,
                PAUSE,
            )
        else:
            outcome["queued"] = True
        finally:
            done.set()

    threading.Thread(target=publish, name=f"publish {name}", daemon=True).start()
    if not done.wait(WAIT):
        breaker.trip()
        logger.warning(
            "could not queue %s within %.1f s (broker slow or hung); pausing publishes for %d s",
            name,
            WAIT,
            PAUSE,
        )
        return False
    return outcome.get("queued", False)


class _Enqueue:
    """The on-commit callback; equal callbacks are queued once per transaction."""

    def __init__(self, task, args: tuple) -> None:
        self.task = task
        self.args = args

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _Enqueue)
            and getattr(other.task, "name", other.task) == getattr(self.task, "name", self.task)
            and other.args == self.args
        )

    __hash__ = None  # mutable-looking and compared by value: not a dict key

    def __call__(self) -> None:
        enqueue(self.task, *self.args)


def enqueue_on_commit(task, *args: Any, using: str | None = None) -> None:
    """Publish ``task(*args)`` once the current transaction commits (at once outside one).

    Called several times in one transaction with the same task and
    arguments, it publishes once. If the transaction (or the savepoint that
    registered it) rolls back, nothing is published.
    """
    callback = _Enqueue(task, args)
    connection = connections[using or DEFAULT_DB_ALIAS]
    # Django keeps the pending callbacks as (savepoint ids, callback, robust);
    # a rolled-back savepoint's callbacks are dropped from this list.
    if connection.in_atomic_block and any(
        pending[1] == callback for pending in connection.run_on_commit
    ):
        return
    # robust: even if publishing raised (it does not), the request would not.
    transaction.on_commit(callback, using=using, robust=True)
