"""Logs an operator can search: one JSON object per line in production, text in development.

Every record logged while a request (or a Celery task) is being handled
carries its request id (or task id) and the user's id, through a
``contextvars.ContextVar`` set by :class:`RequestLogMiddleware` (or the
Celery signals in :mod:`core.tasklogs`). Context variables, unlike
thread-locals, follow the work into async code and stay separate per thread.

The standard library does this in a few dozen lines (a Formatter and a
Filter), so there is no logging dependency to keep up to date; the line format
is the usual one of log shippers (Loki, Elasticsearch, CloudWatch): flat keys,
ISO 8601 time, ``message`` as text.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

from core import metrics

# The request being handled in this context (None outside one), and the task.
current_request: ContextVar[HttpRequest | None] = ContextVar("current_request", default=None)
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)
current_task: ContextVar[tuple[str, str] | None] = ContextVar("current_task", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is kept only when it is a plain token: a proxy's UUID or
# hex id passes, anything that could forge a log line or a header does not.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,99}")

request_logger = logging.getLogger("gwangju_hub.requests")

# Attributes every LogRecord has; anything else on a record came from `extra=`.
# `request` (Django's extra) is left out: request_id and path say it better.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "request",
    "context",
}
_CONTEXT = ("request_id", "user_id", "task_id", "task")


def _user_id(request: HttpRequest | None) -> int | None:
    """The signed-in user's id, without loading the user just to log it."""
    if request is None:
        return None
    user = request.__dict__.get("user")
    if user is None:
        return None
    # request.user is a lazy object until something asks for it; asking here
    # would query the database from inside a log call.
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is None or wrapped is empty:
        return None
    return getattr(wrapped, "pk", None) if getattr(wrapped, "is_authenticated", False) else None


class ContextFilter(logging.Filter):
    """Adds request_id, user_id (and task_id, task in a worker) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Django logs 4xx/5xx answers ("Not Found: /x") after the middleware
        # has returned, but hands the request along as `extra`.
        request = getattr(record, "request", None)
        if not isinstance(request, HttpRequest):
            request = current_request.get()
        if getattr(record, "request_id", None) is None:
            record.request_id = getattr(request, "request_id", None) or current_request_id.get()
        if getattr(record, "user_id", None) is None:
            record.user_id = _user_id(request)
        task = current_task.get()
        if task is not None and getattr(record, "task_id", None) is None:
            record.task_id, record.task = task
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in _CONTEXT:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in _CONTEXT and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.stack_info:
            entry["stack"] = record.stack_info
        # ensure_ascii=False keeps Korean readable; default=str keeps odd extras from
        # turning a log call into an exception.
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Development: the usual readable line, with the request id when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(context)s%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or getattr(record, "task_id", None)
        record.context = f"[{request_id[:8]}] " if request_id else ""
        return super().format(record)


def incoming_request_id(request: HttpRequest) -> str:
    """The proxy's X-Request-ID when it is a sane token, else a new random one."""
    candidate = request.headers.get(REQUEST_ID_HEADER, "")
    if _SANE_REQUEST_ID.fullmatch(candidate):
        return candidate
    return secrets.token_hex(16)


class RequestLogMiddleware:
    """Gives each request an id, logs one line when it is answered, and times it.

    Goes first in MIDDLEWARE, so the line and the metrics cover every answer,
    the security redirects and the 404s included. The timing ends when the
    response is returned; a streamed download goes on after that.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = incoming_request_id(request)
        request.request_id = request_id
        id_token = current_request_id.set(request_id)
        request_token = current_request.set(request)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            duration = time.perf_counter() - started
            response[REQUEST_ID_HEADER] = request_id
            view = metrics.view_label(request)
            metrics.observe_request(view, request.method or "", response.status_code, duration)
            request_logger.info(
                "%s %s %s %.0fms",
                request.method,
                request.path,
                response.status_code,
                duration * 1000,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "view": view,
                    "status": response.status_code,
                    "duration_ms": round(duration * 1000, 1),
                    "user_id": _user_id(request),
                },
            )
            return response
        finally:
            current_request.reset(request_token)
            current_request_id.reset(id_token)
