"""/healthz: 200 when everything answers, 503 naming what is down, always within 3 s."""

import time

import pytest

from agencies import health


@pytest.mark.django_db
def test_it_answers_ok_when_database_and_broker_are_up(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok"}


@pytest.fixture
def broker_at(settings):
    """Point the broker check at another address (a real server or a dead port)."""

    def point(url: str) -> None:
        settings.CELERY_BROKER_URL = url
        health._redis_client.cache_clear()

    yield point
    health._redis_client.cache_clear()


@pytest.mark.django_db
def test_it_answers_503_naming_the_broker_when_the_broker_refuses(client, broker_at):
    broker_at("redis://127.0.0.1:9/0")  # nothing listens on port 9: a real refused connection

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"] == "down"
    assert "broker" in body["errors"]


@pytest.mark.django_db
def test_it_answers_503_within_3_seconds_when_redis_hangs(client, broker_at, throwaway_redis):
    broker_at(throwaway_redis.url)
    assert client.get("/healthz").status_code == 200  # the pooled connection is now open

    throwaway_redis.hang()  # SIGSTOP: the socket stays open, nothing ever answers
    started = time.monotonic()
    response = client.get("/healthz")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["broker"] == "down"
    assert elapsed < 3.0

    throwaway_redis.resume()
    assert client.get("/healthz").status_code == 200  # and it recovers by itself


@pytest.mark.django_db
def test_a_hung_redis_does_not_slow_later_probes_beyond_the_deadline(
    client, broker_at, throwaway_redis
):
    broker_at(throwaway_redis.url)
    throwaway_redis.hang()

    started = time.monotonic()
    statuses = [client.get("/healthz").status_code for _ in range(3)]

    assert statuses == [503, 503, 503]
    assert time.monotonic() - started < 3 * 3.0


@pytest.mark.django_db
def test_the_embedded_broker_is_checked_by_its_folder(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "missing")}

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["broker"] == "down"


@pytest.mark.django_db
def test_it_is_never_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200
    assert client.get("/accounts/login/").status_code == 301
