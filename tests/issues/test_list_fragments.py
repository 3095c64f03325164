"""The issue list keeps rendered rows and the filter form in memory (`{% cache %}`).

Their keys are made of everything they show, so nothing ever invalidates them.
These tests change each shown value behind the cache's back (``update()``
leaves ``updated_at`` alone) and expect the next page to show it: a value the
row shows but its key forgets fails here.
"""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from agencies.models import Agency
from issues.models import Category, Cooperation, Issue
from tests.factories import CooperationFactory, IssueFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def row(alice, bob):
    category = Category.objects.create(slug="traffic", name_ko="교통", name_en="Traffic")
    issue = IssueFactory(
        title="셔틀버스 운영", lead_agency=alice.agency, created_by=alice, category=category
    )
    cooperation = CooperationFactory(
        issue=issue,
        agency=bob.agency,
        requested_by=alice,
        reply_by=timezone.localdate() + datetime.timedelta(days=5),
    )
    return issue, cooperation


def _row_html(client, issue) -> str:
    html = client.get(reverse("issues:list")).content.decode()
    start = html.index(f'<a href="{issue.get_absolute_url()}">')
    return html[start : html.index("</tr>", start)]


CHANGES = {
    "title": lambda issue, *_: Issue.objects.filter(pk=issue.pk).update(title="새 제목"),
    "status": lambda issue, *_: Issue.objects.filter(pk=issue.pk).update(status="on_hold"),
    "priority": lambda issue, *_: Issue.objects.filter(pk=issue.pk).update(priority="urgent"),
    "due date": lambda issue, *_: Issue.objects.filter(pk=issue.pk).update(
        due_date=datetime.date(2031, 7, 9)
    ),
    "restricted": lambda issue, *_: Issue.objects.filter(pk=issue.pk).update(
        visibility="restricted"
    ),
    "category name": lambda issue, *_: Category.objects.filter(pk=issue.category_id).update(
        name_ko="도시교통"
    ),
    "lead agency name": lambda issue, c, alice, bob: Agency.objects.filter(
        pk=alice.agency_id
    ).update(name_ko="새이름재단"),
    "cooperating agency name": lambda issue, c, alice, bob: Agency.objects.filter(
        pk=bob.agency_id
    ).update(name_ko="협력새이름원"),
    "answer": lambda issue, c, *_: Cooperation.objects.filter(pk=c.pk).update(status="declined"),
    "person in charge": lambda issue, c, alice, bob: Cooperation.objects.filter(pk=c.pk).update(
        assignee=UserFactory(agency=bob.agency, first_name="담당", last_name="신")
    ),
    "reply deadline": lambda issue, c, *_: Cooperation.objects.filter(pk=c.pk).update(
        reply_by=datetime.date(2031, 3, 4)
    ),
}
SHOWN = {
    "title": "새 제목",
    "status": "보류",
    "priority": "긴급",
    "due date": "2031-07-09",
    "restricted": "비공개",
    "category name": "도시교통",
    "lead agency name": "새이름재단",
    "cooperating agency name": "협력새이름원",
    "answer": "거절",
    "person in charge": "담당 신",
    "reply deadline": "~03-04",
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_cached_row_shows_every_change_at_once(client, alice, bob, row, change):
    issue, cooperation = row
    client.force_login(alice)
    before = _row_html(client, issue)
    assert SHOWN[change] not in before

    CHANGES[change](issue, cooperation, alice, bob)

    assert SHOWN[change] in _row_html(client, issue)


def test_rows_are_kept_per_language(client, alice, row):
    issue, _ = row
    client.force_login(alice)
    assert "교통" in _row_html(client, issue)

    alice.preferred_language = "en"
    alice.save(update_fields=["preferred_language"])

    english = _row_html(client, issue)
    assert "Traffic" in english and "교통" not in english


def test_an_unchanged_form_is_not_rendered_again(client, alice, row):
    """The point of it: the second page view reuses the form as rendered."""
    from django.template import Template

    issue, _ = row
    client.force_login(alice)
    client.get(reverse("issues:list"))
    rendered = []
    original = Template._render

    def spy(self, context):
        rendered.append(self.name)
        return original(self, context)

    Template._render = spy
    try:
        client.get(reverse("issues:list"))
    finally:
        Template._render = original
    # The filter form's four menus are the page's only <select>s.
    assert "django/forms/widgets/select.html" not in rendered
    assert "issues/issue_list.html" in rendered


def test_the_filter_form_shows_a_renamed_organization_at_once(client, alice, bob, row):
    client.force_login(alice)
    assert "새로운기관명" not in client.get(reverse("issues:list")).content.decode()

    # Saved, as the admin does (the menus themselves are kept until a save:
    # issues.selectors.menu_options); the rendered form must not be reused.
    agency = Agency.objects.get(pk=bob.agency_id)
    agency.name_ko = "새로운기관명"
    agency.save()

    html = client.get(reverse("issues:list")).content.decode()
    assert f'<option value="{bob.agency.slug}">새로운기관명</option>' in html


def test_the_filter_form_keeps_what_was_asked(client, alice, row):
    """A query string is part of the key: each one shows its own values."""
    client.force_login(alice)
    client.get(reverse("issues:list"), {"q": "셔틀"})

    html = client.get(
        reverse("issues:list"), {"q": "버스", "status": "open", "agency": alice.agency.slug}
    ).content.decode()

    assert 'value="버스"' in html
    assert '<option value="open" selected>' in html
    assert f'<option value="{alice.agency.slug}" selected>' in html
