"""The cache as a speed-up that may fail.

With Redis refused, every cache call raises; with Redis hung, every call
waits for the socket timeout first. A page that caches must then compute
without the cache, and must not pay that timeout on every request: after a
failure the cache is skipped for ``PAUSE_SECONDS`` (a small circuit breaker,
per process), so only the first request after an outage waits.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.cache import cache

logger = logging.getLogger(__name__)

PAUSE_SECONDS = 30.0

_lock = threading.Lock()
_paused_until = 0.0
_MISSING = object()


def _available() -> bool:
    return time.monotonic() >= _paused_until


def _trip(operation: str, key: str, error: Exception) -> None:
    global _paused_until
    with _lock:
        _paused_until = time.monotonic() + PAUSE_SECONDS
    logger.warning(
        "cache %s of %r failed (%s: %s); working without the cache for %ds",
        operation,
        key,
        type(error).__name__,
        error,
        PAUSE_SECONDS,
    )


def reset() -> None:
    """Forget a past failure (tests; an operator who fixed the cache)."""
    global _paused_until
    with _lock:
        _paused_until = 0.0


def get(key: str, default: Any = None) -> Any:
    """``cache.get``, or ``default`` when the cache is down or paused."""
    if not _available():
        return default
    try:
        value = cache.get(key, _MISSING)
    except Exception as error:  # noqa: BLE001 - any failure of the cache means "no cache"
        _trip("get", key, error)
        return default
    return default if value is _MISSING else value


def set(key: str, value: Any, timeout: float | None) -> bool:  # noqa: A001 - mirrors cache.set
    """``cache.set``; False (and nothing raised) when the cache is down or paused."""
    if not _available():
        return False
    try:
        cache.set(key, value, timeout)
    except Exception as error:  # noqa: BLE001
        _trip("set", key, error)
        return False
    return True
