"""Agendas in a real browser: a vice-head escalates an issue, the Mayor's office
accepts it and records a decision, and the decision shows on the issue.

The pages run in English so the test does not depend on the Korean catalogue.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from issues import services as issue_services
from meetings import services
from meetings.models import AgendaItem, AgendaItemStatus, Meeting, MeetingKind
from tests.browser.conftest import login, serious_accessibility_violations
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def upcoming(agency_a, agency_b):
    starts_at = timezone.now() + timedelta(days=14)
    meeting = Meeting.objects.create(
        kind=MeetingKind.VICE_HEADS,
        title="제4차 부기관장 회의",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        location="광주광역시청 3층 중회의실",
        chair="행정부시장",
    )
    meeting.invited_agencies.set([agency_a, agency_b])
    return meeting


def _begin(meeting: Meeting) -> None:
    """The meeting began an hour ago: decisions can only be recorded from then on."""
    now = timezone.now()
    Meeting.objects.filter(pk=meeting.pk).update(
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1)
    )
    meeting.refresh_from_db()


def _english_page(browser):
    page = browser.new_context(locale="en-US").new_page()
    page.set_default_timeout(10_000)
    return page


def test_a_vice_head_escalates_an_issue_and_the_decision_reaches_the_issue(
    browser, live_server, alice, bob, victor, minji, upcoming
):
    issue = issue_services.issue_create(
        actor=alice,
        title="도시철도 환승 할인 공동 시행",
        lead_agency=alice.agency,
        cooperating_agencies=[bob.agency],
    )

    # Victor (vice-head of agency A) puts the issue on the upcoming meeting's agenda.
    victor_page = _english_page(browser)
    login(victor_page, live_server, "victor", TEST_PASSWORD, english=True)
    victor_page.goto(f"{live_server.url}{issue.get_absolute_url()}")
    box = victor_page.locator("#issue-agenda")
    box.get_by_label("Put on the agenda of").select_option(str(upcoming.pk))
    box.get_by_role("button", name="Propose for the agenda").click()
    box = victor_page.locator("#issue-agenda")  # swapped in place by htmx
    box.get_by_role("link", name=f"On the agenda of {upcoming.title}").wait_for()
    assert box.get_by_text("Proposed", exact=True).is_visible()
    assert AgendaItem.objects.get().status == AgendaItemStatus.PROPOSED

    # Minji (Mayor's office) accepts it and records the decision with a follow-up date.
    minji_page = _english_page(browser)
    login(minji_page, live_server, "minji", TEST_PASSWORD, english=True)
    minji_page.goto(f"{live_server.url}{upcoming.get_absolute_url()}")
    agenda = minji_page.locator("#agenda")
    agenda.get_by_role("button", name="Accept").click()
    minji_page.locator("#agenda").get_by_text("Accepted", exact=True).wait_for()
    # No decision before the meeting; once it has begun, the form is there.
    assert minji_page.locator("#agenda").get_by_role("button", name="Record decision").count() == 0
    _begin(upcoming)
    minji_page.reload()
    due = timezone.localdate() + timedelta(days=30)
    agenda = minji_page.locator("#agenda")
    agenda.get_by_label("Decision").fill("두 기관이 실무 협의회를 구성하여 세부 계획을 보고한다.")
    agenda.get_by_label("Follow-up due date").fill(due.isoformat())
    agenda.get_by_role("button", name="Record decision").click()
    minji_page.locator("#agenda .agenda-decision").get_by_text(
        "두 기관이 실무 협의회를 구성하여 세부 계획을 보고한다."
    ).wait_for()

    # Back on the issue, Victor sees the decision and the new due date.
    victor_page.reload()
    timeline = victor_page.locator("#timeline")
    assert timeline.get_by_text(
        "두 기관이 실무 협의회를 구성하여 세부 계획을 보고한다."
    ).is_visible()
    # The agenda box is a meetings fragment the page loads once shown (hx-trigger="load").
    victor_page.locator("#issue-agenda").get_by_text("Accepted", exact=True).wait_for()
    assert due.isoformat() in victor_page.locator(".issue-fields").inner_text()


@pytest.mark.parametrize("path", ["list", "detail", "performance", "report"])
def test_meeting_and_performance_pages_have_no_serious_accessibility_violations(
    browser, live_server, alice, hana, minji, upcoming, path
):
    issue = issue_services.issue_create(
        actor=alice, title="접근성 점검용 현안", lead_agency=alice.agency
    )
    item = services.agenda_item_propose(meeting=upcoming, issue=issue, actor=hana)
    services.agenda_item_accept(item=item, actor=minji)
    _begin(upcoming)  # so the decision can be recorded, and the minutes form shows too
    item = AgendaItem.objects.select_related("meeting").get(pk=item.pk)
    services.agenda_item_decide(item=item, decision="원안 의결", follow_up_due=None, actor=minji)
    year = timezone.localdate().year
    services.performance_report_save(
        agency=alice.agency,
        year=year,
        data={"summary": "요약", "achievements": "- 성과 하나\n- 성과 둘"},
        actor=hana,
        expected_version=0,
        submit=True,
    )
    url, username = {
        "list": ("/meetings/", "alice"),
        "detail": (upcoming.get_absolute_url(), "minji"),  # with every management form
        "performance": (f"/performance/{year}/", "minji"),
        "report": (f"/performance/{year}/{alice.agency.slug}/", "hana"),  # with the form
    }[path]
    page = browser.new_context(locale="ko-KR").new_page()
    login(page, live_server, username, TEST_PASSWORD)

    page.goto(f"{live_server.url}{url}")

    assert serious_accessibility_violations(page) == []
