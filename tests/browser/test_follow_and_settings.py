"""Issue 9 in a real browser, in Korean and in English: follow an issue from its page,
list the issues one follows, save a search and open it, choose how to be told."""

import pytest

from issues import services
from issues.models import Follow, SavedSearch
from tests.browser.conftest import login, serious_accessibility_violations
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = {
    "ko": {
        "follow": "이 현안 구독하기",
        "unfollow": "구독 해지",
        "issues": "현안",
        "following": "내가 구독한 현안",
        "name": "이름",
        "save_search": "이 조건으로 검색 저장",
        "settings": "설정",
        "comments": "댓글",
        "at_once": "즉시 이메일",
        "save_settings": "설정 저장",
        "saved": "설정을 저장했습니다.",
    },
    "en": {
        "follow": "Follow this issue",
        "unfollow": "Unfollow",
        "issues": "Issues",
        "following": "Issues I follow",
        "name": "Name",
        "save_search": "Save these filters",
        "settings": "Settings",
        "comments": "Comments",
        "at_once": "E-mail at once",
        "save_settings": "Save settings",
        "saved": "Your settings were saved.",
    },
}


@pytest.mark.parametrize("language", ["ko", "en"])
def test_follow_filter_save_a_search_and_choose_how_to_be_told(
    browser, live_server, alice, carol, language
):
    words = WORDS[language]
    followed = services.issue_create(
        actor=alice, title="광주비엔날레 셔틀버스 공동 운영", lead_agency=alice.agency
    )
    services.issue_create(actor=alice, title="도시철도 교통 대책", lead_agency=alice.agency)
    page = browser.new_context(locale="ko-KR" if language == "ko" else "en-US").new_page()
    page.set_default_timeout(10_000)
    login(page, live_server, "carol", TEST_PASSWORD, english=language == "en")

    # Follow from the issue page: the box swaps in place (htmx).
    page.goto(f"{live_server.url}{followed.get_absolute_url()}")
    page.get_by_role("button", name=words["follow"]).click()
    page.get_by_role("button", name=words["unfollow"]).wait_for()
    assert Follow.objects.filter(user=carol, issue=followed).exists()

    # The list's "following" filter narrows the results in place and in the URL.
    page.get_by_role("navigation", name="Main menu" if language == "en" else "주 메뉴").get_by_role(
        "link", name=words["issues"]
    ).click()
    page.locator("label", has_text=words["following"]).first.click()
    page.wait_for_url("**/issues/?*following=on*")
    rows = page.locator("#results tbody tr")
    page.wait_for_function("document.querySelectorAll('#results tbody tr').length === 1")
    assert followed.title in rows.first.inner_text()

    # Save the filters as they are now, then open the saved search.
    page.locator("#saved-searches").get_by_label(words["name"], exact=True).fill("구독 현안")
    page.get_by_role("button", name=words["save_search"]).click()
    link = page.locator("#saved-searches").get_by_role("link", name="구독 현안")
    link.wait_for()
    assert SavedSearch.objects.get(user=carol).query_string == "following=1"
    page.goto(f"{live_server.url}/issues/")
    page.locator("#saved-searches").get_by_role("link", name="구독 현안").click()
    page.wait_for_url("**/issues/?following=1")
    assert page.locator("#results tbody tr").count() == 1

    # Choose to get comments by e-mail at once, from the header's settings link.
    page.get_by_role("link", name=words["settings"], exact=True).click()
    page.wait_for_url("**/accounts/settings/")
    assert serious_accessibility_violations(page) == []
    comments = page.get_by_role("group", name=words["comments"], exact=True)
    comments.locator("label", has_text=words["at_once"]).click()
    page.get_by_role("button", name=words["save_settings"]).click()
    page.get_by_text(words["saved"]).wait_for()
    carol.refresh_from_db()
    assert carol.notice_settings == {"comment": "immediate"}
