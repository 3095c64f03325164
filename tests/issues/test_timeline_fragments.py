"""The issue page keeps each rendered timeline entry in memory (`{% cache %}`).

Its key is everything the entry shows (issue_tags.timeline_entry_key), so
nothing ever invalidates it. These tests change each shown value behind the
cache's back (``update()`` sends no signal and changes no other field) and
expect the next page to show it: a value an entry shows but its key forgets
fails here.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from agencies.models import Agency, User
from issues import services
from issues.models import Attachment, Comment, Event
from meetings.models import Meeting
from tests.issues.samples import pdf_bytes, uploaded

pytestmark = pytest.mark.django_db


@pytest.fixture
def timeline(alice, agency_b, open_issue, settings, tmp_path):
    """An issue whose timeline has a comment, an attachment, a cooperation request
    (naming agency B) and a decision at a meeting."""
    settings.MEDIA_ROOT = tmp_path
    services.comment_create(issue=open_issue, actor=alice, body="첫 **의견**")
    services.attachment_add(
        issue=open_issue, actor=alice, uploaded_file=uploaded("회의자료.pdf", pdf_bytes())
    )
    Event.objects.create(
        issue=open_issue,
        actor=alice,
        kind="cooperation_updated",
        agency=agency_b,
        changes=[{"field": "reply_by", "old": "2026-12-10", "new": "2026-12-17"}],
    )
    return open_issue


def _page(client, issue) -> str:
    """The timeline of the issue's page (names and files show elsewhere on it too)."""
    html = client.get(issue.get_absolute_url()).content.decode()
    start = html.index('<ol class="timeline">')
    return html[start : html.index("</ol>", start)]


def _event(issue, kind) -> Event:
    return Event.objects.filter(issue=issue, kind=kind).get()


CHANGES = {
    "comment text": (
        lambda issue, alice, agency_b: Comment.objects.filter(issue=issue).update(
            body="고친 **의견**"
        ),
        "고친 <strong>의견</strong>",
    ),
    "attachment name": (
        lambda issue, alice, agency_b: Attachment.objects.filter(issue=issue).update(
            original_name="새자료.pdf"
        ),
        "새자료.pdf",
    ),
    "attachment removed": (
        lambda issue, alice, agency_b: Event.objects.filter(issue=issue, kind="attachment").update(
            attachment=None
        ),
        "(삭제된 파일)",
    ),
    "actor's name": (
        lambda issue, alice, agency_b: User.objects.filter(pk=alice.pk).update(
            last_name="박", first_name="서연"
        ),
        "서연 박",
    ),
    "actor's organization": (
        lambda issue, alice, agency_b: Agency.objects.filter(pk=alice.agency_id).update(
            name_ko="새이름재단"
        ),
        "새이름재단",
    ),
    "organization named by the entry": (
        lambda issue, alice, agency_b: Agency.objects.filter(pk=agency_b.pk).update(
            name_ko="협력새이름원"
        ),
        "협력새이름원",
    ),
    "what changed": (
        lambda issue, alice, agency_b: Event.objects.filter(
            issue=issue, kind="cooperation_updated"
        ).update(changes=[{"field": "reply_by", "old": "2026-12-10", "new": "2029-03-15"}]),
        "2029년 3월 15일",
    ),
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_changed_value_shows_at_once(client, minji, alice, agency_b, timeline, change):
    alter, expected = CHANGES[change]
    client.force_login(minji)
    assert expected not in _page(client, timeline)  # rendered, and now kept

    alter(timeline, alice, agency_b)

    assert expected in _page(client, timeline)


def test_an_entry_is_kept_in_each_language(client, minji, timeline):
    client.force_login(minji)
    korean = _page(client, timeline)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    english = _page(client, timeline)
    translation.activate("ko")

    assert "의 협조 내용을 바꿨습니다:" in korean
    assert "changed the cooperation of" in english
    assert "changed the cooperation of" not in korean


def test_a_decisions_meeting_is_named_only_to_those_who_may_open_it(client, minji, bob, open_issue):
    """The same entry, kept once per viewer's right to read the meeting's name."""
    starts_at = timezone.now() + timedelta(days=3)
    meeting = Meeting.objects.create(  # agency B is not invited
        kind="vice_heads",
        title="비공개 부시장 회의",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
    )
    Event.objects.create(
        issue=open_issue,
        actor=minji,
        kind="decision",
        changes=[
            {
                "field": "decision",
                "meeting": meeting.title,
                "meeting_id": meeting.pk,
                "text": "추진",
            }
        ],
    )
    client.force_login(minji)
    assert "비공개 부시장 회의" in _page(client, open_issue)

    client.force_login(bob)
    page = _page(client, open_issue)

    assert "비공개 부시장 회의" not in page
    assert "추진" in page
