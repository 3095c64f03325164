"""The dashboard's figures against a hand-built data set whose answers are known.

Today is 2026-06-15 10:00 in Seoul; "this month" is June 1–15. Issue #3 was
resolved at 00:30 on June 1 in Seoul (still May 31 in UTC) and #4 at 23:30
on May 31 in Seoul: the period edges are Seoul's, not UTC's.
"""

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from issues.models import Cooperation, Event, EventKind, Issue
from meetings.models import AgendaItem, Meeting, ReminderDelivery
from tests.factories import AgencyFactory, UserFactory

SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime.datetime(2026, 6, 15, 10, 0, tzinfo=SEOUL)

pytestmark = [pytest.mark.django_db]


def at(year, month, day, hour=9, minute=0):
    return datetime.datetime(year, month, day, hour, minute, tzinfo=SEOUL)


@pytest.fixture(autouse=True)
def frozen_clock():
    cache.clear()  # figures are cached for a minute; each test starts afresh
    with time_machine.travel(NOW, tick=False):
        yield


def _issue(n, lead, author, *, status="open", created, resolved=None, due=None, visibility="all"):
    issue = Issue.objects.create(
        title=f"현안 {n}",
        lead_agency=lead,
        created_by=author,
        status=status,
        due_date=due,
        visibility=visibility,
    )
    Issue.objects.filter(pk=issue.pk).update(
        created_at=created, updated_at=created, resolved_at=resolved
    )
    return issue


def _cooperation(issue, agency, status, requested):
    cooperation = Cooperation.objects.create(issue=issue, agency=agency, status=status)
    Cooperation.objects.filter(pk=cooperation.pk).update(requested_at=requested)
    return cooperation


@pytest.fixture
def data(alice, bob, carol, agency_a, agency_b, agency_c, city):
    issues = {
        1: _issue(1, agency_a, alice, created=at(2026, 5, 10), due=datetime.date(2026, 6, 10)),
        2: _issue(2, agency_a, alice, status="in_progress", created=at(2026, 6, 2),
                  due=datetime.date(2026, 7, 1), visibility="restricted"),
        3: _issue(3, agency_b, bob, status="resolved", created=at(2026, 5, 22, 0, 30),
                  resolved=at(2026, 6, 1, 0, 30)),
        4: _issue(4, agency_b, bob, status="resolved", created=at(2026, 5, 1),
                  resolved=at(2026, 5, 31, 23, 30)),
        5: _issue(5, agency_c, carol, status="closed", created=at(2026, 6, 5),
                  resolved=at(2026, 6, 15, 9)),
        6: _issue(6, agency_a, alice, status="on_hold", created=at(2026, 4, 20)),
    }  # fmt: skip
    _cooperation(issues[1], agency_b, "requested", at(2026, 5, 20, 10))
    _cooperation(issues[2], agency_c, "requested", at(2026, 6, 10, 10))
    _cooperation(issues[3], agency_a, "declined", at(2026, 5, 23))
    upcoming = Meeting.objects.create(
        kind="vice_heads",
        title="6월 부기관장 회의",
        starts_at=at(2026, 6, 18, 14),
        ends_at=at(2026, 6, 18, 16),
    )
    upcoming.invited_agencies.set([agency_a, agency_b, agency_c])
    past = Meeting.objects.create(
        kind="vice_heads",
        title="4월 부기관장 회의",
        starts_at=at(2026, 4, 16, 14),
        ends_at=at(2026, 4, 16, 16),
    )
    AgendaItem.objects.create(
        meeting=upcoming, issue=issues[6], title="6", presenting_agency=agency_a, status="accepted"
    )
    AgendaItem.objects.create(
        meeting=upcoming, issue=issues[1], title="1", presenting_agency=agency_a, status="removed"
    )
    AgendaItem.objects.create(
        meeting=past, issue=issues[2], title="2", presenting_agency=agency_a, status="accepted"
    )
    return issues


def _rows(response) -> dict[str, object]:
    return {row.agency.slug: row for row in response.context["rows"]}


def test_headline_figures(client, minji, data):
    client.force_login(minji)

    headline = client.get(reverse("dashboard")).context["headline"]

    assert headline == {"open": 3, "overdue": 1, "resolved": 2, "waiting": 2, "on_agenda": 1}


def test_agency_table(client, minji, data):
    client.force_login(minji)

    rows = _rows(client.get(reverse("dashboard")))

    a, b, c = rows["agency-a"], rows["agency-b"], rows["agency-c"]
    assert (a.open, a.overdue, a.waiting, a.oldest_waiting_days, a.resolved, a.median_days) == (
        3, 1, 0, None, 0, None,
    )  # fmt: skip
    assert (b.open, b.waiting, b.oldest_waiting_days, b.resolved) == (0, 1, 26, 1)
    assert b.median_days == pytest.approx(10.0)
    assert (c.open, c.waiting, c.oldest_waiting_days, c.resolved) == (0, 1, 5, 1)
    assert c.median_days == pytest.approx(10.0)
    assert "gwangju-city" not in rows  # the city hall is not one of the organizations


def test_the_agency_table_shows_each_figure_linked_to_its_issues(client, minji, data):
    client.force_login(minji)

    response = client.get(reverse("dashboard"), headers={"accept-language": "en"})

    b = _rows(response)["agency-b"]
    link = b.links
    row = re.search(r"<tr><th scope=\"row\">Agency B</th>.*?</tr>", response.content.decode())
    assert row.group(0) == (
        '<tr><th scope="row">Agency B</th>'
        f'<td class="num"><a href="{link["open"].replace("&", "&amp;")}">0</a></td>'
        f'<td class="num"><a href="{link["overdue"].replace("&", "&amp;")}">0</a></td>'
        f'<td class="num"><a href="{link["waiting"].replace("&", "&amp;")}">1</a></td>'
        '<td class="num">26</td>'
        f'<td class="num{" is-alert" if b.reply_overdue else ""}">'
        f'<a href="{link["reply_overdue"].replace("&", "&amp;")}">{b.reply_overdue}</a></td>'
        '<td class="num">—</td>'
        f'<td class="num"><a href="{link["escalations"].replace("&", "&amp;")}">0</a></td>'
        f'<td class="num"><a href="{link["resolved"].replace("&", "&amp;")}">1</a></td>'
        '<td class="num">10.0</td></tr>'
    )
    assert link["waiting"] == "/issues/?waiting_for=agency-b&active=1"
    assert '<td class="num is-alert"><a href="/issues/?lead=agency-a&amp;overdue=1">1</a>' in (
        response.content.decode()
    )


def test_follow_through_per_cooperating_organization(client, minji, data, agency_a, agency_b):
    """Hand-counted: B has one request past its deadline and one escalation this month;
    A answered two requests this month, in 10 and 4 days."""
    Cooperation.objects.filter(issue=data[1], agency=agency_b).update(
        reply_by=datetime.date(2026, 6, 10)
    )
    Cooperation.objects.filter(issue=data[2]).update(reply_by=datetime.date(2026, 6, 20))
    Cooperation.objects.filter(issue=data[3], agency=agency_a).update(
        answered_at=at(2026, 6, 2), requested_at=at(2026, 5, 23)
    )
    answered = _cooperation(data[5], agency_a, "accepted", at(2026, 6, 5))
    Cooperation.objects.filter(pk=answered.pk).update(answered_at=at(2026, 6, 9))
    Event.objects.create(issue=data[1], kind=EventKind.ESCALATED, agency=agency_b)
    # The head heard of the same issue later: one issue escalated, counted once.
    Event.objects.create(issue=data[1], kind=EventKind.ESCALATED, agency=agency_b)
    Event.objects.create(  # last month: not in the period
        issue=data[1], kind=EventKind.ESCALATED, agency=agency_b, created_at=at(2026, 5, 28)
    )
    client.force_login(minji)

    response = client.get(reverse("dashboard"))
    rows = _rows(response)

    a, b, c = rows["agency-a"], rows["agency-b"], rows["agency-c"]
    assert (b.reply_overdue, b.escalations, b.answer_median_days) == (1, 1, None)
    assert (c.reply_overdue, c.escalations) == (0, 0)
    assert (a.reply_overdue, a.escalations) == (0, 0)
    assert a.answer_median_days == pytest.approx(7.0)
    listed = client.get(b.links["reply_overdue"]).context["page"].object_list
    assert [issue.pk for issue in listed] == [data[1].pk]
    escalated = client.get(b.links["escalations"]).context["page"].object_list
    assert [issue.pk for issue in escalated] == [data[1].pk]
    # The map marks the cell (lead A, cooperating B) and says why in words.
    html = response.content.decode()
    assert html.count("is-overdue") == 1
    assert "회신 기한 경과 1건" in html


def test_period_edges_are_in_seoul_time(client, minji, data):
    client.force_login(minji)

    may = client.get(
        reverse("dashboard"), {"period": "custom", "start": "2026-05-01", "end": "2026-05-31"}
    )
    june_first = client.get(
        reverse("dashboard"), {"period": "custom", "start": "2026-06-01", "end": "2026-06-01"}
    )

    assert may.context["headline"]["resolved"] == 1  # #4 at 23:30 on May 31
    assert june_first.context["headline"]["resolved"] == 1  # #3 at 00:30 on June 1


def test_quarter_and_year_periods(client, minji, data):
    client.force_login(minji)

    quarter = client.get(reverse("dashboard"), {"period": "quarter"}).context
    year = client.get(reverse("dashboard"), {"period": "year"}).context

    assert (quarter["period"].start, quarter["headline"]["resolved"]) == (
        datetime.date(2026, 4, 1),
        3,
    )
    assert (year["period"].start, year["headline"]["resolved"]) == (datetime.date(2026, 1, 1), 3)


def test_a_bad_custom_range_says_so_and_falls_back(client, minji, data):
    client.force_login(minji)

    response = client.get(
        reverse("dashboard"),
        {"period": "custom", "start": "2026-06-30", "end": "2026-06-01"},
        headers={"accept-language": "en"},
    )

    assert response.status_code == 200
    assert "must not be after" in response.content.decode()
    assert response.context["period"].key == "month"


def test_cooperation_map_counts_open_requests_and_marks_stale_ones(client, minji, data):
    client.force_login(minji)

    cooperation_map = client.get(reverse("dashboard")).context["cooperation_map"]

    cells = {
        (row["lead"].slug, cell["cooperator"].slug): (cell["open"], cell["stale"])
        for row in cooperation_map["rows"]
        for cell in row["cells"]
        if cell["open"]
    }
    assert cells == {("agency-a", "agency-b"): (1, 1), ("agency-a", "agency-c"): (1, 0)}


def test_the_cooperation_map_says_in_words_which_requests_wait_long(client, minji, data):
    client.force_login(minji)

    english = client.get(reverse("dashboard"), headers={"accept-language": "en"})
    korean = client.get(reverse("dashboard"), headers={"accept-language": "ko"})

    stale = (
        '<td class="coop-map__cell shade-1">1<span class="stale" title="{title}">!</span>'
        '<span class="sr-only">, {words}</span></td>'
    )
    assert (
        stale.format(title="waiting more than 14 days", words="1 waiting more than 14 days")
        in english.content.decode()
    )
    assert (
        stale.format(title="14일 넘게 대기", words="1건 14일 넘게 대기") in korean.content.decode()
    )
    assert '<td class="coop-map__cell shade-1">1</td>' in english.content.decode()  # A → C
    assert '<td class="coop-map__cell shade-0"></td>' in english.content.decode()


def test_trend_per_month_in_seoul_time(client, minji, data):
    client.force_login(minji)

    trend = {
        p["month"]: (p["opened"], p["resolved"])
        for p in client.get(reverse("dashboard")).context["trend"]
    }

    assert len(trend) == 12
    assert trend[datetime.date(2026, 6, 1)] == (2, 2)
    assert trend[datetime.date(2026, 5, 1)] == (3, 1)
    assert trend[datetime.date(2026, 4, 1)] == (1, 0)
    assert trend[datetime.date(2025, 7, 1)] == (0, 0)


def test_the_chart_is_accessible_svg_with_its_numbers(client, minji, data):
    client.force_login(minji)

    body = client.get(reverse("dashboard"), headers={"accept-language": "en"}).content.decode()

    assert '<svg viewBox="0 0 720 220" role="img" aria-labelledby="trend-title trend-desc"' in body
    assert "26.06: 2 opened, 2 resolved" in body


def test_every_number_links_to_a_list_with_exactly_that_many_issues(client, minji, data):
    client.force_login(minji)
    response = client.get(reverse("dashboard"))
    figures = [
        (response.context["headline"][k], response.context["headline_links"][k])
        for k in response.context["headline"]
    ]
    for row in response.context["rows"]:
        figures += [
            (getattr(row, k), row.links[k])
            for k in ("open", "overdue", "waiting", "reply_overdue", "escalations", "resolved")
        ]

    for figure, link in figures:
        listed = client.get(link).context["page"].paginator.count
        assert listed == figure, link


def test_the_next_meetings_and_briefing_readiness(client, minji, data, agency_a):
    from meetings.models import PerformanceReport

    PerformanceReport.objects.create(agency=agency_a, year=2026, status="submitted")
    client.force_login(minji)

    context = client.get(reverse("dashboard")).context

    assert [m["meeting"].title for m in context["meetings"]] == ["6월 부기관장 회의"]
    assert context["meetings"][0]["meeting"].agenda_accepted == 1
    assert [a.slug for a in context["readiness"]["submitted"]] == ["agency-a"]
    assert {a.slug for a in context["readiness"]["missing"]} == {"agency-b", "agency-c"}


def _reminder(meeting, recipient, *, sent: bool, offset_days: int = 1):
    due = meeting.starts_at - datetime.timedelta(days=offset_days)
    return ReminderDelivery.objects.create(
        meeting=meeting, purpose="meeting", recipient=recipient,
        offset=datetime.timedelta(days=offset_days), due_at=due, sent_at=due if sent else None,
    )  # fmt: skip


def test_each_next_meeting_says_how_many_of_its_reminders_were_sent(
    client, minji, data, alice, bob
):
    upcoming = Meeting.objects.get(title="6월 부기관장 회의")
    later = Meeting.objects.create(
        kind="vice_heads", title="7월", starts_at=at(2026, 7, 2, 14), ends_at=at(2026, 7, 2, 16)
    )
    _reminder(upcoming, alice, sent=True)
    _reminder(upcoming, bob, sent=True)
    _reminder(upcoming, alice, sent=False, offset_days=0)
    client.force_login(minji)

    meetings = client.get(reverse("dashboard")).context["meetings"]

    reminders = {item["meeting"].pk: item["reminders"] for item in meetings}
    assert reminders[upcoming.pk] == {"planned": 3, "sent": 2}
    assert reminders[later.pk] == {"planned": 0, "sent": 0}
    # The reminders join no agenda item: the agenda counts are unchanged.
    assert next(m for m in meetings if m["meeting"] == upcoming)["meeting"].agenda_accepted == 1


def test_a_head_sees_only_their_agency(client, hana, data):
    client.force_login(hana)

    response = client.get(reverse("dashboard"))

    assert [row.agency.slug for row in response.context["rows"]] == ["agency-a"]
    # Issues involving agency A: #1, #2, #6 active; #3 (A cooperated) resolved in June.
    assert response.context["headline"] == {
        "open": 3,
        "overdue": 1,
        "resolved": 1,
        "waiting": 2,
        "on_agenda": 1,
    }


def test_staff_are_sent_to_the_issue_list_and_anonymous_to_login(client, alice):
    assert client.get(reverse("dashboard"))["Location"].startswith("/accounts/login/")
    client.force_login(alice)
    assert client.get(reverse("dashboard"))["Location"] == reverse("issues:list")


def test_a_column_heading_sorts_the_agency_table_and_keeps_the_period(client, minji, data):
    client.force_login(minji)
    custom = {"period": "custom", "start": "2026-05-01", "end": "2026-06-15"}

    response = client.get(reverse("dashboard"), custom | {"sort": "-waiting"})

    # B and C wait for one answer each and keep their order; A for none.
    assert [row.agency.slug for row in response.context["rows"]] == [
        "agency-b",
        "agency-c",
        "agency-a",
    ]
    body = response.content.decode()
    kept = "?period=custom&amp;start=2026-05-01&amp;end=2026-06-15"
    assert f'aria-sort="descending"><a href="{kept}&amp;sort=waiting"' in body  # next: ascending
    assert f'aria-sort="none"><a href="{kept}&amp;sort=-open"' in body
    ascending = client.get(reverse("dashboard"), custom | {"sort": "median_days"}).context
    assert [row.agency.slug for row in ascending["rows"]][-1] == "agency-a"  # no median: last


def test_the_period_filter_answers_htmx_with_the_figures_only(client, minji, data):
    client.force_login(minji)

    response = client.get(reverse("dashboard"), {"period": "year"}, headers={"hx-request": "true"})

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="figures"')
    assert "<html" not in body


def test_the_page_says_as_of_when(client, minji, data):
    client.force_login(minji)

    body = client.get(reverse("dashboard"), headers={"accept-language": "en"}).content.decode()

    assert re.search(r"figures as of 2026-06-15 10:00", body)


def test_figures_follow_a_change_within_the_cache_lifetime(client, minji, data, agency_a, alice):
    client.force_login(minji)
    assert client.get(reverse("dashboard")).context["headline"]["open"] == 3

    _issue(7, agency_a, alice, created=NOW)
    with time_machine.travel(NOW + datetime.timedelta(seconds=61), tick=False):
        assert client.get(reverse("dashboard")).context["headline"]["open"] == 4


def test_agency_table_exports_as_csv_and_xlsx(client, minji, data):
    from io import BytesIO

    from openpyxl import load_workbook

    client.force_login(minji)

    csv_response = client.get(reverse("dashboard_export", args=["csv"]))
    csv_body = b"".join(csv_response.streaming_content).decode("utf-8")
    workbook = load_workbook(
        BytesIO(client.get(reverse("dashboard_export", args=["xlsx"])).content)
    )

    assert csv_body.startswith("\ufeff")
    assert "광주가기관,3,1,0,,0," in csv_body
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[1][:3] == ("광주가기관", 3, 1)
    assert client.get(reverse("dashboard_export", args=["pdf"])).status_code == 404


def test_exports_never_carry_a_live_formula(client, minji, data, agency_a):
    """An organization named like a formula (admin typo or malice) stays text."""
    from io import BytesIO

    from openpyxl import load_workbook

    agency_a.name_ko = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    agency_a.save()
    client.force_login(minji)

    csv_response = client.get(reverse("dashboard_export", args=["csv"]))
    csv_body = b"".join(csv_response.streaming_content).decode("utf-8-sig")
    workbook = load_workbook(
        BytesIO(client.get(reverse("dashboard_export", args=["xlsx"])).content)
    )

    assert "\n\"'=HYPERLINK(" in csv_body
    assert '\n"=HYPERLINK(' not in csv_body and "\n=HYPERLINK(" not in csv_body
    cells = [row[0] for row in workbook.active.iter_rows()]
    cell = next(c for c in cells if "HYPERLINK" in str(c.value))
    assert cell.value == agency_a.name_ko  # reads the same to a person
    assert cell.data_type == "s"
    assert cell.quotePrefix


def _grow(size, agencies, author):
    for n in range(size):
        lead = agencies[n % len(agencies)]
        issue = _issue(100 + n, lead, author, created=at(2026, 6, 1), due=datetime.date(2026, 6, 1))
        _cooperation(issue, agencies[(n + 1) % len(agencies)], "requested", at(2026, 5, 1))


@pytest.mark.parametrize(("size", "organizations"), [(5, 3), (60, 12)])
def test_query_count_is_fixed_whatever_the_data_size(
    client, minji, alice, size, organizations, django_assert_num_queries
):
    """Neither more issues nor more organizations cost a query more."""
    agencies = [AgencyFactory() for _ in range(organizations)]
    UserFactory(agency=agencies[0])
    _grow(size, agencies, alice)
    client.force_login(minji)

    # session, user (with agency), bell (one count); organizations (with their
    # reports); issue counts (headline, table), trend, on an upcoming agenda, medians,
    # open requests (table, map); answers' medians and escalations (follow-through);
    # next meetings (with their reminders); the briefing.
    with django_assert_num_queries(13):
        client.get(reverse("dashboard"))


def test_upcoming_meetings_and_their_reminders_cost_no_query_more(
    client, minji, alice, agency_a, django_assert_num_queries
):
    _grow(5, [agency_a, AgencyFactory()], alice)
    for day in (18, 19):
        meeting = Meeting.objects.create(
            kind="vice_heads", title=f"{day}", starts_at=at(2026, 6, day, 14),
            ends_at=at(2026, 6, day, 16),
        )  # fmt: skip
        _reminder(meeting, alice, sent=True)
    client.force_login(minji)

    with django_assert_num_queries(13):
        client.get(reverse("dashboard"))


@pytest.mark.parametrize("size", [5, 60])
def test_a_heads_query_count_is_fixed_too(
    client, hana, alice, agency_a, size, django_assert_num_queries
):
    _grow(size, [agency_a, *(AgencyFactory() for _ in range(3))], alice)
    client.force_login(hana)

    # As the Mayor's office, less the trend's own pass: a head's issue counts include it.
    with django_assert_num_queries(12):
        client.get(reverse("dashboard"))


@pytest.mark.parametrize(
    ("start", "end"), [("0001-01-01", "0001-01-02"), ("9999-12-31", "9999-12-31")]
)
def test_a_custom_range_outside_any_plausible_dates_is_refused_not_a_500(
    client, minji, data, start, end
):
    client.force_login(minji)
    params = {"period": "custom", "start": start, "end": end}

    response = client.get(reverse("dashboard"), params)

    assert response.status_code == 200 and response.context["period"].key == "month"
    assert client.get(reverse("dashboard_export", args=["csv"]), params).status_code == 200


def test_a_heads_agenda_counts_leave_out_items_about_issues_they_may_not_read(
    client, hana, data, agency_b, bob
):
    """Agency B's restricted issue on the agenda is invisible to agency A's head."""
    hidden = _issue(99, agency_b, bob, created=at(2026, 6, 1), visibility="restricted")
    upcoming = Meeting.objects.get(title="6월 부기관장 회의")
    AgendaItem.objects.create(
        meeting=upcoming,
        issue=hidden,
        title="비공개",
        presenting_agency=agency_b,
        status="accepted",
    )
    client.force_login(hana)

    meeting = client.get(reverse("dashboard")).context["meetings"][0]["meeting"]

    assert meeting.agenda_accepted == 1  # only #6, which agency A leads


def test_an_account_without_an_agency_is_not_shown_every_organization(client, db):
    from agencies.models import Role

    unplaced = UserFactory(username="unplaced", agency=None, role=Role.HEAD)
    client.force_login(unplaced)

    assert client.get(reverse("dashboard"))["Location"] == reverse("issues:list")
    assert client.get(reverse("dashboard_export", args=["csv"]))["Location"] == reverse(
        "issues:list"
    )


def test_two_different_mistakes_each_get_their_own_message(client, minji, data):
    """The cached page is keyed on the messages themselves, not on how many there are."""
    client.force_login(minji)
    reversed_range = {"period": "custom", "start": "2026-06-30", "end": "2026-06-01"}
    not_a_date = {"period": "custom", "start": "yesterday", "end": "2026-06-01"}
    headers = {"accept-language": "en"}

    first = client.get(reverse("dashboard"), reversed_range, headers=headers).content.decode()
    second = client.get(reverse("dashboard"), not_a_date, headers=headers).content.decode()

    assert "must not be after its end" in first
    assert "YYYY-MM-DD" in second
    assert "must not be after its end" not in second


@pytest.fixture
def cache_at(settings):
    """Point the cache at a Redis server of the test's choosing (core.cache forgets failures)."""
    from core import cache as resilient_cache

    def point(url: str) -> None:
        # Redis is the default cache only; the in-process ones stay as they are.
        settings.CACHES = {
            **settings.CACHES,
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
            },
        }
        resilient_cache.reset()

    yield point
    resilient_cache.reset()


def test_it_answers_with_its_figures_when_the_cache_refuses(client, minji, data, cache_at):
    cache_at("redis://127.0.0.1:9/0")  # nothing listens there
    client.force_login(minji)

    response = client.get(reverse("dashboard"))

    assert response.status_code == 200
    assert response.context["headline"]["open"] == 3


def test_it_answers_within_3_seconds_when_the_cache_hangs(
    client, minji, data, cache_at, throwaway_redis
):
    cache_at(throwaway_redis.url)
    client.force_login(minji)
    assert client.get(reverse("dashboard")).status_code == 200  # pooled connection now open
    throwaway_redis.hang()

    timings = []
    for _ in range(3):
        started = time_machine_free_clock()
        response = client.get(reverse("dashboard"), {"period": "year"})
        timings.append(time_machine_free_clock() - started)
        assert response.status_code == 200
        assert response.context["headline"]["open"] == 3

    assert max(timings) < 3.0
    # Only the first request pays the cache's timeout; the next ones skip it.
    assert timings[1] < 1.0 and timings[2] < 1.0


def time_machine_free_clock() -> float:
    """Wall-clock seconds that the frozen clock of this module does not stop."""
    import time

    return time.perf_counter()


def _kept_renderings() -> int:
    """How many renderings of the figures the template_fragments cache holds."""
    from django.core.cache import caches

    fragments = caches["template_fragments"]
    return sum("dashboard_figures" in key for key in fragments._cache)  # noqa: SLF001


def _headline_html(response) -> str:
    html = response.content.decode()
    return html[html.index('<ul class="headline">') : html.index("</ul>", html.index('"headline"'))]


def test_the_figures_are_rendered_once_per_computation(client, minji, data, agency_a, alice):
    """Kept figures are rendered once and kept with them; figures computed
    afresh (here at the very same frozen instant) are rendered afresh."""
    client.force_login(minji)
    first = client.get(reverse("dashboard"))
    before = _kept_renderings()
    second = client.get(reverse("dashboard"))
    assert _kept_renderings() == before, "the second request found the first rendering"
    assert _headline_html(second) == _headline_html(first)

    _issue(9, agency_a, alice, created=at(2026, 6, 14))
    cache.clear()  # the next request computes the figures again
    again = client.get(reverse("dashboard"))

    assert again.context["headline"]["open"] == 4
    assert '<span class="headline__value">4</span>' in _headline_html(again)
    assert _kept_renderings() == before + 1
    # In English: rendered once more, in that language.
    english = client.get(reverse("dashboard"), headers={"accept-language": "en"})
    assert "Open issues" in english.content.decode()


def test_with_the_cache_down_nothing_rendered_is_kept(
    client, minji, data, agency_a, alice, cache_at
):
    cache_at("redis://127.0.0.1:9/0")  # nothing listens there
    client.force_login(minji)
    before = _kept_renderings()

    client.get(reverse("dashboard"))
    _issue(9, agency_a, alice, created=at(2026, 6, 14))
    response = client.get(reverse("dashboard"))

    assert '<span class="headline__value">4</span>' in _headline_html(response)
    assert _kept_renderings() == before
