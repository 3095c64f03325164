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
