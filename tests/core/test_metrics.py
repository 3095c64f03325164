"""/metrics: only with the bearer token (404 otherwise); request, task and outbox metrics."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily

from core import metrics
from gwangju_hub.celery import app as celery_app

TOKEN = "metrics-test-token-0123456789abcdefghijklmnop"


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client, **headers):
    return client.get("/metrics", **headers)


def bearer(value: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {value}"}


@pytest.mark.django_db
def test_it_is_a_404_when_no_token_is_configured(client, settings):
    settings.METRICS_TOKEN = ""

    assert scrape(client).status_code == 404
    assert scrape(client, HTTP_AUTHORIZATION="Bearer ").status_code == 404
    assert scrape(client, **bearer("anything")).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer wrong-token-of-the-same-length-0123456789abcdef",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        TOKEN,
    ],
)
def test_it_is_a_404_without_the_right_token(client, token, header):
    headers = {} if header is None else {"HTTP_AUTHORIZATION": header}

    response = scrape(client, **headers)

    assert response.status_code == 404
    assert b"gwangju_http" not in response.content


@pytest.mark.django_db
def test_a_post_without_the_token_is_a_404_too(client, token):
    assert client.post("/metrics").status_code == 404
    assert client.post("/metrics", **bearer(token)).status_code == 405


@pytest.mark.django_db
def test_the_right_token_gets_the_request_metrics(client, token):
    labels = {"view": "healthz", "method": "GET", "status": "200"}
    before = REGISTRY.get_sample_value("gwangju_http_requests_total", labels) or 0
    assert client.get("/healthz").status_code == 200

    response = scrape(client, **bearer(token))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    text = response.content.decode()
    assert 'gwangju_http_requests_total{method="GET",status="200",view="healthz"}' in text
    assert 'gwangju_http_request_duration_seconds_bucket{le="0.1",method="GET"' in text
    assert REGISTRY.get_sample_value("gwangju_http_requests_total", labels) == before + 1


@pytest.mark.django_db
def test_unrouted_paths_share_one_label(client, token):
    client.get("/no/such/page/123")
    client.get("/another/unknown")

    text = scrape(client, **bearer(token)).content.decode()

    assert 'view="<unresolved>"' in text
    assert "/no/such/page" not in text  # raw paths would grow the metric without bound


@pytest.mark.django_db
def test_outbox_delivery_counters_and_scrape_time_gauges(client, token):
    metrics.delivery_sent("reminder")
    metrics.delivery_failed("digest")

    @metrics.register_gauge_collector
    def outbox_backlog():
        gauge = GaugeMetricFamily("gwangju_outbox_backlog", "Due rows", labels=["purpose"])
        gauge.add_metric(["reminder"], 3)
        yield gauge

    def broken():
        raise RuntimeError("database down")

    metrics.register_gauge_collector(broken)
    try:
        response = scrape(client, **bearer(token))
    finally:
        metrics.unregister_gauge_collector(outbox_backlog)
        metrics.unregister_gauge_collector(broken)

    text = response.content.decode()
    assert response.status_code == 200
    assert 'gwangju_outbox_deliveries_sent_total{purpose="reminder"}' in text
    assert 'gwangju_outbox_deliveries_failed_total{purpose="digest"}' in text
    assert 'gwangju_outbox_backlog{purpose="reminder"} 3.0' in text
    assert 'collector_up{collector="test_outbox_delivery_counters_and_scrape_time_gauges.' in text
    broken_label = "test_outbox_delivery_counters_and_scrape_time_gauges.<locals>.broken"
    assert f'gwangju_metrics_collector_up{{collector="{broken_label}"}} 0.0' in text


@celery_app.task(name="tests.core.always_fails")
def always_fails():
    raise RuntimeError("this task always fails")


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_failing_task_on_a_real_worker_is_counted():
    labels = {"task": "tests.core.always_fails"}
    before = REGISTRY.get_sample_value("gwangju_celery_task_failures_total", labels) or 0

    with start_worker(celery_app, perform_ping_check=False, pool="solo", shutdown_timeout=10):
        result = always_fails.delay()
        with pytest.raises(RuntimeError):
            result.get(timeout=20)

    assert REGISTRY.get_sample_value("gwangju_celery_task_failures_total", labels) == before + 1


# Multiprocess mode: a failure counted in one process (the worker) is reported
# by a scrape in another (a web process), through PROMETHEUS_MULTIPROC_DIR.
FAIL_IN_WORKER = """
import django
django.setup()
from celery.signals import task_failure
from agencies.tasks import heartbeat
task_failure.send(sender=heartbeat, task_id="t-1", exception=RuntimeError("x"))
task_failure.send(sender=heartbeat, task_id="t-2", exception=RuntimeError("x"))
"""
SCRAPE_IN_WEB = f"""
import django
django.setup()
from django.test import Client
client = Client()
client.get("/accounts/login/")
print(client.get("/metrics", HTTP_AUTHORIZATION="Bearer {TOKEN}").content.decode())
"""


def test_multiprocess_mode_sums_the_worker_and_the_web_processes(tmp_path):
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("VAR_DIR",)},
        "DJANGO_SETTINGS_MODULE": "gwangju_hub.settings",
        "DEBUG": "1",
        "VAR_DIR": str(tmp_path / "var"),
        "METRICS_TOKEN": TOKEN,
        "ALLOWED_HOSTS": "testserver",
        "PROMETHEUS_MULTIPROC_DIR": str(shared),
    }

    def run(code: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    run(FAIL_IN_WORKER)
    text = run(SCRAPE_IN_WEB)

    assert 'gwangju_celery_task_failures_total{task="agencies.heartbeat"} 2.0' in text
    assert 'gwangju_http_requests_total{method="GET",status="200",view="login"} 1.0' in text


@pytest.mark.django_db
def test_it_reports_the_outbox_backlog_and_deliveries_by_purpose(
    client, token, alice, bob, agency_a, agency_b, mailoutbox
):
    from issues import notifications, services

    def sample(name: str, purpose: str) -> float:
        return REGISTRY.get_sample_value(name, {"purpose": purpose}) or 0.0

    sent_before = sample("gwangju_outbox_deliveries_sent_total", "notification_email")
    services.issue_create(
        actor=alice, title="협조 요청", lead_agency=agency_a, cooperating_agencies=[agency_b]
    )

    body = scrape(client, **bearer(token)).content.decode()
    assert 'gwangju_outbox_due{purpose="notification_email"} 1.0' in body
    assert 'gwangju_outbox_oldest_age_seconds{purpose="notification_email"}' in body
    assert 'gwangju_outbox_due{purpose="meeting"} 0.0' in body

    assert notifications.deliver_due().sent == 1
    body = scrape(client, **bearer(token)).content.decode()
    assert 'gwangju_outbox_due{purpose="notification_email"} 0.0' in body
    assert sample("gwangju_outbox_deliveries_sent_total", "notification_email") == sent_before + 1
