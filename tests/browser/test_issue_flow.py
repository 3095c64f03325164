"""The core journey in a real browser: file, cooperate, comment, follow."""

import pytest

from issues.models import Issue
from tests.browser.conftest import login, serious_accessibility_violations
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_agencies_cooperate_on_an_issue_and_an_outsider_cannot_see_it(
    browser, live_server, alice, bob, carol
):
    # Alice (agency A) files a restricted issue asking agency B to cooperate.
    alice_page = browser.new_context(locale="ko-KR").new_page()
    login(alice_page, live_server, "alice", TEST_PASSWORD)
    alice_page.get_by_role("link", name="현안 등록").click()
    alice_page.get_by_label("제목").fill("광주비엔날레 기간 셔틀버스 공동 운영")
    alice_page.get_by_label("설명").fill("관람객 수송을 위해 **셔틀버스**를 함께 운영합니다.")
    alice_page.get_by_label("협조 기관", exact=True).select_option(label="광주나기관")
    alice_page.get_by_label("공개 범위").select_option("restricted")
    alice_page.get_by_role("button", name="현안 등록하기").click()
    alice_page.wait_for_url("**/issues/*/")
    issue = Issue.objects.get()
    assert alice_page.get_by_role("heading", level=1).inner_text().endswith(issue.title)

    # Bob (agency B) finds the request waiting for his agency, accepts and comments.
    bob_page = browser.new_context(locale="ko-KR").new_page()
    login(bob_page, live_server, "bob", TEST_PASSWORD)
    bob_page.get_by_role("link", name="우리 기관 답변 대기").click()
    bob_page.get_by_role("link", name=issue.title).click()
    # KRDS draws its own radio buttons; people click the label, so does the test.
    bob_page.locator("#cooperations label").filter(has_text="수락").click()
    assert bob_page.get_by_label("수락").is_checked()
    bob_page.get_by_label("메모").fill("차량 2대 지원 가능")
    bob_page.get_by_role("button", name="답변 보내기").click()
    bob_page.locator("#cooperations").get_by_text("수락", exact=True).first.wait_for()
    bob_page.get_by_label("댓글", exact=True).fill("운행 시간표 초안을 공유드립니다.")
    bob_page.get_by_role("button", name="댓글 등록").click()
    # The timeline refreshes itself after the htmx post (issueChanged event).
    bob_page.locator("#timeline").get_by_text("운행 시간표 초안을 공유드립니다.").wait_for()

    # Alice sees both on the timeline.
    alice_page.reload()
    timeline = alice_page.locator("#timeline")
    assert timeline.get_by_text("운행 시간표 초안을 공유드립니다.").is_visible()
    assert timeline.get_by_text("차량 2대 지원 가능").is_visible()

    # Carol (agency C) gets a 404 for the restricted issue.
    carol_page = browser.new_context(locale="ko-KR").new_page()
    login(carol_page, live_server, "carol", TEST_PASSWORD)
    response = carol_page.goto(f"{live_server.url}/issues/{issue.pk}/")
    assert response.status == 404
    carol_page.goto(f"{live_server.url}/issues/")
    assert carol_page.get_by_text(issue.title).count() == 0


def test_filters_update_the_results_in_place_and_the_url(page, live_server, alice, bob):
    from issues import services

    services.issue_create(
        actor=alice, title="인공지능을 활용한 민원 분석", lead_agency=alice.agency
    )
    services.issue_create(actor=alice, title="도시철도 교통 대책", lead_agency=alice.agency)
    login(page, live_server, "alice", TEST_PASSWORD)

    page.get_by_label("검색", exact=True).fill("인공지능")
    page.wait_for_url("**/issues/?*q=*")
    rows = page.locator("#results tbody tr")
    rows.first.wait_for()
    assert rows.count() == 1
    assert "인공지능" in rows.first.inner_text()
    # The URL can be bookmarked: loading it again shows the same result.
    page.reload()
    assert page.locator("#results tbody tr").count() == 1


@pytest.mark.parametrize("path", ["/issues/", "/issues/new/", "detail"])
def test_issue_pages_have_no_serious_accessibility_violations(page, live_server, alice, bob, path):
    from issues import services

    issue = services.issue_create(
        actor=alice,
        title="접근성 점검용 현안",
        lead_agency=alice.agency,
        cooperating_agencies=[bob.agency],
        description="- 항목 하나\n- 항목 둘",
    )
    services.comment_create(issue=issue, actor=alice, body="의견")
    login(page, live_server, "alice", TEST_PASSWORD)

    page.goto(f"{live_server.url}{issue.get_absolute_url() if path == 'detail' else path}")

    assert serious_accessibility_violations(page) == []


def test_on_a_phone_the_filters_fold_behind_search_conditions(browser, live_server, alice):
    """The results, not the filter panel, fill a phone's first screen; wide screens see it open."""
    from issues import services

    services.issue_create(actor=alice, title="배지 줄바꿈 점검", lead_agency=alice.agency)
    phone = browser.new_context(locale="ko-KR", viewport={"width": 390, "height": 844}).new_page()
    login(phone, live_server, "alice", TEST_PASSWORD)
    phone.goto(f"{live_server.url}/issues/")

    search = phone.get_by_label("검색", exact=True)
    assert not search.is_visible()
    phone.get_by_text("검색 조건", exact=True).click()
    search.wait_for(state="visible")

    wide = browser.new_context(locale="ko-KR", viewport={"width": 1440, "height": 900}).new_page()
    login(wide, live_server, "alice", TEST_PASSWORD)
    wide.goto(f"{live_server.url}/issues/")
    wide.get_by_label("검색", exact=True).wait_for(state="visible")
    # Status and priority badges ("진행 중") stay on one line at any width.
    badge = wide.locator("#results .krds-badge").first
    assert badge.evaluate("e => getComputedStyle(e).whiteSpace") == "nowrap"
