import datetime

import pytest
from django.core.cache import cache
from django.utils import timezone

from issues.models import Issue
from tests.browser.conftest import login, serious_accessibility_violations
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def resolved_earlier_this_year(alice, agency_b):
    """Resolved on January 1st: counted for "this year", not "this month" (unless in January)."""
    cache.clear()
    issue = Issue.objects.create(
        title="연초 해결 현안", lead_agency=alice.agency, created_by=alice, status="resolved"
    )
    new_year = timezone.make_aware(datetime.datetime(timezone.localdate().year, 1, 1, 12))
    Issue.objects.filter(pk=issue.pk).update(created_at=new_year, resolved_at=new_year)
    return issue


def test_changing_the_period_updates_the_figures_and_the_url(
    page, live_server, minji, resolved_earlier_this_year
):
    login(page, live_server, "minji", TEST_PASSWORD)
    resolved = page.locator(".headline li").nth(2).locator(".headline__value")
    month_value = resolved.inner_text()

    page.locator("label[for=period-year]").click()

    page.wait_for_url("**/dashboard/?*period=year*")
    page.locator(".headline li").nth(2).locator(".headline__value").filter(has_text="1").wait_for()
    assert page.locator(".headline li").nth(2).locator(".headline__value").inner_text() == "1"
    if timezone.localdate().month != 1:
        assert month_value == "0"


def test_the_dashboard_has_no_serious_accessibility_violations(
    page, live_server, minji, resolved_earlier_this_year, agency_b
):
    login(page, live_server, "minji", TEST_PASSWORD)

    assert serious_accessibility_violations(page) == []


@pytest.fixture
def phone(browser):
    """A phone-sized window (390 × 844 CSS pixels, as an iPhone 14)."""
    context = browser.new_context(locale="ko-KR", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def without_javascript(browser):
    context = browser.new_context(locale="ko-KR", java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_the_dates_show_only_for_a_custom_range(page, live_server, minji):
    cache.clear()
    login(page, live_server, "minji", TEST_PASSWORD)
    page.goto(f"{live_server.url}/dashboard/")

    assert page.locator("#period-month").is_checked()
    assert not page.locator("#period-start").is_visible()
    assert not page.locator("#period-end").is_visible()
    assert page.get_by_role("button", name="보기").is_visible()  # submits any period without JS

    page.locator("label[for=period-custom]").click()

    page.locator("#period-start").wait_for(state="visible")
    assert page.locator("#period-end").is_visible()


def test_a_page_served_with_a_custom_range_shows_its_dates_without_javascript(
    without_javascript, live_server, minji
):
    cache.clear()
    page = without_javascript
    login(page, live_server, "minji", TEST_PASSWORD)

    page.goto(f"{live_server.url}/dashboard/?period=custom&start=2026-01-01&end=2026-01-31")

    assert page.locator("#period-start").is_visible()
    assert page.locator("#period-start").input_value() == "2026-01-01"
    page.goto(f"{live_server.url}/dashboard/?period=year")
    assert not page.locator("#period-start").is_visible()
    page.locator("label[for=period-custom]").click()  # CSS alone shows them
    assert page.locator("#period-start").is_visible()


def test_on_a_phone_the_agency_table_scrolls_and_keeps_the_organization_in_view(
    phone, live_server, minji, agency_a, agency_b
):
    cache.clear()
    login(phone, live_server, "minji", TEST_PASSWORD)
    phone.goto(f"{live_server.url}/dashboard/")
    table_box = phone.locator(".agency-table-wrap")
    organization = phone.locator(".agency-table tbody th").first

    page_width = phone.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 390, "the page itself scrolls sideways"
    assert table_box.evaluate("box => box.scrollWidth > box.clientWidth")

    before = organization.bounding_box()
    table_box.evaluate("box => { box.scrollLeft = box.scrollWidth; }")
    phone.wait_for_function("() => document.querySelector('.agency-table-wrap').scrollLeft > 0")
    after = organization.bounding_box()
    last_column = phone.locator(".agency-table tbody tr").first.locator("td").last.bounding_box()

    assert after["x"] == pytest.approx(before["x"], abs=1)  # stuck to the left edge
    assert after["x"] >= 0 and after["x"] + after["width"] <= 390
    assert last_column["x"] + last_column["width"] <= 390 + 1  # the far end is now in view
    assert organization.inner_text() in ("광주가기관", "광주나기관")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
