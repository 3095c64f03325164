"""The daily digest (업무 요약): what it says per role, when it is silent, and once a day.

The day under test is Thursday 2026-12-03; its digest covers news since
Wednesday 08:30 and is due at 08:30 Asia/Seoul. Mail goes to Django's
in-memory outbox, except for the exactly-once test, which runs two
``send_digests`` processes against a real SMTP server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agencies.models import Delivery, NoticeKind, Role
from gwangju_hub import digest
from gwangju_hub.models import DigestDay, DigestDelivery
from issues import services
from issues.models import Cooperation, Notification, Visibility
from meetings.models import AgendaItem, AgendaItemKind, AgendaItemStatus, MeetingKind
from tests.factories import AgencyFactory, CooperationFactory, IssueFactory, UserFactory
from tests.meetings.test_reminders_delivery import _counts, _database_url

DAY = date(2026, 12, 3)  # a Thursday
AT = digest.moment(DAY) + timedelta(minutes=1)
WINDOW = digest.moment(DAY) - timedelta(hours=3)  # inside Wed 08:30 → Thu 08:30


@pytest.fixture
def jiho(agency_b):
    return UserFactory(username="jiho", agency=agency_b, role=Role.STAFF)


@pytest.fixture
def awaiting(alice, bob, agency_a, agency_b):
    """An issue of agency A awaiting agency B's answer, assigned to Bob, due back Monday."""
    issue = IssueFactory(lead_agency=agency_a, created_by=alice, title="버스 노선 개편 협조")
    return CooperationFactory(
        issue=issue, agency=agency_b, assignee=bob, reply_by=date(2026, 12, 7)
    )


def plan_and_send():
    planned = digest.plan(DAY, now=AT)
    digest.OUTBOX.send(AT)
    return planned


def mail_to(user):
    [message] = [m for m in mail.outbox if m.to == [user.email]]
    return message


def test_a_request_awaiting_an_answer_reaches_its_organization_with_its_deadline(
    awaiting, bob, jiho, alice
):
    plan_and_send()

    bobs = DigestDelivery.objects.get(recipient=bob, day=DAY).content["awaiting"]
    assert bobs["total"] == 1
    assert bobs["items"][0] == {
        "issue": awaiting.issue_id,
        "title": "버스 노선 개편 협조",
        "reply_by": "2026-12-07",
        "assignee": bob.display_name,
        "yours": True,
    }
    assert (
        DigestDelivery.objects.get(recipient=jiho).content["awaiting"]["items"][0]["yours"] is False
    )
    body = mail_to(bob).body
    # Korean first, then the same in English, with a link into the app.
    assert body.index("회신을 기다리는 협조 요청") < body.index(
        "Requests awaiting your organization"
    )
    assert "2026-12-07" in body
    assert f"/issues/{awaiting.issue_id}/" in body
    assert "업무 요약" in mail_to(bob).subject and "Daily summary" in mail_to(bob).subject
    # The requesting side is not asked to answer its own request.
    assert not DigestDelivery.objects.filter(recipient=alice, content__has_key="awaiting").exists()


def test_a_request_past_its_deadline_is_marked_late(awaiting, bob):
    Cooperation.objects.filter(pk=awaiting.pk).update(reply_by=date(2026, 12, 1))
    plan_and_send()
    assert "기한 경과" in mail_to(bob).body
    assert "Past the deadline" in mail_to(bob).body


def test_issues_due_go_to_their_assignee_or_else_the_lead_organizations_staff(
    alice, victor, hana, agency_a
):
    soon = IssueFactory(lead_agency=agency_a, created_by=alice, due_date=date(2026, 12, 4))
    late = IssueFactory(
        lead_agency=agency_a, created_by=alice, assignee=victor, due_date=date(2026, 11, 20)
    )
    # Four working days ahead (Mon–Wed, not 3): not yet.
    IssueFactory(lead_agency=agency_a, created_by=alice, due_date=date(2026, 12, 9))

    plan_and_send()

    alices = DigestDelivery.objects.get(recipient=alice).content["due"]
    assert [item["issue"] for item in alices["items"]] == [soon.pk]
    victors = DigestDelivery.objects.get(recipient=victor).content["due"]
    assert victors["items"] == [
        {"issue": late.pk, "title": late.title, "due_date": "2026-11-20", "overdue": True}
    ]
    # The head is not told of every unassigned issue of the agency.
    assert not DigestDelivery.objects.filter(recipient=hana).exists()
    assert "[기한 초과]" in mail_to(victor).body or "Overdue" in mail_to(victor).body


def test_news_comes_by_the_persons_choice_and_only_in_the_window(open_issue, alice, bob):
    services.comment_create(issue=open_issue, actor=bob, body="자료를 보내드렸습니다.")
    Notification.objects.filter(recipient=alice).update(created_at=WINDOW)
    [notice] = Notification.objects.filter(recipient=alice)
    assert notice.delivery == Delivery.DIGEST  # comments: the digest by default

    plan_and_send()

    news = DigestDelivery.objects.get(recipient=alice).content["news"]
    assert news["items"][0]["text"] == "자료를 보내드렸습니다."
    assert "자료를 보내드렸습니다." in mail_to(alice).body


def test_news_someone_wants_at_once_or_only_in_the_bell_stays_out(open_issue, alice, bob):
    alice.notice_settings = {NoticeKind.COMMENT: Delivery.BELL}
    alice.save()
    services.comment_create(issue=open_issue, actor=bob, body="벨에만 알려 주세요.")
    Notification.objects.filter(recipient=alice).update(created_at=WINDOW)

    plan_and_send()

    assert not DigestDelivery.objects.filter(recipient=alice).exists()


def test_news_from_before_the_previous_digest_is_not_repeated(open_issue, alice, bob):
    services.comment_create(issue=open_issue, actor=bob, body="지난주 소식")
    Notification.objects.filter(recipient=alice).update(
        created_at=digest.moment(DAY) - timedelta(days=1, minutes=1)  # before Wed 08:30
    )
    plan_and_send()
    assert not DigestDelivery.objects.filter(recipient=alice).exists()


def test_meetings_of_the_week_with_what_ones_organization_presents(
    make_meeting, victor, minji, alice, carol, agency_a, open_issue
):
    meeting = make_meeting(
        starts_at=digest.moment(DAY) + timedelta(days=2),
        kind=MeetingKind.VICE_HEADS,
        invited=[agency_a],
        title="12월 부기관장 회의",
    )
    AgendaItem.objects.create(
        meeting=meeting,
        title="버스 노선 개편 보고",
        presenting_agency=agency_a,
        issue=open_issue,
        kind=AgendaItemKind.ISSUE_REVIEW,
        status=AgendaItemStatus.ACCEPTED,
    )
    make_meeting(starts_at=digest.moment(DAY) + timedelta(days=9), invited=[agency_a])

    plan_and_send()

    for person in (victor, minji):
        [entry] = DigestDelivery.objects.get(recipient=person).content["meetings"]
        assert entry["meeting"] == meeting.pk and entry["present"] == (
            ["버스 노선 개편 보고"] if person == victor else []
        )
    assert "버스 노선 개편 보고" in mail_to(victor).body
    # Alice files the issue on the agenda: its owner hears of the meeting too.
    assert DigestDelivery.objects.get(recipient=alice).content["meetings"][0]["meeting"] == (
        meeting.pk
    )
    assert not DigestDelivery.objects.filter(recipient=carol).exists()


def test_nothing_to_say_means_no_digest(carol, alice):
    assert plan_and_send() == 0
    assert DigestDay.objects.get(day=DAY).digests == 0
    assert mail.outbox == []


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 9, 25),  # 추석
        date(2026, 10, 5),  # 개천절's substitute holiday (Oct 3 is a Saturday)
        date(2026, 12, 5),  # a Saturday
    ],
)
def test_days_off_have_no_digest(awaiting, day):
    assert digest.plan(day, now=digest.moment(day) + timedelta(hours=1)) == 0
    assert not DigestDay.objects.exists()


def test_before_0830_the_day_is_not_planned_yet(awaiting):
    assert digest.plan(DAY, now=digest.moment(DAY) - timedelta(minutes=1)) == 0
    assert digest.plan(DAY, now=AT) == 1


def test_never_about_an_issue_the_person_may_no_longer_read(awaiting, bob, agency_a):
    issue = awaiting.issue
    digest.plan(DAY, now=AT)
    # Restricted, and agency B no longer cooperates, between planning and sending.
    issue.visibility = Visibility.RESTRICTED
    issue.save()
    Cooperation.objects.filter(pk=awaiting.pk).delete()

    digest.OUTBOX.send(AT)

    assert [m for m in mail.outbox if bob.email in m.to] == []
    assert DigestDelivery.objects.get(recipient=bob).sent_at is not None  # nothing owed any more


def test_an_inactive_person_gets_none(awaiting, bob):
    digest.plan(DAY, now=AT)
    bob.is_active = False
    bob.save()
    digest.OUTBOX.send(AT)
    assert mail.outbox == []
    assert DigestDelivery.objects.get(recipient=bob).skipped_at is not None


def test_the_command_runs_a_day_once_and_says_so(awaiting, bob, capsys):
    call_command("send_digests", "--date", DAY.isoformat())
    first = capsys.readouterr().out
    call_command("send_digests", "--date", DAY.isoformat())
    second = capsys.readouterr().out
    assert "planned 1" in first and "sent 1" in first
    assert "planned 0" in second and "sent 0" in second
    assert len(mail.outbox) == 1


def test_the_command_refuses_a_malformed_date():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("send_digests", "--date", "2026-13-01")


def test_planning_reads_a_fixed_number_of_queries_whatever_the_number_of_people(awaiting):
    def queries_for(extra: int) -> int:
        agencies = [AgencyFactory() for _ in range(extra)]
        for agency in agencies:
            UserFactory(agency=agency)
            issue = IssueFactory(lead_agency=agency, due_date=DAY)
            CooperationFactory(issue=issue, agency=awaiting.agency, reply_by=DAY)
        people = digest.recipients()
        with CaptureQueriesContext(connection) as queries:
            contents = digest.contents_for(people, DAY)
        assert len(contents) >= extra
        return len(queries)

    assert queries_for(2) == queries_for(20)


def test_the_admin_previews_anyones_digest_of_any_day(awaiting, bob, superuser, client):
    client.force_login(superuser)
    url = reverse("admin:gwangju_hub_digestdelivery_preview")
    changelist = client.get(reverse("admin:gwangju_hub_digestdelivery_changelist"))
    assert url in changelist.content.decode()  # the way in from the list
    response = client.get(url, {"user": bob.pk, "day": DAY.isoformat()})
    assert response.status_code == 200
    assert "버스 노선 개편 협조" in response.content.decode()
    holiday = client.get(url, {"user": bob.pk, "day": "2026-09-25"})
    assert "버스 노선 개편 협조" not in holiday.content.decode()
    assert mail.outbox == [] and not DigestDelivery.objects.exists()  # a preview sends nothing


def test_staff_cannot_open_the_preview(bob, client):
    client.force_login(bob)
    response = client.get(reverse("admin:gwangju_hub_digestdelivery_preview"))
    assert response.status_code == 302  # to the admin login


@pytest.mark.django_db(transaction=True)  # the other processes must see committed rows
def test_two_runs_at_once_send_each_person_exactly_one_digest(smtp_server, agency_b):
    people = [UserFactory(agency=agency_b) for _ in range(12)]
    for _ in range(3):
        CooperationFactory(agency=agency_b, reply_by=DAY)
    smtp_server.handler.delay = 0.1  # slow enough for the two runs to overlap
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}",
        "DEBUG": "1",
    }
    command = [
        sys.executable,
        "manage.py",
        "send_digests",
        "--date",
        DAY.isoformat(),
        "--batch-size",
        "2",
    ]
    runs = [
        subprocess.Popen(
            command,
            cwd=django_settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]

    assert [run.returncode for run in runs] == [0, 0], outputs
    counts = [_counts(out) for out, _ in outputs]
    assert sum(count["sent"] for count in counts) == len(people)
    received = Counter(address for e in smtp_server.envelopes for address in e.rcpt_tos)
    assert sorted(received) == sorted(person.email for person in people)
    assert set(received.values()) == {1}
    assert DigestDay.objects.get(day=DAY).digests == len(people)


def test_new_matches_of_a_saved_search_when_its_owner_asked_for_them(alice, agency_a, carol):
    from issues.models import Issue, SavedSearch

    SavedSearch.objects.create(
        user=carol, name="가기관 현안", query_string=f"agency={agency_a.slug}"
    )
    SavedSearch.objects.create(
        user=carol, name="전체 현안", query_string="", include_in_digest=False
    )
    SavedSearch.objects.create(
        user=alice, name="내 기관", query_string=f"agency={agency_a.slug}", include_in_digest=True
    )
    new = IssueFactory(lead_agency=agency_a, created_by=alice, title="새 협업 과제")
    hidden = IssueFactory(
        lead_agency=agency_a,
        created_by=alice,
        title="비공개 과제",
        visibility=Visibility.RESTRICTED,
    )
    old = IssueFactory(lead_agency=agency_a, created_by=alice, title="지난달 과제")
    Issue.objects.filter(pk__in=[new.pk, hidden.pk]).update(created_at=WINDOW)
    Issue.objects.filter(pk=old.pk).update(created_at=WINDOW - timedelta(days=30))
    SavedSearch.objects.filter(user=carol, name="가기관 현안").update(include_in_digest=True)

    plan_and_send()

    [carols] = DigestDelivery.objects.get(recipient=carol).content["searches"]
    # Carol may not read the restricted one: not even counted.
    assert (carols["name"], carols["total"]) == ("가기관 현안", 1)
    assert [issue["title"] for issue in carols["issues"]] == ["새 협업 과제"]
    [alices] = DigestDelivery.objects.get(recipient=alice).content["searches"]
    assert alices["total"] == 2
    assert "저장한 검색의 새 결과" in mail_to(carol).body
    assert f"/issues/?agency={agency_a.slug}" in mail_to(carol).body
