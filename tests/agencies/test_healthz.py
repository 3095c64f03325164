import pytest

from gwangju_hub.celery import app as celery_app


@pytest.mark.django_db
def test_it_answers_ok_when_database_and_broker_are_up(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok"}


@pytest.fixture
def broker_down():
    """Point the Celery app at a Redis port where nothing listens: a real refused connection."""
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:9/0"
    yield
    celery_app.conf.broker_url = original


@pytest.mark.django_db
def test_it_answers_503_naming_the_broker_when_the_broker_is_down(client, broker_down):
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"] == "down"
    assert "broker" in body["errors"]


@pytest.mark.django_db
def test_it_is_never_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200
    assert client.get("/accounts/login/").status_code == 301
