"""Prometheus metrics at ``/metrics``, for whoever holds ``METRICS_TOKEN``.

Built on ``prometheus_client`` directly rather than django-prometheus: the
request metrics come from the one middleware that already times every
request for the log line (core.logs), the endpoint needs its own bearer-token
check anyway, and django-prometheus's database/cache/model wrappers are more
metrics than an operator of this app reads. What is here:

* ``gwangju_http_requests_total`` and ``gwangju_http_request_duration_seconds``
  by view (the URL name, never the raw path), method and status;
* ``gwangju_celery_task_failures_total`` by task, counted in the worker;
* ``gwangju_outbox_deliveries_sent_total`` / ``..._failed_total`` by purpose,
  for the outbox code to increment (:func:`delivery_sent`, :func:`delivery_failed`);
* whatever the callables given to :func:`register_gauge_collector` yield,
  evaluated at scrape time (outbox backlog and age).

Web and worker are different processes (gunicorn forks several). With
``PROMETHEUS_MULTIPROC_DIR`` set to a directory that all of them share (and
that is emptied when the service starts), every process writes its counters
there and a scrape of any web process sums them: this is prometheus_client's
multiprocess mode, and it is how a task failure in the worker reaches
``/metrics``. Without it each process counts alone, which is right for a
single process (tests, ``runserver``) only.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric

logger = logging.getLogger(__name__)

HTTP_REQUESTS = Counter(
    "gwangju_http_requests",
    "Requests answered, by view (URL name), method and status.",
    ["view", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "gwangju_http_request_duration_seconds",
    "Time from the request reaching Django to the response leaving it.",
    ["view", "method", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CELERY_TASK_FAILURES = Counter(
    "gwangju_celery_task_failures",
    "Celery tasks that raised, by task name.",
    ["task"],
)
OUTBOX_DELIVERIES_SENT = Counter(
    "gwangju_outbox_deliveries_sent",
    "Outbox rows delivered (reminders, notification e-mails, digests), by purpose.",
    ["purpose"],
)
OUTBOX_DELIVERIES_FAILED = Counter(
    "gwangju_outbox_deliveries_failed",
    "Outbox delivery attempts that failed (to be retried or given up), by purpose.",
    ["purpose"],
)

_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def view_label(request: HttpRequest) -> str:
    """The URL name of the view that answered; one label per route, not per URL."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "<unresolved>"  # a 404 of no route, or answered before routing (redirects)
    return match.view_name or match._func_path


def observe_request(view: str, method: str, status: int, seconds: float) -> None:
    method = method if method in _METHODS else "other"
    HTTP_REQUESTS.labels(view, method, str(status)).inc()
    HTTP_LATENCY.labels(view, method, str(status)).observe(seconds)


def delivery_sent(purpose: str) -> None:
    OUTBOX_DELIVERIES_SENT.labels(purpose).inc()


def delivery_failed(purpose: str) -> None:
    OUTBOX_DELIVERIES_FAILED.labels(purpose).inc()


def task_failure_handler(sender: Any = None, **kwargs: Any) -> None:
    """Celery ``task_failure`` receiver (connected in core.tasklogs): count it."""
    name = getattr(sender, "name", None) or "unknown"
    CELERY_TASK_FAILURES.labels(name).inc()


# --- Gauges evaluated at scrape time ----------------------------------------

GaugeCollector = Callable[[], Iterable[Metric]]
_gauge_collectors: list[GaugeCollector] = []


def register_gauge_collector(collector: GaugeCollector) -> GaugeCollector:
    """Add a callable that yields metric families, called on every scrape.

    For values that live in the database (outbox backlog and age) rather than
    in a process: the scrape asks for them, so every web node reports the
    same truth. Usable as a decorator::

        @register_gauge_collector
        def outbox_backlog():
            gauge = GaugeMetricFamily("gwangju_outbox_backlog", "Due rows", labels=["purpose"])
            for purpose, count in ...:
                gauge.add_metric([purpose], count)
            yield gauge

    A collector that raises is logged and reported as
    ``gwangju_metrics_collector_up{collector="<name>"} 0``; the scrape goes on.
    """
    if collector not in _gauge_collectors:
        _gauge_collectors.append(collector)
    return collector


def unregister_gauge_collector(collector: GaugeCollector) -> None:
    if collector in _gauge_collectors:
        _gauge_collectors.remove(collector)


class _ScrapeTimeCollector:
    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "gwangju_metrics_collector_up",
            "1 when a scrape-time collector answered, 0 when it raised.",
            labels=["collector"],
        )
        for collector in list(_gauge_collectors):
            name = getattr(collector, "__qualname__", repr(collector))
            try:
                families = list(collector())
            except Exception:
                logger.exception("metrics collector %s failed", name)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


_scrape_time = _ScrapeTimeCollector()
REGISTRY.register(_scrape_time)


def registry() -> CollectorRegistry:
    """What one scrape reports: this process, or every process in multiprocess mode."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    from prometheus_client import multiprocess

    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)
    merged.register(_scrape_time)
    return merged


# --- The endpoint ------------------------------------------------------------


def _authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    # Constant time, so the response time tells nothing about how much matched.
    return hmac.compare_digest(given.strip().encode(), token.encode())


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, or the site's ordinary 404 for anyone without the token.

    404 rather than 401: an endpoint that answers "unauthorized" tells a
    scanner it exists.
    """
    if not _authorized(request):
        raise Http404
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
