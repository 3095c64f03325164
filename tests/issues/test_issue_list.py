import datetime

import pytest
from django.db import connection
from django.db.models.signals import post_delete
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from factory.django import mute_signals

from issues import services
from issues.models import Category, Issue
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db


def _listed(client, **params) -> list[str]:
    response = client.get(reverse("issues:list"), params)
    assert response.status_code == 200
    return [issue.title for issue in response.context["page"].object_list]


@pytest.fixture
def issues(alice, bob, carol):
    """A small, varied set: titles say what each one is."""
    make = services.issue_create
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    made = {
        "ai": make(actor=alice, title="인공지능을 활용한 민원 분석", lead_agency=alice.agency,
                   priority="high", cooperating_agencies=[bob.agency]),
        "subway": make(actor=bob, title="도시철도 2호선 공사 교통 대책", lead_agency=bob.agency,
                       description="우회 노선과 인공지능 신호 제어", priority="urgent"),
        "festival": make(actor=carol, title="비엔날레 셔틀버스 운영", lead_agency=carol.agency,
                         cooperating_agencies=[alice.agency], priority="low"),
        "late": make(actor=alice, title="기한 지난 보고서", lead_agency=alice.agency),
        "done": make(actor=alice, title="완료된 협약", lead_agency=alice.agency),
    }  # fmt: skip
    Issue.objects.filter(pk=made["late"].pk).update(due_date=yesterday)
    services.issue_change_status(
        issue=made["done"], actor=alice, expected_version=1, status="resolved"
    )
    return made


def test_it_lists_issues_newest_activity_first(client, alice, issues):
    client.force_login(alice)

    titles = _listed(client)

    assert titles[0] == "완료된 협약"  # its status change is the latest activity
    assert set(titles) == {i.title for i in issues.values()}


def test_search_matches_korean_substrings_in_title_and_description(client, alice, issues):
    client.force_login(alice)

    assert set(_listed(client, q="인공지능")) == {
        "인공지능을 활용한 민원 분석",
        "도시철도 2호선 공사 교통 대책",
    }
    assert _listed(client, q="셔틀") == ["비엔날레 셔틀버스 운영"]
    assert _listed(client, q="없는말") == []


def test_a_short_search_matches_substrings_and_takes_wildcards_literally(client, alice, issues):
    """Below three characters the search reads with STRPOS/INSTR, not LIKE:
    the same substrings, in the title or the description, and % or _ is a
    character like any other."""
    services.issue_create(actor=alice, title="예산 100% 집행", lead_agency=alice.agency)
    services.issue_create(actor=alice, title="예산 1_0 집행", lead_agency=alice.agency)
    client.force_login(alice)

    assert _listed(client, q="셔틀") == ["비엔날레 셔틀버스 운영"]
    assert _listed(client, q="노선") == ["도시철도 2호선 공사 교통 대책"]  # description
    assert _listed(client, q="%") == ["예산 100% 집행"]
    assert _listed(client, q="_") == ["예산 1_0 집행"]
    assert _listed(client, q="0%") == ["예산 100% 집행"]


def test_search_is_case_insensitive_for_latin_letters(client, alice, bob):
    services.issue_create(actor=alice, title="AI Data Center 연계", lead_agency=alice.agency)
    client.force_login(bob)

    assert _listed(client, q="data center") == ["AI Data Center 연계"]


def test_it_filters_by_status_priority_and_overdue(client, alice, issues):
    client.force_login(alice)

    assert _listed(client, status="resolved") == ["완료된 협약"]
    assert _listed(client, priority="urgent") == ["도시철도 2호선 공사 교통 대책"]
    assert _listed(client, overdue="1") == ["기한 지난 보고서"]


def test_agency_filter_matches_lead_or_cooperating(client, alice, issues):
    client.force_login(alice)

    titles = set(_listed(client, agency=alice.agency.slug))

    assert titles == {
        "인공지능을 활용한 민원 분석",
        "비엔날레 셔틀버스 운영",
        "기한 지난 보고서",
        "완료된 협약",
    }


def test_waiting_shortcut_lists_requests_my_agency_has_not_answered(client, alice, bob, issues):
    client.force_login(bob)
    assert _listed(client, waiting="1") == ["인공지능을 활용한 민원 분석"]

    cooperation = issues["ai"].cooperations.get()
    services.cooperation_answer(cooperation=cooperation, actor=bob, status="accepted")
    assert _listed(client, waiting="1") == []


def test_mine_lists_issues_i_filed_or_am_assigned(client, alice, bob, issues):
    Issue.objects.filter(pk=issues["festival"].pk).update(assignee=bob)
    client.force_login(bob)

    assert set(_listed(client, mine="1")) == {
        "도시철도 2호선 공사 교통 대책",
        "비엔날레 셔틀버스 운영",
    }


def test_sort_by_priority_and_due_date(client, alice, issues):
    client.force_login(alice)

    assert _listed(client, sort="priority")[:2] == [
        "도시철도 2호선 공사 교통 대책",
        "인공지능을 활용한 민원 분석",
    ]
    assert _listed(client, sort="due")[0] == "기한 지난 보고서"


def test_unknown_filter_values_are_ignored_with_a_message_not_an_error(client, alice, issues):
    client.force_login(alice)

    response = client.get(
        reverse("issues:list"),
        {
            "status": "exploded",
            "agency": "nowhere",
            "priority": "<script>",
            "page": "abc",
            "sort": "x",
        },
    )

    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 5
    assert "<script>" not in response.content.decode()


def test_htmx_requests_get_only_the_results_fragment(client, alice, issues):
    client.force_login(alice)

    response = client.get(reverse("issues:list"), {"q": "셔틀"}, headers={"hx-request": "true"})

    body = response.content.decode()
    assert body.lstrip().startswith('<section id="results"')
    assert "<html" not in body
    assert "비엔날레 셔틀버스 운영" in body
    assert "HX-Request" in response["Vary"]


def test_the_full_page_keeps_filters_in_the_form_for_bookmarks(client, alice, issues):
    client.force_login(alice)

    body = client.get(reverse("issues:list"), {"q": "셔틀", "status": "open"}).content.decode()

    assert 'value="셔틀"' in body
    assert 'hx-push-url="true"' in body
    assert "/issues/export.csv?q=" in body


def test_pagination_keeps_the_filters(client, alice):
    for n in range(30):
        services.issue_create(actor=alice, title=f"검색 대상 {n}", lead_agency=alice.agency)
    client.force_login(alice)

    first = client.get(reverse("issues:list"), {"q": "검색 대상"})
    second = client.get(reverse("issues:list"), {"q": "검색 대상", "page": 2})

    assert first.context["page"].paginator.count == 30
    assert len(first.context["page"].object_list) == 25
    assert len(second.context["page"].object_list) == 5
    assert "q=%EA%B2%80%EC%83%89" in first.content.decode()  # the next-page link keeps q


def _populate(size: int, lead, cooperators, author) -> None:
    for n in range(size):
        issue = services.issue_create(
            actor=author,
            title=f"현안 {n}",
            lead_agency=lead,
            cooperating_agencies=cooperators,
        )
        services.comment_create(issue=issue, actor=author, body="진행 상황 공유")


@pytest.mark.parametrize("size", [3, 30])
def test_list_query_count_does_not_grow_with_issues(client, alice, size, django_assert_num_queries):
    cooperators = [AgencyFactory() for _ in range(3)]
    UserFactory(agency=cooperators[0])
    _populate(size, alice.agency, cooperators, alice)
    client.force_login(alice)

    # The first list page reads the menus (organizations, categories): 2 queries.
    with django_assert_num_queries(9):
        client.get(reverse("issues:list"))
    # Every later one: session, user (with their agency, for the header), the unread
    # bell (one UNION ALL count), count, one page of issues, their cooperations; the
    # saved searches beside the list. The menus are kept (selectors.menu_options).
    with django_assert_num_queries(7):
        response = client.get(reverse("issues:list"))
    assert len(response.context["page"].object_list) == min(size, 25)


def test_the_menus_show_a_renamed_or_new_organization_or_category_at_once(client, alice):
    """The list keeps its menus for a minute, but a change made here clears them."""
    client.force_login(alice)
    client.get(reverse("issues:list"))  # the menus are now kept

    alice.agency.name_ko = "새이름재단"
    alice.agency.save()
    new_agency = AgencyFactory(name_ko="신설연구원")
    category = Category.objects.create(slug="new-kind", name_ko="새분류", name_en="New kind")
    page = client.get(reverse("issues:list")).content.decode()

    assert "새이름재단" in page
    assert f'<option value="{new_agency.slug}">신설연구원</option>' in page
    assert '<option value="new-kind">새분류</option>' in page

    category.delete()
    assert '<option value="new-kind">' not in client.get(reverse("issues:list")).content.decode()


def test_a_menu_choice_gone_from_the_database_is_ignored(client, alice):
    """A menu kept in another process may still offer a deleted category for a minute."""
    client.force_login(alice)
    category = Category.objects.create(slug="gone", name_ko="사라진분류", name_en="Gone")
    services.issue_create(actor=alice, title="남은 현안", lead_agency=alice.agency)
    client.get(reverse("issues:list"))
    with mute_signals(post_delete):  # deleted by another process: this one's menu is stale
        category.delete()

    response = client.get(reverse("issues:list"), {"category": "gone"})

    page = response.content.decode()
    assert response.status_code == 200
    assert '<option value="gone" selected>사라진분류</option>' in page  # for up to a minute
    assert 'aria-invalid="true" aria-describedby="id_category_error"' in page  # it says so
    assert "남은 현안" in page  # and the filter it names is ignored, as any unknown value


def test_dashboard_filters_select_exactly_their_issues(client, minji, alice, bob, issues):
    """The dashboard links with lead, active, waiting_for and resolved_* parameters."""
    client.force_login(minji)
    today = timezone.localdate().isoformat()

    assert set(_listed(client, lead=alice.agency.slug, active="1")) == {
        "인공지능을 활용한 민원 분석",
        "기한 지난 보고서",
    }
    assert _listed(client, waiting_for=bob.agency.slug) == ["인공지능을 활용한 민원 분석"]
    assert _listed(client, resolved_from=today, resolved_to=today) == ["완료된 협약"]
    body = client.get(reverse("issues:list"), {"lead": alice.agency.slug}).content.decode()
    assert 'type="hidden" name="lead" value="agency-a"' in body  # kept when narrowing further


def test_a_search_counts_its_matches_up_to_a_cap(client, alice, monkeypatch):
    """A broad search stops counting at the cap (a short Korean word scans the table)."""
    monkeypatch.setattr("issues.views.SEARCH_COUNT_CAP", 3)
    monkeypatch.setattr("issues.views.PAGE_SIZE", 2)
    for n in range(5):
        services.issue_create(actor=alice, title=f"민원 {n}", lead_agency=alice.agency)
    client.force_login(alice)

    broad = client.get(reverse("issues:list"), {"q": "민원"})
    exact = client.get(reverse("issues:list"), {"q": "민원 4"})
    unfiltered = client.get(reverse("issues:list"))

    assert "현안 3건 이상" in broad.content.decode()
    assert broad.context["page"].paginator.num_pages == 2  # the first 3 matches' pages
    assert "현안 1건" in exact.content.decode()
    assert "현안 5건" in unfiltered.content.decode()  # the plain list counts exactly


def test_a_search_counts_without_ordering_what_it_counts(client, alice):
    """The capped count needs no order, and an ordered one walks the ordering index."""
    services.issue_create(actor=alice, title="민원 하나", lead_agency=alice.agency)
    client.force_login(alice)

    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("issues:list"), {"q": "민원"})

    sqls = [q["sql"] for q in queries if "issues_issue" in q["sql"] and "민원" in q["sql"]]
    counts = [sql for sql in sqls if sql.startswith("SELECT COUNT(*)")]
    assert len(counts) == 1
    assert "ORDER BY" not in counts[0]
    assert "LIMIT" in counts[0]


@pytest.mark.parametrize("params", [{}, {"q": "민원"}, {"overdue": "1"}])
def test_the_count_reads_no_joins_the_rows_need(client, alice, issues, params):
    """The rows' organization and category names are joined in for the page
    only: joined into the count, they made it read ~9 ms instead of ~1 on
    20,000 issues."""
    client.force_login(alice)

    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("issues:list"), params)

    counts = [q["sql"] for q in queries if q["sql"].startswith("SELECT COUNT(*)")]
    counts = [sql for sql in counts if "issues_notification" not in sql]  # not the bell's
    assert len(counts) == 1
    assert "agencies_agency" not in counts[0] and "issues_category" not in counts[0]


def test_the_filter_panel_is_folded_unless_a_filter_is_set(client, alice):
    """On a phone the panel would fill the first screen; app.js opens it on wider ones."""
    client.force_login(alice)

    plain = client.get(reverse("issues:list")).content.decode()
    filtered = client.get(reverse("issues:list"), {"status": "open"}).content.decode()

    assert '<details class="filter-panel" data-open-wide>' in plain
    assert "<summary" in plain and "검색 조건" in plain
    assert '<details class="filter-panel" data-open-wide open>' in filtered


LIST_QUERIES = [
    {},
    {"q": "인공지능"},
    {"mine": "1"},
    {"waiting": "1"},
    {"following": "1"},
    {"sort": "priority"},
    {"overdue": "1"},  # reads the clock: built every time
]


def test_people_of_one_shape_each_see_their_own_list(client, alice, bob, carol, minji, issues):
    """The list's queries are compiled once per filters and shape of person
    (issues.selectors.list_pages) and run with each person's ids: asked one
    after the other, each person sees exactly what the queryset gives them."""
    from issues.forms import IssueFilterForm
    from issues.selectors import issue_list

    Issue.objects.filter(pk=issues["festival"].pk).update(visibility="restricted")
    services.issue_follow(user=bob, issue=issues["ai"])
    for _round in range(2):
        for params in LIST_QUERIES:
            for person in (alice, bob, carol, minji):
                client.force_login(person)
                filters = IssueFilterForm(params).filters()
                expected = [i.title for i in issue_list(user=person, filters=filters)]
                assert _listed(client, **params) == expected, (person.username, params)

    # Spelled out, so a mistake on both sides would still show.
    client.force_login(carol)
    assert "비엔날레 셔틀버스 운영" in _listed(client)
    assert "인공지능을 활용한 민원 분석" not in _listed(client, following="1")
    client.force_login(bob)
    assert "비엔날레 셔틀버스 운영" not in _listed(client)
    assert "인공지능을 활용한 민원 분석" in _listed(client, following="1")
