"""Liveness checks of the services Gwangju Hub needs."""

from __future__ import annotations

from django.db import connection


def check_database() -> str | None:
    """Return None when the database answers a query, else why not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return type(exc).__name__
    return None


def check_broker() -> str | None:
    """Return None when the Celery broker accepts a connection, else why not.

    Opens a real connection with a short timeout and no retries, so a stopped
    Redis shows up within a second instead of hanging the probe.
    """
    from gwangju_hub.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=2)
            if conn.transport_cls == "redis" or str(conn.transport_cls).endswith("redis"):
                conn.default_channel.client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return type(exc).__name__
    return None
