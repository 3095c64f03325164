import pytest

from tests.browser.conftest import login, serious_accessibility_violations
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_logs_in_with_the_korean_interface(page, live_server, alice):
    login(page, live_server, "alice", TEST_PASSWORD)

    assert page.url.endswith("/issues/")
    assert page.locator("html").get_attribute("lang") == "ko"
    assert page.get_by_role("banner").get_by_text("광주가기관").is_visible()
    assert page.get_by_role("button", name="로그아웃").is_visible()


def test_staff_logs_in_with_an_english_browser(english_page, live_server, alice):
    login(english_page, live_server, "alice", TEST_PASSWORD, english=True)

    assert english_page.url.endswith("/issues/")
    assert english_page.locator("html").get_attribute("lang") == "en"
    assert english_page.get_by_role("button", name="Log out").is_visible()


def test_a_wrong_password_shows_a_message_in_the_form(page, live_server, alice):
    login(page, live_server, "alice", "wrong-password")

    assert "/accounts/login/" in page.url
    assert page.get_by_role("alert").is_visible()


def test_the_language_switch_changes_and_keeps_the_language(page, live_server, alice):
    login(page, live_server, "alice", TEST_PASSWORD)

    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(f"{live_server.url}/issues/")
    assert page.get_by_role("heading", name="Issues").is_visible()


def test_the_skip_link_moves_focus_to_the_main_content(page, live_server, alice):
    login(page, live_server, "alice", TEST_PASSWORD)

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#main"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_login_page_has_no_serious_accessibility_violations(page, live_server):
    page.goto(f"{live_server.url}/accounts/login/")

    assert serious_accessibility_violations(page) == []


def test_home_page_has_no_serious_accessibility_violations(page, live_server, alice):
    login(page, live_server, "alice", TEST_PASSWORD)

    assert serious_accessibility_violations(page) == []


def test_dashboard_has_no_serious_accessibility_violations(page, live_server, minji, agency_a):
    login(page, live_server, "minji", TEST_PASSWORD)

    assert page.url.endswith("/dashboard/")
    assert serious_accessibility_violations(page) == []
