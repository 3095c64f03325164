"""Sessions end after 30 idle minutes and 12 hours in all (issue 8, item 5)."""

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
import time_machine
from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.urls import reverse

from core.sessions import SessionStore
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
IDLE_KO = "30분 동안 사용하지 않아 로그인이 종료되었습니다. 다시 로그인하세요."
IDLE_EN = "Your session ended after 30 minutes without activity. Please log in again."
ABSOLUTE_KO = "로그인한 지 12시간이 지나 최대 사용 시간에 이르러 로그인이 종료되었습니다."


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def signed_in(client, alice, clock):
    client.force_login(alice)
    return client


def is_signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_activity_within_the_idle_time_keeps_the_session(signed_in, clock):
    for _ in range(4):
        clock.shift(timedelta(minutes=29))
        assert signed_in.get("/issues/").status_code == 200

    assert is_signed_in(signed_in)


def test_after_30_idle_minutes_a_page_goes_to_login_with_a_message(signed_in, clock):
    clock.shift(timedelta(minutes=30))

    response = signed_in.get("/issues/?status=open")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=" + quote("/issues/?status=open")
    assert not is_signed_in(signed_in)
    login_page = signed_in.get(response["Location"]).content.decode()
    assert IDLE_KO in login_page


def test_the_message_follows_the_language(signed_in, clock):
    clock.shift(timedelta(minutes=31))

    response = signed_in.get("/issues/", headers={"accept-language": "en"}, follow=True)

    assert IDLE_EN in response.content.decode()


def test_an_htmx_request_of_an_ended_session_gets_a_full_page_redirect(signed_in, clock):
    clock.shift(timedelta(minutes=30))

    response = signed_in.get(
        "/issues/?q=road",
        headers={"hx-request": "true", "hx-current-url": "http://testserver/issues/?page=2"},
    )

    # Never the login form swapped into the fragment: htmx navigates the
    # whole page, back to the page (not the fragment) after logging in.
    assert response.status_code == 200
    assert response.content == b""
    assert response["HX-Redirect"] == "/accounts/login/?next=" + quote("/issues/?page=2")
    assert not is_signed_in(signed_in)
    assert IDLE_KO in signed_in.get(response["HX-Redirect"]).content.decode()


def test_a_form_post_of_an_ended_session_returns_to_the_form_page(signed_in, clock):
    clock.shift(timedelta(minutes=45))

    response = signed_in.post(
        "/issues/new/", {"title": "x"}, headers={"referer": "http://testserver/issues/new/"}
    )

    assert response["Location"] == "/accounts/login/?next=" + quote("/issues/new/")


def test_a_referer_from_another_site_is_not_followed(signed_in, clock):
    clock.shift(timedelta(minutes=45))

    response = signed_in.post("/issues/new/", headers={"referer": "https://evil.example/x"})

    assert response["Location"] == "/accounts/login/"


def test_the_login_page_of_an_ended_session_does_not_loop(signed_in, clock):
    clock.shift(timedelta(minutes=45))

    response = signed_in.get("/accounts/login/")

    assert response["Location"] == "/accounts/login/"
    assert signed_in.get("/accounts/login/").status_code == 200


def test_after_12_hours_the_session_ends_however_active(signed_in, clock):
    for _ in range(35):
        clock.shift(timedelta(minutes=20))
        assert signed_in.get("/").status_code == 302
        assert is_signed_in(signed_in)

    clock.shift(timedelta(minutes=20))  # 12 hours after login
    response = signed_in.get("/issues/", follow=True)

    assert not is_signed_in(signed_in)
    assert ABSOLUTE_KO in response.content.decode()


def test_a_new_login_restarts_the_absolute_clock(client, alice, clock):
    client.force_login(alice)
    clock.shift(timedelta(hours=11, minutes=50))
    client.get("/")
    client.post("/accounts/login/", {"username": "alice", "password": TEST_PASSWORD})

    clock.shift(timedelta(minutes=20))

    assert client.get("/issues/").status_code == 200


def test_the_idle_and_absolute_limits_are_configurable(signed_in, clock, settings):
    settings.SESSION_IDLE_MINUTES = 5

    clock.shift(timedelta(minutes=5))

    assert signed_in.get("/issues/").status_code == 302


def test_extending_restarts_the_idle_clock_without_leaving_the_page(signed_in, clock):
    clock.shift(timedelta(minutes=25))

    response = signed_in.post(reverse("session_extend"))

    assert response.status_code == 200
    assert json.loads(response.content) == {
        "idle_remaining": 30 * 60,
        "absolute_remaining": 12 * 60 * 60 - 25 * 60,
    }
    clock.shift(timedelta(minutes=25))  # 50 minutes after the last page
    assert signed_in.get("/issues/").status_code == 200


def test_extending_needs_a_post(signed_in):
    assert signed_in.get(reverse("session_extend")).status_code == 405


def test_extending_an_ended_session_goes_to_login(signed_in, clock):
    clock.shift(timedelta(minutes=31))

    response = signed_in.post(reverse("session_extend"))

    assert response.status_code == 302
    assert not is_signed_in(signed_in)


def test_asking_for_the_time_left_is_not_activity(signed_in, clock):
    clock.shift(timedelta(minutes=25))

    status = json.loads(signed_in.get(reverse("session_status")).content)

    assert status["idle_remaining"] == 5 * 60
    clock.shift(timedelta(minutes=5))
    assert signed_in.get("/issues/").status_code == 302


def test_the_time_left_of_an_anonymous_visitor_is_zero(client):
    status = json.loads(client.get(reverse("session_status")).content)

    assert status == {"idle_remaining": 0, "absolute_remaining": 0}


def test_pages_carry_the_dialog_and_the_seconds_left(signed_in, clock):
    clock.shift(timedelta(minutes=10))  # the page itself is activity: the clock restarts

    body = signed_in.get("/issues/").content.decode()

    assert 'id="session-dialog"' in body
    assert 'role="alertdialog"' in body
    assert 'aria-labelledby="session-dialog-title"' in body
    assert 'data-idle-remaining="1800"' in body
    assert f'data-absolute-remaining="{12 * 3600 - 600}"' in body
    assert 'data-warning-seconds="120"' in body
    assert "js/session.js" in body
    # A strict CSP is coming: nothing inline.
    assert "<script>" not in body and "style=" not in body


def test_every_signed_in_response_says_how_long_is_left(signed_in, clock):
    clock.shift(timedelta(minutes=10))

    response = signed_in.get("/issues/", headers={"hx-request": "true"})

    assert response["X-Session-Remaining"] == f"{30 * 60},{12 * 3600 - 600}"


def test_anonymous_pages_have_no_dialog_and_no_script(client):
    body = client.get("/accounts/login/").content.decode()

    assert "session-dialog" not in body
    assert "js/session.js" not in body


def test_activity_is_written_at_most_once_a_minute(signed_in, clock):
    signed_in.get("/issues/")
    clock.shift(timedelta(seconds=30))

    response = signed_in.get("/issues/")

    # Not rewritten: the row is not updated for every request, and the time
    # left is counted from what was written, so it is never overstated.
    assert response["X-Session-Remaining"].startswith(f"{30 * 60 - 30},")
    assert "sessionid" not in response.cookies


def test_sessions_are_kept_in_the_database(signed_in, settings):
    # core.sessions is Django's db engine with its read compiled once per process.
    assert settings.SESSION_ENGINE == "core.sessions"
    assert issubclass(SessionStore, db.SessionStore)
    assert Session.objects.filter(session_key=signed_in.session.session_key).exists()


def test_a_session_ended_in_the_database_ends_on_the_next_request(signed_in, alice):
    """The session's row is read afresh on every request, though its query is
    compiled once: expired or deleted (logout elsewhere, clearsessions), the
    next request is signed out."""
    assert signed_in.get("/issues/").status_code == 200
    key = signed_in.session.session_key
    Session.objects.filter(session_key=key).update(expire_date=START - timedelta(seconds=1))

    assert signed_in.get("/issues/").status_code == 302
    assert not is_signed_in(signed_in)

    signed_in.force_login(alice)
    assert signed_in.get("/issues/").status_code == 200
    Session.objects.filter(session_key=signed_in.session.session_key).delete()
    assert signed_in.get("/issues/").status_code == 302


def test_signed_in_pages_work_with_the_cache_down(signed_in, settings):
    # Redis is the default cache only; the in-process ones (rendered fragments,
    # menus) live in each worker and stay up.
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }

    assert signed_in.post(reverse("session_extend")).status_code == 200
    assert signed_in.get(reverse("password_change")).status_code == 200
