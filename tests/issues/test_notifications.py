"""Who hears about an issue event (issues.notifications) and the bell, /notifications/
(gwangju_hub.notifications) as far as issue notifications go.

The notifications are written by the services, in the change's transaction;
the e-mails by the sweep ``deliver_due()``, which is what the Celery task
``issues.deliver_notifications`` runs; these tests call it directly. The
outbox's failure handling is in test_notification_outbox.py, Redis down in
test_broker_down.py, the path through a real worker in
test_celery_notifications.py.
"""

import email
import email.policy
from types import SimpleNamespace

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from agencies.models import Role
from core.broker import _Enqueue
from issues import notifications, services
from issues.models import Cooperation, Event, EventKind, Notification
from issues.notifications import SweepResult
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("mail_everything_at_once")]

SITE_URL = "https://hub.gwangju.example"
TITLE = "도시철도 2호선 공정 점검"


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = SITE_URL


@pytest.fixture
def bora(agency_b):
    """A second person at agency B, who takes no part in the issues below."""
    return UserFactory(username="bora", agency=agency_b)


def _issue(actor, lead_agency, **fields):
    fields.setdefault("title", TITLE)
    return services.issue_create(actor=actor, lead_agency=lead_agency, **fields)


def _last_event(issue, kind) -> Event:
    return Event.objects.filter(issue=issue, kind=kind).latest("id")


def _comment(issue, actor, body="확인 부탁드립니다.") -> Event:
    services.comment_create(issue=issue, actor=actor, body=body)
    return _last_event(issue, EventKind.COMMENT)


def _answer(issue, actor, status="accepted") -> Event:
    cooperation = Cooperation.objects.get(issue=issue, agency=actor.agency)
    services.cooperation_answer(cooperation=cooperation, actor=actor, status=status)
    return _last_event(issue, EventKind.COOPERATION_ANSWERED)


def _notified(event) -> set[str]:
    return set(
        Notification.objects.filter(event=event).values_list("recipient__username", flat=True)
    )


def _mailed(outbox) -> list[str]:
    return sorted(address for message in outbox for address in message.to)


def _emails(*users) -> list[str]:
    return sorted(user.email for user in users)


def _sweep() -> SweepResult:
    return notifications.deliver_due()


# --- who is notified ----------------------------------------------------------------


def test_a_cooperation_request_notifies_the_requested_agency_but_not_the_actor(
    mailoutbox, alice, hana, bob, bora, carol, agency_a, agency_b
):
    issue = _issue(alice, agency_a, cooperating_agencies=[agency_b])
    event = _last_event(issue, EventKind.COOPERATION_REQUESTED)

    # In the bell as soon as the issue is filed; mailed by the sweep.
    assert _notified(event) == {"bob", "bora"}
    assert mailoutbox == []
    assert _sweep() == SweepResult(sent=2)
    assert _mailed(mailoutbox) == _emails(bob, bora)


def test_filing_an_issue_alone_notifies_nobody(mailoutbox, alice, hana, agency_a):
    _issue(alice, agency_a)

    assert not Notification.objects.exists()
    assert _sweep() == SweepResult()
    assert mailoutbox == []


def test_a_comment_notifies_the_lead_agency_and_participants_but_not_the_commenter(
    mailoutbox, alice, hana, victor, bob, bora, carol, minji, agency_a, agency_b
):
    issue = _issue(alice, agency_a, cooperating_agencies=[agency_b])
    _answer(issue, bob)  # bob takes part by answering
    _comment(issue, minji, "시장실 검토 의견입니다.")  # minji takes part by commenting
    _sweep()
    mailoutbox.clear()

    event = _comment(issue, alice)
    _sweep()

    assert _notified(event) == {"hana", "victor", "bob", "minji"}
    assert _mailed(mailoutbox) == _emails(hana, victor, bob, minji)


def test_a_comment_by_a_cooperating_agency_notifies_the_lead_agency(
    mailoutbox, alice, hana, bob, bora, agency_a, agency_b
):
    issue = _issue(alice, agency_a, cooperating_agencies=[agency_b])
    _sweep()
    mailoutbox.clear()

    event = _comment(issue, bob, "협조 가능합니다.")
    _sweep()

    assert _notified(event) == {"alice", "hana"}
    assert _mailed(mailoutbox) == _emails(alice, hana)


def test_a_cooperation_answer_notifies_the_lead_agency(
    mailoutbox, alice, hana, bob, bora, agency_a, agency_b
):
    issue = _issue(alice, agency_a, cooperating_agencies=[agency_b])
    _sweep()
    mailoutbox.clear()

    event = _answer(issue, bob, "declined")
    _sweep()

    assert _notified(event) == {"alice", "hana"}
    assert _mailed(mailoutbox) == _emails(alice, hana)


def test_a_status_change_notifies_the_lead_agency_and_participants_but_not_the_actor(
    mailoutbox, alice, hana, victor, bob, bora, carol, agency_a, agency_b
):
    issue = _issue(alice, agency_a, cooperating_agencies=[agency_b])
    _answer(issue, bob)
    issue.refresh_from_db()
    _sweep()
    mailoutbox.clear()

    services.issue_change_status(
        issue=issue, actor=alice, expected_version=issue.version, status="in_progress"
    )
    event = _last_event(issue, EventKind.STATUS)
    _sweep()

    assert _notified(event) == {"hana", "victor", "bob"}
    assert _mailed(mailoutbox) == _emails(hana, victor, bob)


def test_only_events_that_concern_people_notify(alice, hana, bob, agency_a, agency_b):
    def notified_kinds():
        kinds = list(
            Notification.objects.filter(event__issue=issue)
            .order_by("event_id")
            .values_list("event__kind", flat=True)
            .distinct()
        )
        Notification.objects.all().delete()
        return kinds

    issue = _issue(alice, agency_a, cooperating_agencies=[agency_b])
    assert notified_kinds() == [EventKind.COOPERATION_REQUESTED]

    services.issue_update(issue=issue, actor=alice, expected_version=1, title="제목만 수정")
    assert notified_kinds() == []  # a title edit is on the timeline only

    services.issue_update(
        issue=issue, actor=alice, expected_version=2, title="다시 수정", status="on_hold"
    )
    assert notified_kinds() == [EventKind.CHANGED]  # includes a status change

    _comment(issue, bob)
    assert notified_kinds() == [EventKind.COMMENT]


def _kicks(callbacks) -> list[str]:
    """The tasks queued after commit by core.broker.enqueue_on_commit."""
    return [callback.task.name for callback in callbacks if isinstance(callback, _Enqueue)]


@pytest.mark.django_db(transaction=True)  # real commits: one kick per transaction
def test_the_sweep_is_kicked_once_per_transaction_after_commit(
    monkeypatch, alice, bob, carol, agency_a, agency_b, agency_c
):
    kicked = []
    # Records the publish that core.broker would make once the transaction commits.
    monkeypatch.setattr("core.broker.enqueue", lambda task, *args: kicked.append(task.name))

    # Two cooperation requests in one transaction: two events, two people, one kick.
    issue = _issue(alice, agency_a, cooperating_agencies=[agency_b, agency_c])
    assert Notification.objects.filter(event__issue=issue).count() == 2
    assert kicked == ["issues.deliver_notifications"]

    services.issue_update(issue=issue, actor=alice, expected_version=1, title="제목만 수정")
    assert kicked == ["issues.deliver_notifications"]  # nobody to tell, nothing to kick

    _comment(issue, bob)
    assert kicked == ["issues.deliver_notifications"] * 2

    with transaction.atomic():  # several changes, one transaction: one kick
        _comment(issue, bob, "하나")
        _comment(issue, bob, "둘")
        assert len(kicked) == 2  # not before the commit
    assert kicked == ["issues.deliver_notifications"] * 3


def test_no_kick_when_nobody_is_owed_an_email(
    django_capture_on_commit_callbacks, alice, bob, agency_a, agency_b
):
    bob.email = ""
    bob.save(update_fields=["email"])

    with django_capture_on_commit_callbacks() as callbacks:
        issue = _issue(alice, agency_a, cooperating_agencies=[agency_b])

    assert _notified(_last_event(issue, EventKind.COOPERATION_REQUESTED)) == {"bob"}
    assert _kicks(callbacks) == []


def test_suppressed_notifications_write_and_queue_nothing(
    django_capture_on_commit_callbacks, alice, bob, agency_a, agency_b
):
    with services.notifications_suppressed(), django_capture_on_commit_callbacks() as callbacks:
        _issue(alice, agency_a, cooperating_agencies=[agency_b])

    assert not Notification.objects.exists()
    assert _kicks(callbacks) == []


def test_a_rolled_back_change_leaves_no_notification_and_no_kick(
    django_capture_on_commit_callbacks, alice, bob, agency_a, agency_b
):
    class Abandon(Exception):
        pass

    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(Abandon),
        transaction.atomic(),
    ):
        _issue(alice, agency_a, cooperating_agencies=[agency_b])
        raise Abandon

    assert not Notification.objects.exists()
    assert _kicks(callbacks) == []


def test_inactive_users_and_users_without_email_get_no_mail(
    mailoutbox, alice, bob, bora, agency_a, agency_b
):
    bora.email = ""
    bora.save(update_fields=["email"])
    gone = UserFactory(username="gone", agency=agency_b, is_active=False)
    issue = _issue(alice, agency_a, cooperating_agencies=[agency_b])
    event = _last_event(issue, EventKind.COOPERATION_REQUESTED)

    assert _sweep() == SweepResult(sent=1)

    assert _notified(event) == {"bob", "bora"}  # bora still sees it in the app
    assert Notification.objects.get(recipient=bora).email_due_at is None  # no mail owed
    assert gone.email not in _mailed(mailoutbox)
    assert _mailed(mailoutbox) == _emails(bob)


# --- nobody hears about an issue they may not see -------------------------------------


def test_an_agency_whose_cooperation_was_withdrawn_hears_nothing_more_of_a_restricted_issue(
    mailoutbox, alice, hana, bob, minji, agency_a, agency_b
):
    issue = _issue(alice, agency_a, visibility="restricted", cooperating_agencies=[agency_b])
    _comment(issue, bob, "나기관 의견입니다.")  # makes bob a participant
    _comment(issue, minji, "시장실 의견입니다.")
    _sweep()
    mailoutbox.clear()
    # Written while B still cooperated, mailed after the withdrawal below.
    in_flight = _comment(issue, alice, "조율 중입니다.")
    assert "bob" in _notified(in_flight)
    issue.refresh_from_db()

    services.issue_update(
        issue=issue, actor=alice, expected_version=issue.version, cooperating_agencies=[]
    )
    later = _comment(issue, alice, "나기관 제외 후 논의합니다.")
    result = _sweep()

    assert "bob" not in _notified(later)
    assert _notified(later) == {"hana", "minji"}
    assert bob.email not in _mailed(mailoutbox)
    assert _mailed(mailoutbox) == sorted(_emails(hana, minji) * 2)
    assert result == SweepResult(sent=4, skipped=1)
    withheld = Notification.objects.get(event=in_flight, recipient=bob)
    assert withheld.emailed_at is None
    assert withheld.email_skipped_at is not None
    assert withheld.last_error == "skipped: recipient may no longer read the issue"
    assert _sweep() == SweepResult()  # never tried again


def test_a_status_change_that_also_withdraws_an_agency_does_not_tell_it(
    alice, hana, bob, agency_a, agency_b
):
    issue = _issue(alice, agency_a, visibility="restricted", cooperating_agencies=[agency_b])
    _comment(issue, bob, "나기관 의견입니다.")  # makes bob a participant
    issue.refresh_from_db()

    services.issue_update(
        issue=issue,
        actor=alice,
        expected_version=issue.version,
        status="in_progress",
        cooperating_agencies=[],
    )

    assert _notified(_last_event(issue, EventKind.STATUS)) == {"hana"}


def test_a_cooperation_request_of_a_restricted_issue_reaches_only_the_requested_agency(
    mailoutbox, alice, bob, carol, minji, agency_a, agency_b
):
    issue = _issue(alice, agency_a, visibility="restricted", cooperating_agencies=[agency_b])

    _sweep()

    assert _mailed(mailoutbox) == _emails(bob)
    assert _notified(_last_event(issue, EventKind.COOPERATION_REQUESTED)) == {"bob"}


# --- delivered at most once ------------------------------------------------------------


def test_a_second_sweep_sends_nothing(mailoutbox, alice, hana, bob, agency_a, agency_b):
    issue = _issue(alice, agency_a, cooperating_agencies=[agency_b])
    _sweep()
    mailoutbox.clear()
    event = _comment(issue, bob)

    first = _sweep()
    second = _sweep()

    assert (first, second) == (SweepResult(sent=2), SweepResult())
    assert _mailed(mailoutbox) == _emails(alice, hana)
    assert Notification.objects.filter(event=event).count() == 2
    assert not Notification.objects.filter(emailed_at=None, email_due_at__isnull=False).exists()


def test_a_notification_exists_once_per_recipient_and_event(alice, bob, agency_a, agency_b):
    issue = _issue(alice, agency_a, cooperating_agencies=[agency_b])
    event = _last_event(issue, EventKind.COOPERATION_REQUESTED)

    existing, created = Notification.objects.get_or_create(recipient=bob, event=event)

    assert not created  # the service wrote it
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(recipient=bob, event=event)
    assert notifications.notify(event)  # writing them again is harmless
    assert list(Notification.objects.filter(recipient=bob, event=event)) == [existing]


# --- the e-mail itself -------------------------------------------------------------------


def test_the_mail_is_in_the_recipients_preferred_language(mailoutbox, alice, hana, minji, agency_a):
    alice.preferred_language = "en"
    alice.save(update_fields=["preferred_language"])
    issue = _issue(alice, agency_a)

    _comment(issue, minji, "주간 보고 부탁드립니다.")
    _sweep()

    english = next(m for m in mailoutbox if m.to == [alice.email])
    assert english.subject == f"[Gwangju Hub] #{issue.pk} {TITLE} — New comment"
    assert "Lead agency: Agency A" in english.body
    assert "주간 보고 부탁드립니다." in english.body
    assert f"Open the issue: {SITE_URL}/issues/{issue.pk}/" in english.body

    korean = next(m for m in mailoutbox if m.to == [hana.email])
    assert korean.subject.startswith(f"[광주 허브] #{issue.pk} {TITLE} — ")
    assert "광주가기관" in korean.body
    assert "주간 보고 부탁드립니다." in korean.body
    assert f"{SITE_URL}/issues/{issue.pk}/" in korean.body
    assert "\n" not in korean.subject


def test_the_mail_is_in_korean_by_default(mailoutbox, alice, hana, minji, agency_a):
    issue = _issue(alice, agency_a)

    _comment(issue, minji)
    _sweep()

    korean = next(m for m in mailoutbox if m.to == [hana.email])
    assert korean.subject == f"[광주 허브] #{issue.pk} {TITLE} — 새 댓글"
    for english in ("Hello", "Lead agency", "Open the issue", "You receive this", "New comment"):
        assert english not in korean.body


# Subjects are plain text, but the subject template is rendered with HTML
# autoescaping on (issues/templates/issues/email/notification_subject.txt lacks
# {% autoescape off %}), so "R&D" arrives as "R&amp;D".
def test_the_subject_shows_the_title_as_typed(mailoutbox, alice, hana, minji, agency_a):
    issue = _issue(alice, agency_a, title='R&D 예산 <검토> "긴급"')

    _comment(issue, minji)
    _sweep()

    assert mailoutbox[0].subject.startswith(f'[광주 허브] #{issue.pk} R&D 예산 <검토> "긴급"')


def test_the_body_shows_the_title_and_comment_as_typed(mailoutbox, alice, hana, minji, agency_a):
    issue = _issue(alice, agency_a, title="R&D 예산 <검토>")

    _comment(issue, minji, "A & B <확인>")
    _sweep()

    body = mailoutbox[0].body
    assert "R&D 예산 <검토>" in body
    assert "A & B <확인>" in body
    assert "&amp;" not in body


# --- through a real SMTP server ----------------------------------------------------------


def test_mail_goes_out_through_smtp_with_a_korean_subject(
    smtp_server, settings, alice, bob, agency_a, agency_b
):
    settings.DEFAULT_FROM_EMAIL = "광주 허브 <hub@gwangju.example>"
    issue = _issue(alice, agency_a, cooperating_agencies=[agency_b])
    notification = Notification.objects.get(recipient=bob)

    assert _sweep() == SweepResult(sent=1)

    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == [bob.email]
    assert envelope.mail_from == "hub@gwangju.example"
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert message["To"] == bob.email
    # lstrip: Django folds a long encoded Subject onto a continuation line, and
    # email.policy.default keeps that fold's leading space in the decoded value.
    subject = str(message["Subject"]).lstrip()
    assert subject.startswith(f"[광주 허브] #{issue.pk} {TITLE} — ")
    assert subject.endswith("광주나기관에 협조 요청")
    body = message.get_body(preferencelist=("plain",))
    assert body.get_content_charset() == "utf-8"
    assert f"{SITE_URL}/issues/{issue.pk}/" in body.get_content()
    assert TITLE in body.get_content()
    # Fixed per row (not make_msgid's random one), in the sender's domain.
    expected_id = f"<notification.{notification.message_uuid.hex}@gwangju.example>"
    assert message["Message-ID"].strip() == expected_id  # strip: a long header may be folded


# --- the bell and /notifications/ ----------------------------------------------------------


def _bell(client) -> str:
    page = client.get(reverse("issues:list")).content.decode()
    return page.split('class="notification-bell"', 1)[1].split("</a>", 1)[0]


@pytest.fixture
def bob_notified(alice, bob, agency_a, agency_b):
    """Two unread notifications for bob: a cooperation request and a comment."""
    issue = _issue(alice, agency_a, cooperating_agencies=[agency_b])
    _answer(issue, bob)
    _comment(issue, alice, "답변 감사합니다.")
    return issue


def test_the_bell_shows_the_unread_count(client, bob, bob_notified):
    client.force_login(bob)

    assert ">2<" in _bell(client)


def test_the_bell_shows_no_count_without_unread_notifications(client, alice, agency_a):
    client.force_login(alice)

    bell = _bell(client)

    assert "badge" not in bell
    assert ">0<" not in bell


def test_the_list_shows_my_notifications(client, bob, bob_notified):
    client.force_login(bob)

    response = client.get(reverse("notifications:list"), headers={"accept-language": "en"})

    assert response.status_code == 200
    page = response.content.decode()
    assert page.count(f"#{bob_notified.pk} {TITLE}") == 2
    for notification in Notification.objects.filter(recipient=bob):
        assert reverse("notifications:open", args=[notification.pk]) in page
    assert "New comment" in page
    assert "Mark all as read" in page


def test_the_list_does_not_show_other_peoples_notifications(client, carol, bob_notified):
    client.force_login(carol)

    page = client.get(reverse("notifications:list")).content.decode()

    assert TITLE not in page


def test_opening_a_notification_marks_it_read_and_goes_to_the_issue(client, bob, bob_notified):
    notification = Notification.objects.filter(recipient=bob).latest("id")
    client.force_login(bob)

    response = client.get(reverse("notifications:open", args=[notification.pk]))

    assert response.status_code == 302
    assert response["Location"] == bob_notified.get_absolute_url()
    notification.refresh_from_db()
    assert notification.read_at is not None
    assert ">1<" in _bell(client)


def test_mark_all_read(client, bob, bob_notified):
    client.force_login(bob)

    response = client.post(reverse("notifications:read_all"))

    assert response.status_code == 302
    assert response["Location"] == reverse("notifications:list")
    assert not Notification.objects.filter(recipient=bob, read_at=None).exists()
    assert "badge" not in _bell(client)


def test_mark_all_read_requires_post(client, bob, bob_notified):
    client.force_login(bob)

    assert client.get(reverse("notifications:read_all")).status_code == 405
    assert Notification.objects.filter(recipient=bob, read_at=None).count() == 2


def test_another_users_notification_is_404(client, alice, bob, bob_notified):
    notification = Notification.objects.filter(recipient=bob).first()
    client.force_login(alice)

    response = client.get(reverse("notifications:open", args=[notification.pk]))

    assert response.status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_notifications_require_login(client, bob, bob_notified):
    notification = Notification.objects.filter(recipient=bob).first()

    for url in (
        reverse("notifications:list"),
        reverse("notifications:open", args=[notification.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


@pytest.fixture
def withdrawn(alice, bob, agency_a, agency_b):
    """bob was notified of a restricted issue, then his agency's cooperation was withdrawn."""
    issue = _issue(alice, agency_a, visibility="restricted", cooperating_agencies=[agency_b])
    issue.refresh_from_db()
    services.issue_update(
        issue=issue, actor=alice, expected_version=issue.version, cooperating_agencies=[]
    )
    return SimpleNamespace(issue=issue, notification=Notification.objects.get(recipient=bob))


def test_a_notification_for_an_issue_that_became_invisible_is_not_listed(client, bob, withdrawn):
    client.force_login(bob)

    page = client.get(reverse("notifications:list")).content.decode()

    assert TITLE not in page
    assert reverse("notifications:open", args=[withdrawn.notification.pk]) not in page
    response = client.get(reverse("notifications:open", args=[withdrawn.notification.pk]))
    assert response.status_code == 404


# The bell (gwangju_hub/context_processors.py, through notifications.unread_count)
# must not count notifications of issues the user may no longer see; CONTRACT.md:
# "never a hint in a list, count, …". The page and the reminders are tested in
# tests/gwangju_hub/test_notifications_page.py.
def test_the_bell_does_not_count_notifications_of_invisible_issues(client, bob, withdrawn):
    client.force_login(bob)

    assert "badge" not in _bell(client)


# The bell's SQL is compiled once per person and process (notifications._BELL_SQL),
# keyed on everything visibility reads of them: a change of organization or role
# must change what the very next page counts.
def test_the_bell_follows_a_person_moved_to_another_agency_at_once(
    client, bob, withdrawn, agency_a, agency_b
):
    client.force_login(bob)
    assert "badge" not in _bell(client)

    bob.agency = agency_a  # the issue's lead agency: it may read it again
    bob.save()
    assert ">1<" in _bell(client)

    bob.agency = agency_b
    bob.save()
    assert "badge" not in _bell(client)


def test_the_bell_follows_a_person_given_the_mayors_office_role_at_once(client, bob, withdrawn):
    client.force_login(bob)
    assert "badge" not in _bell(client)

    bob.role = Role.MAYOR_OFFICE
    bob.save()

    assert ">1<" in _bell(client)


def test_the_bells_compiled_count_agrees_with_the_orm_for_every_role(
    alice, bob, hana, minji, superuser, withdrawn, bob_notified
):
    from gwangju_hub.notifications import reminder_notices_for, unread_count

    people = [alice, bob, hana, minji, superuser, UserFactory(agency=None, role=Role.STAFF)]
    for person in people:
        expected = (
            notifications.unread(person).count()
            + reminder_notices_for(person).filter(read_at=None).count()
        )
        assert unread_count(person) == expected, person.username
    assert unread_count(bob) == 2  # not all zeros: the comparison above means something
