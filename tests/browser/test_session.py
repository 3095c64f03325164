"""The session-timeout dialog in a real browser (KWCAG 2.2 "응답시간 조절", issue 8).

The idle limit is shortened to 3 minutes and the warning to 178 seconds, so
the dialog comes about 2 seconds after a page loads. The server's clock is
moved with time-machine (the live server runs in this process), the page's
with Playwright's clock.
"""

from datetime import UTC, datetime

import pytest
import time_machine

from tests.browser.conftest import login, serious_accessibility_violations
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def short_session(settings):
    settings.SESSION_IDLE_MINUTES = 3
    settings.SESSION_WARNING_SECONDS = 178


@pytest.fixture
def server_clock():
    with time_machine.travel(datetime.now(UTC), tick=True) as traveller:
        yield traveller


def focus_is_in_dialog(page) -> bool:
    return page.evaluate("document.activeElement.closest('#session-dialog') !== null")


def test_the_dialog_takes_focus_and_extending_keeps_the_session(
    page, live_server, alice, short_session, server_clock
):
    login(page, live_server, "alice", TEST_PASSWORD)
    dialog = page.get_by_role("alertdialog", name="곧 로그아웃됩니다")
    dialog.wait_for(state="visible")

    assert focus_is_in_dialog(page)
    assert page.evaluate("document.activeElement.textContent.trim()") == "로그인 연장"
    assert "로그인 상태를 유지할까요?" in dialog.inner_text()
    assert serious_accessibility_violations(page) == []

    server_clock.shift(150)  # 2.5 of the 3 idle minutes gone on the server
    page.keyboard.press("Enter")  # the focused "stay logged in" button
    dialog.wait_for(state="hidden")
    server_clock.shift(100)  # 4 minutes since the page: ended, had it not been extended

    page.goto(f"{live_server.url}/meetings/")
    assert page.url.endswith("/meetings/")
    assert page.get_by_role("button", name="로그아웃").first.is_visible()


def test_escape_also_extends_the_session(page, live_server, alice, short_session, server_clock):
    login(page, live_server, "alice", TEST_PASSWORD)
    dialog = page.get_by_role("alertdialog")
    dialog.wait_for(state="visible")

    server_clock.shift(150)
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    server_clock.shift(100)

    page.goto(f"{live_server.url}/meetings/")
    assert page.url.endswith("/meetings/")


def test_log_out_in_the_dialog_logs_out(page, live_server, alice, short_session):
    login(page, live_server, "alice", TEST_PASSWORD)
    dialog = page.get_by_role("alertdialog")
    dialog.wait_for(state="visible")

    dialog.get_by_role("button", name="로그아웃").click()

    page.wait_for_url("**/accounts/login/")
    page.goto(f"{live_server.url}/issues/")
    assert "/accounts/login/" in page.url


def test_without_an_answer_the_page_goes_to_login_with_the_reason(
    page, live_server, alice, short_session, server_clock
):
    page.clock.install()
    login(page, live_server, "alice", TEST_PASSWORD)
    page.get_by_role("alertdialog").wait_for(state="visible")

    server_clock.shift(200)
    page.clock.fast_forward(200_000)

    page.wait_for_url("**/accounts/login/?next=/issues/")
    assert page.get_by_text("3분 동안 사용하지 않아 로그인이 종료되었습니다").is_visible()


def test_a_normal_session_shows_no_dialog(page, live_server, alice):
    login(page, live_server, "alice", TEST_PASSWORD)
    page.wait_for_timeout(500)

    assert not page.get_by_role("alertdialog").is_visible()
    remaining = int(page.locator("#session-dialog").get_attribute("data-idle-remaining"))
    assert 1790 <= remaining <= 1800


def test_the_absolute_limit_warns_without_offering_to_extend(
    page, live_server, alice, settings, server_clock
):
    settings.SESSION_IDLE_MINUTES = 120
    settings.SESSION_MAX_HOURS = 1
    login(page, live_server, "alice", TEST_PASSWORD)

    server_clock.shift(3600 - 100)  # 100 seconds before the hour is up
    page.goto(f"{live_server.url}/meetings/")
    dialog = page.get_by_role("alertdialog")
    dialog.wait_for(state="visible")

    assert "최대 사용 시간에 이르렀습니다" in dialog.inner_text()
    assert not dialog.get_by_role("button", name="로그인 연장").is_visible()
    assert page.evaluate("document.activeElement.textContent.trim()") == "로그아웃"
    assert dialog.get_attribute("aria-describedby") == "session-dialog-absolute"
