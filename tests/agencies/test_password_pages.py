"""Changing one's password, and resetting a forgotten one by e-mail (issue 8, item 5)."""

import re

import pytest
from axes.models import AccessAttempt
from django.core import mail
from django.test import Client
from django.urls import reverse

from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "gwangju-new-2027"
RULE_KO = "두 종류 이상을 섞어 10자 이상"


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def reset_link(message) -> str:
    return re.search(r"http://hub\.example\.go\.kr(/accounts/password/reset/\S+/)", message.body)[1]


# --- Links ---------------------------------------------------------------------


def test_the_login_page_links_to_password_reset(client):
    body = client.get(reverse("login")).content.decode()

    assert f'href="{reverse("password_reset")}"' in body
    assert "비밀번호를 잊으셨나요?" in body


def test_the_header_links_signed_in_users_to_password_change(signed_in):
    body = signed_in.get("/issues/").content.decode()

    assert f'href="{reverse("password_change")}"' in body
    assert "비밀번호 변경" in body


# --- Change ----------------------------------------------------------------------


def test_the_change_page_asks_for_the_old_and_new_password_with_the_rule(signed_in):
    body = signed_in.get(reverse("password_change")).content.decode()

    assert "기존 비밀번호" in body and "새 비밀번호" in body
    assert RULE_KO in body
    assert 'autocomplete="new-password"' in body


def test_the_change_page_needs_a_login(client):
    response = client.get(reverse("password_change"))

    assert response["Location"].startswith(reverse("login"))


def test_changing_the_password_keeps_the_session(signed_in, alice):
    response = signed_in.post(
        reverse("password_change"),
        {
            "old_password": TEST_PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )

    assert response["Location"] == reverse("password_change_done")
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    done = signed_in.get(response["Location"]).content.decode()
    assert "비밀번호가 변경되었습니다" in done


def test_a_wrong_old_password_is_refused(signed_in, alice):
    response = signed_in.post(
        reverse("password_change"),
        {"old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert 'aria-invalid="true"' in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(TEST_PASSWORD)


@pytest.mark.parametrize("language", ["ko", "en"])
def test_a_too_simple_new_password_is_refused_with_the_rule(signed_in, alice, language):
    response = signed_in.post(
        reverse("password_change"),
        {"old_password": TEST_PASSWORD, "new_password1": "abcdefg1", "new_password2": "abcdefg1"},
        headers={"accept-language": language},
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert (RULE_KO if language == "ko" else "mixing two kinds of letters, digits") in body
    assert 'class="form-hint-invalid" id="id_new_password1_error"' in body
    alice.refresh_from_db()
    assert alice.check_password(TEST_PASSWORD)


def test_admins_own_password_page_still_works(client, superuser):
    client.force_login(superuser)

    response = client.post(
        reverse("admin:password_change"),
        {
            "old_password": TEST_PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )

    assert response["Location"] == reverse("admin:password_change_done")
    superuser.refresh_from_db()
    assert superuser.check_password(NEW_PASSWORD)


# --- Reset -----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "http://hub.example.go.kr"


def test_a_reset_mails_a_link_that_sets_a_new_password(client, alice):
    response = client.post(reverse("password_reset"), {"email": "alice@example.go.kr"})

    assert response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.go.kr"]
    assert message.subject == "광주 허브: 비밀번호 재설정"
    assert '"alice"' in message.body

    # Django swaps the token for a session marker and redirects to the form.
    form_page = client.get(reset_link(message), follow=True)
    assert form_page.status_code == 200
    assert RULE_KO in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done["Location"] == reverse("password_reset_complete")
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)

    fresh = Client()
    login = fresh.post(reverse("login"), {"username": "alice", "password": NEW_PASSWORD})
    assert login.status_code == 302


def test_the_link_is_built_from_site_url_not_the_host_header(client, alice, settings):
    settings.ALLOWED_HOSTS = ["testserver", "evil.example"]

    client.post(
        reverse("password_reset"), {"email": "alice@example.go.kr"}, HTTP_HOST="evil.example"
    )

    assert "evil.example" not in mail.outbox[0].body
    assert reset_link(mail.outbox[0])


def test_an_unknown_address_looks_the_same_and_sends_nothing(client, alice):
    known = client.post(reverse("password_reset"), {"email": "alice@example.go.kr"}, follow=True)
    unknown = client.post(reverse("password_reset"), {"email": "nobody@example.go.kr"}, follow=True)

    assert len(mail.outbox) == 1
    assert known.redirect_chain == unknown.redirect_chain
    page = unknown.content.decode()
    assert "입력한 주소를 쓰는 계정이 있으면" in page


def test_a_used_link_no_longer_works(client, alice):
    client.post(reverse("password_reset"), {"email": "alice@example.go.kr"})
    link = reset_link(mail.outbox[0])
    form_page = client.get(link, follow=True)
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    again = Client().get(link, follow=True).content.decode()

    assert "더 이상 쓸 수 없습니다" in again
    assert 'name="new_password1"' not in again


def test_a_reset_lifts_a_login_lockout(client, alice):
    for n in range(5):
        client.post(reverse("login"), {"username": "alice", "password": f"wrong-{n}"})
    assert AccessAttempt.objects.filter(username="alice").exists()

    client.post(reverse("password_reset"), {"email": "alice@example.go.kr"})
    form_page = client.get(reset_link(mail.outbox[0]), follow=True)
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert not AccessAttempt.objects.filter(username="alice").exists()
    login = client.post(reverse("login"), {"username": "alice", "password": NEW_PASSWORD})
    assert login.status_code == 302


def test_the_reset_pages_are_english_for_an_english_browser(client):
    body = client.get(reverse("password_reset"), headers={"accept-language": "en"})

    assert "Reset your password" in body.content.decode()
    assert ">Email</label>" in body.content.decode()


def test_a_mismatch_is_reported_once_under_the_confirmation(signed_in):
    response = signed_in.post(
        reverse("password_change"),
        {"old_password": TEST_PASSWORD, "new_password1": "abc", "new_password2": "abd"},
    )

    body = response.content.decode()
    assert 'id="id_new_password2_error"' in body
    assert 'id="id_new_password1_error"' not in body
