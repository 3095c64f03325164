"""Celery workers log like the web: the same handlers and format, with the task's id.

Connected from gwangju_hub/apps.py (``ready()``), which the worker runs when
it sets Django up. ``setup_logging`` having a receiver tells Celery not to
install its own handlers and formats: Django's LOGGING (settings.py) is then
the only logging configuration of every process.
"""

from __future__ import annotations

import logging.config
from typing import Any

from celery import signals
from django.conf import settings

from core import metrics
from core.logs import current_task

_tokens: dict[str, Any] = {}


@signals.setup_logging.connect
def _use_django_logging(**kwargs: Any) -> None:
    logging.config.dictConfig(settings.LOGGING)


@signals.task_prerun.connect
def _task_started(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    if task_id:
        _tokens[task_id] = current_task.set((task_id, getattr(task, "name", "")))


@signals.task_postrun.connect
def _task_finished(task_id: str | None = None, **kwargs: Any) -> None:
    token = _tokens.pop(task_id, None) if task_id else None
    if token is not None:
        current_task.reset(token)


signals.task_failure.connect(metrics.task_failure_handler, weak=False)
