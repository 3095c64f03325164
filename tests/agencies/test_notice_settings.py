"""/accounts/settings/: how one is told of each kind of notice, and one's language (issue 9)."""

import pytest
from django.core import mail
from django.urls import reverse

from agencies.models import Delivery, NoticeKind
from issues import services
from issues.models import Notification

pytestmark = pytest.mark.django_db

URL = "/accounts/settings/"
EVERY_DEFAULT = {
    "cooperation": "immediate",
    "comment": "digest",
    "status": "digest",
    "decision": "digest",
    "meeting_reminder": "immediate",
    "deadline_reminder": "immediate",
}


def _post(client, **changes):
    return client.post(URL, {**EVERY_DEFAULT, "preferred_language": "", **changes})


def test_the_defaults_mail_requests_and_reminders_at_once_and_digest_the_rest(alice):
    assert {kind: alice.delivery_for(kind) for kind in NoticeKind.values} == EVERY_DEFAULT


def test_the_page_is_in_the_header_and_shows_the_defaults(client, alice):
    client.force_login(alice)

    assert f'href="{URL}"' in client.get("/issues/").content.decode()
    body = client.get(reverse("account_settings")).content.decode()
    assert "알림 받는 방법" in body
    assert 'name="comment" value="digest" id="id_comment_1" required checked' in body
    assert 'name="cooperation" value="immediate" id="id_cooperation_0" required checked' in body
    assert f'href="{reverse("password_change")}"' in body
    assert "calendar-feed" in body


def test_the_page_is_in_english_with_visible_labels(client, alice):
    client.force_login(alice)

    body = client.get(URL, headers={"accept-language": "en"}).content.decode()

    assert "<legend>Comments</legend>" in body
    assert '<label for="id_comment_0">E-mail at once</label>' in body
    assert '<label for="id_preferred_language">Language</label>' in body


def test_it_requires_login(client):
    assert client.get(URL).status_code == 302


def test_saving_stores_only_what_differs_from_the_defaults(client, alice):
    client.force_login(alice)

    response = _post(client, comment="immediate", meeting_reminder="bell")

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.notice_settings == {"comment": "immediate", "meeting_reminder": "bell"}
    assert alice.delivery_for("comment") == Delivery.IMMEDIATE
    assert alice.delivery_for("status") == Delivery.DIGEST


def test_it_changes_only_ones_own_settings(client, alice, bob):
    client.force_login(alice)

    _post(client, comment="bell", user=bob.pk, username="bob")

    bob.refresh_from_db()
    assert bob.notice_settings == {}


def test_an_unknown_choice_is_refused_with_a_message(client, alice):
    client.force_login(alice)

    response = _post(client, comment="carrier-pigeon")

    assert response.status_code == 200
    assert "form-hint-invalid" in response.content.decode()
    alice.refresh_from_db()
    assert alice.notice_settings == {}


def test_the_language_is_saved_and_applied_at_once(client, alice):
    client.force_login(alice)

    response = _post(client, preferred_language="en")

    alice.refresh_from_db()
    assert alice.preferred_language == "en"
    assert response.cookies["django_language"].value == "en"
    assert "Your settings were saved." in client.get(URL).content.decode()


def test_a_comment_mails_someone_who_wants_comments_at_once(alice, bob, mailoutbox):
    issue = services.issue_create(
        actor=alice, title="협업 현안", lead_agency=alice.agency, cooperating_agencies=[bob.agency]
    )
    alice.notice_settings = {"comment": "immediate"}
    alice.save()

    services.comment_create(issue=issue, actor=bob, body="확인했습니다.")

    row = Notification.objects.get(recipient=alice, event__kind="comment")
    assert row.delivery == Delivery.IMMEDIATE
    assert row.email_due_at is not None


@pytest.mark.parametrize("choice", ["digest", "bell"])
def test_a_comment_only_rings_the_bell_of_someone_who_wants_it_later(alice, bob, choice):
    issue = services.issue_create(
        actor=alice, title="협업 현안", lead_agency=alice.agency, cooperating_agencies=[bob.agency]
    )
    if choice == "bell":
        alice.notice_settings = {"comment": "bell"}
        alice.save()

    services.comment_create(issue=issue, actor=bob, body="확인했습니다.")

    row = Notification.objects.get(recipient=alice, event__kind="comment")
    assert row.delivery == choice  # the digest picks up its "digest" rows
    assert row.email_due_at is None
    assert mail.outbox == []


def test_a_cooperation_request_is_mailed_at_once_by_default(alice, bob):
    services.issue_create(
        actor=alice, title="협업 현안", lead_agency=alice.agency, cooperating_agencies=[bob.agency]
    )

    row = Notification.objects.get(recipient=bob)
    assert row.delivery == Delivery.IMMEDIATE
    assert row.email_due_at is not None


def test_the_calendar_address_is_made_from_the_page_and_comes_back_to_it(client, alice):
    client.force_login(alice)

    response = client.post(reverse("meetings:calendar_token"), {"action": "rotate", "next": URL})

    assert response["Location"] == f"{URL}#calendar-feed"
    assert "calendar.ics?token=" in client.get(URL).content.decode()


def test_the_calendar_box_never_sends_anyone_elsewhere(client, alice):
    client.force_login(alice)

    response = client.post(
        reverse("meetings:calendar_token"), {"action": "rotate", "next": "//evil.example/"}
    )

    assert response["Location"] == reverse("meetings:list") + "#calendar-feed"


def test_control_characters_are_a_message_never_a_500(client, alice):
    client.force_login(alice)

    settings_page = _post(client, comment="digest\x00", preferred_language="en\x00")
    saved_search = client.post(
        reverse("issues:saved_search_create"), {"name": "검색\x00", "query": "q=\x00&status=open"}
    )

    assert settings_page.status_code == 200
    assert saved_search.status_code == 302
