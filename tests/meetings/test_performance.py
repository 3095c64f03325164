"""The December performance briefing: computed figures, report drafts and submission.

The figures are checked against a hand-built data set whose answers are known.
Today is 2026-06-15 10:00 in Seoul. Issue #3 was resolved at 00:30 on
2026-01-01 in Seoul, still 2025-12-31 in UTC: it counts for 2026, because
year edges are Seoul's.
"""

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from issues.models import Cooperation, Issue
from meetings import selectors, services
from meetings.models import PerformanceReport, PerformanceReportStatus
from tests.factories import AgencyFactory, UserFactory

SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime.datetime(2026, 6, 15, 10, 0, tzinfo=SEOUL)

pytestmark = [pytest.mark.django_db]


def at(year, month, day, hour=9, minute=0):
    return datetime.datetime(year, month, day, hour, minute, tzinfo=SEOUL)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def _issue(lead, author, *, created, status="open", resolved=None, due=None, **fields):
    issue = Issue.objects.create(
        title="현안", lead_agency=lead, created_by=author, status=status, due_date=due, **fields
    )
    Issue.objects.filter(pk=issue.pk).update(created_at=created, resolved_at=resolved)
    return issue


def _answered(issue, agency, status, answered):
    return Cooperation.objects.create(
        issue=issue, agency=agency, status=status, answered_at=answered
    )


@pytest.fixture
def data(alice, bob, agency_a, agency_b, agency_c, city):
    d = datetime.date
    i1 = _issue(
        agency_a, alice, created=at(2026, 1, 10), status="resolved", resolved=at(2026, 1, 20)
    )
    i2 = _issue(agency_a, alice, created=at(2026, 2, 1), status="closed", resolved=at(2026, 3, 3))
    _issue(
        agency_a,
        alice,
        created=at(2025, 12, 31, 23, 30),
        status="resolved",
        resolved=at(2026, 1, 1, 0, 30),
    )
    _issue(agency_a, alice, created=at(2026, 3, 1), due=d(2026, 6, 1))  # overdue now
    _issue(agency_a, alice, created=at(2026, 3, 1), due=d(2026, 6, 15))  # due today: not yet
    i6 = _issue(
        agency_a,
        alice,
        created=at(2025, 5, 1),
        due=d(2025, 11, 30),  # still open on 2025-12-31: overdue in 2025's figures
        status="resolved",
        resolved=at(2026, 2, 1),
    )
    i7 = _issue(agency_a, alice, created=at(2026, 4, 1), due=d(2026, 5, 1), visibility="restricted")
    _issue(agency_b, bob, created=at(2026, 5, 1), status="resolved", resolved=at(2026, 5, 3))
    _answered(i1, agency_b, "accepted", at(2026, 1, 15))
    Cooperation.objects.create(issue=i2, agency=agency_b)  # asked, never answered
    _answered(i6, agency_c, "done", at(2025, 6, 1))
    _answered(i7, agency_b, "done", at(2026, 4, 5))


def _by_slug(rows):
    return {row.agency.slug: row for row in rows}


def test_figures_for_this_year_match_the_hand_built_data(data, minji):
    rows = _by_slug(selectors.performance_statistics(2026, viewer=minji))

    assert set(rows) == {"agency-a", "agency-b", "agency-c"}  # the city hall reports nothing
    a, b, c = rows["agency-a"], rows["agency-b"], rows["agency-c"]
    assert (a.filed, a.resolved, a.overdue, a.cooperation_answered) == (5, 4, 2, 0)
    # 1 hour, 10, 30 and 276 days: the median is (10 + 30) / 2.
    assert a.median_days == pytest.approx(20.0)
    assert (b.filed, b.resolved, b.overdue, b.cooperation_answered) == (1, 1, 0, 2)
    assert b.median_days == pytest.approx(2.0)
    assert (c.filed, c.resolved, c.median_days, c.overdue, c.cooperation_answered) == (
        0,
        0,
        None,
        0,
        0,
    )


def test_figures_for_a_past_year_count_what_was_overdue_on_december_31(data, minji):
    rows = _by_slug(selectors.performance_statistics(2025, viewer=minji))
    a = rows["agency-a"]
    assert (a.filed, a.resolved, a.median_days, a.overdue) == (2, 0, None, 1)
    assert rows["agency-c"].cooperation_answered == 1


def test_counts_never_include_issues_the_viewer_may_not_read(data, carol, bob):
    rows = _by_slug(selectors.performance_statistics(2026, viewer=carol))
    assert (rows["agency-a"].filed, rows["agency-a"].overdue) == (4, 1)
    assert rows["agency-b"].cooperation_answered == 1
    # Bob's agency cooperates on the restricted issue, so it counts for him.
    assert (
        _by_slug(selectors.performance_statistics(2026, viewer=bob))[
            "agency-b"
        ].cooperation_answered
        == 2
    )


def test_the_overview_lists_every_agency_with_its_report_state(client, data, alice, hana, bob):
    services.performance_report_save(
        agency=hana.agency,
        year=2026,
        data={"summary": "요약"},
        actor=hana,
        expected_version=0,
        submit=True,
    )
    client.force_login(bob)
    response = client.get(
        reverse("performance:overview", args=[2026]), headers={"accept-language": "en"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    for name in ("Agency A", "Agency B", "Agency C"):
        assert name in html
    assert "Gwangju City Hall" not in html
    assert "Submitted" in html and "Not submitted" in html
    assert "1 of 3 organizations have submitted their reports." in html


@pytest.mark.parametrize("size", [3, 15])
def test_the_overview_takes_a_constant_number_of_queries(
    client, minji, alice, agency_a, size, django_assert_num_queries
):
    for n in range(size):
        agency = AgencyFactory()
        author = UserFactory(agency=agency)
        _issue(
            agency, author, created=at(2026, 1, 1), status="resolved", resolved=at(2026, 2, n + 1)
        )
        PerformanceReport.objects.create(agency=agency, year=2026, summary="요약")
    client.force_login(minji)
    # session, user (with agency, for the header), bell (one), agencies, counts,
    # medians, cooperation answers, reports.
    with django_assert_num_queries(8):
        response = client.get(reverse("performance:overview", args=[2026]))
    assert len(response.context["rows"]) == size + 1


def test_years_out_of_range_and_unknown_agencies_are_404(client, alice, city):
    client.force_login(alice)
    assert client.get(reverse("performance:overview", args=[1999])).status_code == 404
    assert client.get(reverse("performance:report", args=[2026, "nope"])).status_code == 404
    assert client.get(reverse("performance:report", args=[2026, city.slug])).status_code == 404


# --- the report ---------------------------------------------------------------------


def _post(client, agency, *, version, action="draft", **fields):
    return client.post(
        reverse("performance:report", args=[2026, agency.slug]),
        {"version": version, "action": action, **fields},
        headers={"accept-language": "en"},
    )


def test_staff_save_a_draft_that_other_agencies_cannot_read(client, alice, bob, agency_a):
    client.force_login(alice)
    response = _post(client, agency_a, version=0, summary="초안 요약", achievements="성과")
    assert response.status_code == 302
    report = PerformanceReport.objects.get()
    assert (report.status, report.version, report.updated_by) == ("draft", 1, alice)

    client.force_login(bob)
    html = client.get(reverse("performance:report", args=[2026, "agency-a"])).content.decode()
    assert "초안 요약" not in html


def test_the_mayors_office_reads_drafts_but_cannot_edit(client, alice, minji, agency_a):
    client.force_login(alice)
    _post(client, agency_a, version=0, summary="초안 요약")
    client.force_login(minji)
    html = client.get(reverse("performance:report", args=[2026, "agency-a"])).content.decode()
    assert "초안 요약" in html
    assert "<textarea" not in html
    assert _post(client, agency_a, version=1, summary="고침").status_code == 403


def test_only_the_head_submits(client, alice, victor, hana, agency_a):
    for user in (alice, victor):
        client.force_login(user)
        assert (
            _post(client, agency_a, version=0, action="submit", summary="요약").status_code == 403
        )
    client.force_login(hana)
    assert _post(client, agency_a, version=0, action="submit", summary="요약").status_code == 302
    report = PerformanceReport.objects.get()
    assert report.status == PerformanceReportStatus.SUBMITTED
    assert report.submitted_by == hana
    assert report.submitted_at is not None


def test_the_submit_button_is_only_shown_to_the_head(client, alice, hana):
    url = reverse("performance:report", args=[2026, "agency-a"])
    client.force_login(alice)
    assert 'value="submit"' not in client.get(url).content.decode()
    client.force_login(hana)
    assert 'value="submit"' in client.get(url).content.decode()


def test_a_submitted_report_is_read_only_for_staff_and_the_head_can_take_it_back(
    client, alice, hana, bob, agency_a
):
    client.force_login(hana)
    _post(client, agency_a, version=0, action="submit", summary="제출본")
    client.force_login(bob)
    assert (
        "제출본"
        in client.get(reverse("performance:report", args=[2026, "agency-a"])).content.decode()
    )
    client.force_login(alice)
    assert _post(client, agency_a, version=1, summary="몰래 고침").status_code == 403
    client.force_login(hana)
    assert _post(client, agency_a, version=1, summary="수정 중").status_code == 302
    report = PerformanceReport.objects.get()
    assert (report.status, report.summary, report.submitted_at) == ("draft", "수정 중", None)


def test_submitting_needs_a_summary(hana, agency_a):
    with pytest.raises(ValidationError):
        services.performance_report_save(
            agency=agency_a, year=2026, data={}, actor=hana, expected_version=0, submit=True
        )


def test_a_stale_save_is_refused_and_keeps_the_users_text(client, alice, victor, agency_a):
    client.force_login(alice)
    _post(client, agency_a, version=0, summary="처음")
    client.force_login(victor)
    _post(client, agency_a, version=1, summary="부기관장 수정")

    client.force_login(alice)
    response = _post(client, agency_a, version=1, summary="앨리스 수정")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Someone else saved this report while you were editing it." in html
    assert "앨리스 수정" in html
    assert 'name="version" value="2"' in html
    report = PerformanceReport.objects.get()
    assert (report.summary, report.version) == ("부기관장 수정", 2)


def test_the_service_refuses_writers_from_other_agencies_and_the_mayors_office(
    bob, minji, agency_a
):
    for user in (bob, minji):
        with pytest.raises(PermissionDenied):
            services.performance_report_save(
                agency=agency_a, year=2026, data={"summary": "x"}, actor=user, expected_version=0
            )


def test_the_briefing_book_prints_submitted_reports_only(client, data, hana, bob, minji):
    services.performance_report_save(
        agency=hana.agency,
        year=2026,
        data={"summary": "가기관 제출 요약", "achievements": "**성과**"},
        actor=hana,
        expected_version=0,
        submit=True,
    )
    services.performance_report_save(
        agency=bob.agency, year=2026, data={"summary": "나기관 초안"}, actor=bob, expected_version=0
    )
    client.force_login(minji)
    html = client.get(reverse("performance:print", args=[2026])).content.decode()
    assert "가기관 제출 요약" in html
    assert "<strong>성과</strong>" in html
    assert "나기관 초안" not in html
    assert "css/meetings.css" in html
