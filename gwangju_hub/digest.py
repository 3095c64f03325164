"""The daily digest (업무 요약): one e-mail a working day per person, only when it has news.

At 08:30 Asia/Seoul on each working day (``core.workdays``) the day is
*planned*: what each active person with an address should hear is worked
out for everyone at once, in a fixed number of queries whatever the number
of people, and written as one ``DigestDelivery`` row per person who has
something to hear, with the content. A ``DigestDay`` row records that the
day was planned, in the same transaction, so two beats or a second
``send_digests`` plan it once, and a person gets at most one digest a day
(also a unique constraint). The rows are then *sent* by the outbox sweep of
``core.outbox``, the one every reminder uses: claimed under a lease, mailed,
marked sent after the SMTP server accepted it, retried with backoff.

What a digest says, per person:

* **Requests awaiting your organization's answer**, the earliest reply
  deadline first (the first ``LIMIT``, and how many in all).
* **Your issues due or overdue**: issues assigned to the person, and for
  staff the issues their organization leads that nobody is assigned to,
  due within ``DUE_AHEAD`` working days or overdue.
* **News of the issues you follow**: the notifications the person chose to
  receive in the digest (``Notification.delivery``) since the previous
  working day's digest.
* **Your meetings in the next 7 days**, with the agenda items your
  organization presents.
* **New matches of your saved searches**, for the searches marked "in the
  daily digest": issues filed since the previous digest that they find.

Nothing about an issue the person may not read: every item is about an
issue of their own organization or one their notification already passed
the rules for, and everything is checked again with ``visible_to`` when the
mail is composed, since a digest sent late (after an outage) may meet an
issue restricted in between.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Count, F, QuerySet, Window
from django.db.models.functions import RowNumber
from django.http import QueryDict
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import Truncator

from agencies.models import Delivery, Role, User
from core.outbox import Outbox, SweepResult, absolute_url
from core.workdays import add_working_days, is_working_day
from issues import rules as issue_rules
from issues import selectors as issue_selectors
from issues.forms import IssueFilterForm
from issues.models import (
    ACTIVE_STATUSES,
    Cooperation,
    CooperationStatus,
    EventKind,
    Issue,
    Notification,
    SavedSearch,
)
from meetings.models import AgendaItem, AgendaItemStatus, Meeting, MeetingStatus
from meetings.reminders import meeting_audience, upcoming_meetings

from .models import DigestDay, DigestDelivery

SEOUL = ZoneInfo("Asia/Seoul")
# Items per section; the rest is a count and a link to the list.
LIMIT = 10
# "Due soon": within this many working days.
DUE_AHEAD = 3
MEETINGS_AHEAD = timedelta(days=7)
EXCERPT = 120  # characters of a comment or decision in the digest
# One run sends the whole day's digests (about 10 ms each), rather than the
# 500 a reminder sweep sends: a digest at 10:00 is not a morning digest.
SEND_LIMIT = 20_000


def moment(day: date) -> datetime:
    """When the digest of ``day`` is due: ``DIGEST_TIME`` (08:30) in Asia/Seoul."""
    return datetime.combine(day, time.fromisoformat(settings.DIGEST_TIME), tzinfo=SEOUL)


def today() -> date:
    return timezone.localdate(timezone.now(), SEOUL)


# --- planning ---------------------------------------------------------------------------


def plan(day: date, *, now: datetime | None = None) -> int:
    """Plan the digests of ``day`` once: how many were planned.

    0 on a day off, before the day's digest time, or when the day was
    planned already (by another beat, an earlier run, ``send_digests``).
    """
    now = now or timezone.now()
    if not is_working_day(day) or now < moment(day):
        return 0
    if DigestDay.objects.filter(day=day).exists():
        return 0
    people = recipients()
    contents = contents_for(people, day)
    rows = [
        DigestDelivery(recipient=person, day=day, content=contents[person.pk], due_at=moment(day))
        for person in people
        if contents.get(person.pk)
    ]
    try:
        with transaction.atomic():
            DigestDay.objects.create(day=day, planned_at=now, digests=len(rows))
            DigestDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    except IntegrityError:
        return 0  # another run planned the day first: its rows stand
    return len(rows)


def recipients() -> list[User]:
    """Everyone who can receive a digest: active, with an address."""
    return list(
        User.objects.filter(is_active=True)
        .exclude(email="")
        .select_related("agency")
        .order_by("pk")
    )


def contents_for(people: list[User], day: date) -> dict[int, dict[str, Any]]:
    """What each person's digest of ``day`` says ({user id: sections}); no key: nothing.

    A fixed number of queries, whatever the number of people: each section
    is read for everyone at once and shared out in Python.
    """
    contents: dict[int, dict[str, Any]] = defaultdict(dict)
    sections = {
        "awaiting": _awaiting(people),
        "due": _due(people, day),
        "news": _news(people, day),
        "meetings": _meetings(people, day),
        "searches": _saved_searches(people, day),
    }
    for name, by_person in sections.items():
        for person_id, section in by_person.items():
            contents[person_id][name] = section
    return dict(contents)


def _ranked(rows: QuerySet, partition: str, *order) -> QuerySet:
    """The first ``LIMIT`` rows of each ``partition`` value, in ``order``."""
    return rows.annotate(
        rank=Window(RowNumber(), partition_by=F(partition), order_by=[*order, F("pk").asc()])
    ).filter(rank__lte=LIMIT)


def _totals(rows: QuerySet, field: str) -> dict[int, int]:
    return dict(rows.order_by().values(field).annotate(n=Count("pk")).values_list(field, "n"))


def _awaiting(people: list[User]) -> dict[int, dict]:
    """Requests awaiting each person's organization's answer, earliest deadline first."""
    agency_ids = {person.agency_id for person in people if person.agency_id}
    waiting = Cooperation.objects.filter(
        agency_id__in=agency_ids,
        status=CooperationStatus.REQUESTED,
        issue__status__in=ACTIVE_STATUSES,
    )
    totals = _totals(waiting, "agency_id")
    first: dict[int, list[Cooperation]] = defaultdict(list)
    for cooperation in _ranked(
        waiting.select_related("issue", "assignee"),
        "agency_id",
        F("reply_by").asc(nulls_last=True),
    ).order_by("agency_id", "rank"):
        first[cooperation.agency_id].append(cooperation)
    return {
        person.pk: {
            "total": totals[person.agency_id],
            "items": [
                {
                    "issue": c.issue_id,
                    "title": c.issue.title,
                    "reply_by": c.reply_by.isoformat() if c.reply_by else None,
                    "assignee": c.assignee.display_name if c.assignee else "",
                    "yours": c.assignee_id == person.pk,
                }
                for c in first[person.agency_id]
            ],
        }
        for person in people
        if first.get(person.agency_id)
    }


def _due(people: list[User], day: date) -> dict[int, dict]:
    """Each person's issues due within ``DUE_AHEAD`` working days, or overdue.

    Theirs: assigned to them; and for staff, those their organization leads
    that nobody is assigned to.
    """
    due = Issue.objects.filter(
        status__in=ACTIVE_STATUSES, due_date__lte=add_working_days(day, DUE_AHEAD)
    )
    assigned, unassigned = due.exclude(assignee=None), due.filter(assignee=None)
    totals = {
        "assignee_id": _totals(assigned, "assignee_id"),
        "lead_agency_id": _totals(unassigned, "lead_agency_id"),
    }
    first: dict[tuple[str, int], list[Issue]] = defaultdict(list)
    for field, rows in (("assignee_id", assigned), ("lead_agency_id", unassigned)):
        for issue in _ranked(rows, field, F("due_date").asc()).order_by(field, "rank"):
            first[field, getattr(issue, field)].append(issue)
    result = {}
    for person in people:
        keys = [("assignee_id", person.pk)]
        if person.role == Role.STAFF and person.agency_id:
            keys.append(("lead_agency_id", person.agency_id))
        issues = sorted(
            (issue for key in keys for issue in first.get(key, [])),
            key=lambda issue: (issue.due_date, issue.pk),
        )
        if issues:
            result[person.pk] = {
                "total": sum(totals[field].get(value, 0) for field, value in keys),
                "items": [
                    {
                        "issue": issue.pk,
                        "title": issue.title,
                        "due_date": issue.due_date.isoformat(),
                        "overdue": issue.due_date < day,
                    }
                    for issue in issues[:LIMIT]
                ],
            }
    return result


def _news(people: list[User], day: date) -> dict[int, dict]:
    """Since the previous working day's digest: the notifications each person chose
    to read in the digest (comments, status changes, decisions on issues they follow
    or take part in), about issues they may still read."""
    by_id = {person.pk: person for person in people}
    notifications = (
        Notification.objects.filter(
            delivery=Delivery.DIGEST,
            created_at__gte=moment(add_working_days(day, -1)),
            created_at__lt=moment(day),
        )
        .select_related("event__issue", "event__actor", "event__comment")
        .prefetch_related("event__issue__cooperations")
        .order_by("recipient_id", "created_at", "pk")
    )
    items: dict[int, list[dict]] = defaultdict(list)
    for notification in notifications:
        person, event = by_id.get(notification.recipient_id), notification.event
        if person is None or not issue_rules.can_view(person, event.issue):
            continue
        items[person.pk].append(
            {
                "issue": event.issue_id,
                "title": event.issue.title,
                "kind": event.kind,
                "actor": event.actor.display_name if event.actor else "",
                "text": _event_text(event),
                "at": event.created_at.isoformat(),
            }
        )
    return {pk: {"total": len(rows), "items": rows[: LIMIT * 2]} for pk, rows in items.items()}


def _event_text(event) -> str:
    if event.kind == EventKind.COMMENT and event.comment is not None:
        text = event.comment.body
    else:
        text = "; ".join(
            f"{change.get('old') or '—'} → {change.get('new') or '—'}"
            if change.get("old")
            else str(change.get("new", ""))
            for change in event.changes
        )
    return Truncator(" ".join(text.split())).chars(EXCERPT)


def _meetings(people: list[User], day: date) -> dict[int, list[dict]]:
    """Meetings in the next 7 days that concern each person (as their reminders
    would) and that they may open, with the agenda items their organization presents."""
    meetings = upcoming_meetings(moment(day), MEETINGS_AHEAD)
    if not meetings:
        return {}
    presenting: dict[tuple[int, int], list[AgendaItem]] = defaultdict(list)
    for item in AgendaItem.objects.filter(
        meeting__in=meetings, status=AgendaItemStatus.ACCEPTED, presenting_agency__isnull=False
    ).order_by("order", "pk"):
        presenting[item.meeting_id, item.presenting_agency_id].append(item)
    result: dict[int, list[dict]] = defaultdict(list)
    for meeting in sorted(meetings, key=lambda meeting: meeting.starts_at):
        invited = {agency.pk for agency in meeting.active_invited}
        concerned = {person.pk for person in meeting_audience(meeting, people)}
        for person in people:
            items = presenting.get((meeting.pk, person.agency_id), [])
            may_open = person.reads_everything or person.agency_id in invited
            if may_open and (person.pk in concerned or items):
                result[person.pk].append(
                    {
                        "meeting": meeting.pk,
                        "title": meeting.title,
                        "starts_at": meeting.starts_at.isoformat(),
                        "location": meeting.location,
                        "present": [item.title for item in items],
                        "issues": [item.issue_id for item in items if item.issue_id],
                    }
                )
    return dict(result)


def _saved_searches(people: list[User], day: date) -> dict[int, list[dict]]:
    """New matches of the saved searches their owners want in the digest: issues
    filed since the previous working day's digest that the search finds now.

    Two queries per such search (it is the owner's own filter, read through
    ``visible_to``); only the searches people ticked, so it grows with those,
    not with the number of people.
    """
    by_id = {person.pk: person for person in people}
    since, until = moment(add_working_days(day, -1)), moment(day)
    result: dict[int, list[dict]] = defaultdict(list)
    for search in SavedSearch.objects.filter(include_in_digest=True, user_id__in=by_id).order_by(
        "user_id", "name", "pk"
    ):
        owner = by_id[search.user_id]
        filters = IssueFilterForm(QueryDict(search.query_string)).filters()
        new = issue_selectors.issue_list(user=owner, filters=filters).filter(
            created_at__gte=since, created_at__lt=until
        )
        total = new.count()
        if total:
            result[owner.pk].append(
                {
                    "name": search.name,
                    "query": search.query_string,
                    "total": total,
                    "issues": [
                        {"issue": pk, "title": title}
                        for pk, title in new.values_list("pk", "title")[:3]
                    ],
                }
            )
    return dict(result)


# --- the e-mail -------------------------------------------------------------------------


def still_readable(person: User, content: dict[str, Any]) -> dict[str, Any]:
    """``content`` without what ``person`` may no longer read (two queries).

    The plan checked it at 08:30; a digest sent after an outage meets the
    issues and meetings as they are now.
    """
    issue_ids = (
        {
            item["issue"]
            for name in ("awaiting", "due", "news")
            for item in content.get(name, {}).get("items", [])
        }
        | {issue for meeting in content.get("meetings", []) for issue in meeting["issues"]}
        | {issue["issue"] for search in content.get("searches", []) for issue in search["issues"]}
    )
    readable = set(
        Issue.objects.visible_to(person).filter(pk__in=issue_ids).values_list("pk", flat=True)
    )
    meeting_ids = [meeting["meeting"] for meeting in content.get("meetings", [])]
    meetings = (
        set(
            Meeting.objects.for_user(person)
            .filter(pk__in=meeting_ids, status=MeetingStatus.SCHEDULED)
            .values_list("pk", flat=True)
        )
        if meeting_ids
        else set()
    )
    kept: dict[str, Any] = {}
    for name in ("awaiting", "due", "news"):
        section = content.get(name)
        if section:
            items = [item for item in section["items"] if item["issue"] in readable]
            hidden = len(section["items"]) - len(items)
            if items:
                kept[name] = {"total": section["total"] - hidden, "items": items}
    kept_meetings = [
        meeting
        for meeting in content.get("meetings", [])
        if meeting["meeting"] in meetings and set(meeting["issues"]) <= readable
    ]
    if kept_meetings:
        kept["meetings"] = kept_meetings
    searches = [
        {**search, "issues": [issue for issue in search["issues"] if issue["issue"] in readable]}
        for search in content.get("searches", [])
    ]
    if any(search["issues"] for search in searches):
        kept["searches"] = [search for search in searches if search["issues"]]
    return kept


def _context(person: User, day: date, content: dict[str, Any]) -> dict[str, Any]:
    """The template's view of ``content``: dates as dates, links absolute."""

    def issue_url(item):
        return absolute_url(reverse("issues:detail", args=[item["issue"]]))

    sections = {
        name: dict(content[name]) for name in ("awaiting", "due", "news") if name in content
    }
    for section in sections.values():
        section["items"] = [
            {
                **item,
                "url": issue_url(item),
                # ISO dates (YYYY-MM-DD) are what the mail prints: no date filter per line.
                "late": bool(item.get("reply_by")) and item["reply_by"] < day.isoformat(),
                "at": datetime.fromisoformat(item["at"]) if item.get("at") else None,
                "kind_label": EventKind(item["kind"]).label if item.get("kind") else "",
            }
            for item in section["items"]
        ]
        section["more"] = section["total"] - len(section["items"])
    meetings = [
        {
            **meeting,
            "starts_at": datetime.fromisoformat(meeting["starts_at"]),
            "url": absolute_url(reverse("meetings:detail", args=[meeting["meeting"]])),
        }
        for meeting in content.get("meetings", [])
    ]
    searches = [
        {
            **search,
            "url": absolute_url(reverse("issues:list") + "?" + search["query"]),
            "issues": [{**issue, "url": issue_url(issue)} for issue in search["issues"]],
        }
        for search in content.get("searches", [])
    ]
    return {
        "user": person,
        "day": day,
        **sections,
        "meetings": meetings,
        "searches": searches,
        "links": {
            "waiting": absolute_url(reverse("issues:list") + "?waiting=1"),
            "mine": absolute_url(reverse("issues:list") + "?mine=1&overdue=1"),
            "notifications": absolute_url(reverse("notifications:list")),
            "settings": absolute_url("/accounts/settings/"),
        },
    }


def render(person: User, day: date, content: dict[str, Any]) -> tuple[str, str]:
    """The digest's subject and body: Korean first, then the same in English."""
    context = _context(person, day, content)
    parts = []
    with timezone.override(SEOUL):
        for language in ("ko", "en"):
            with translation.override(language):
                parts.append(
                    (
                        " ".join(render_to_string("digest/email/subject.txt", context).split()),
                        render_to_string("digest/email/body.txt", context).strip(),
                    )
                )
    (subject_ko, body_ko), (subject_en, body_en) = parts
    return f"{subject_ko} / {subject_en}", f"{body_ko}\n\n{'=' * 60}\n\n{body_en}\n"


def compose(person: User, day: date, content: dict[str, Any]) -> EmailMessage | None:
    """The digest as an e-mail; None when nothing readable is left to say."""
    content = still_readable(person, content)
    if not content or not person.email:
        return None
    subject, body = render(person, day, content)
    return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [person.email])


class DigestOutbox(Outbox[DigestDelivery]):
    """``DigestDelivery`` rows: one mail per person per working day."""

    model = DigestDelivery
    message_id_prefix = "digest"
    purpose = "digest"
    name, names = "digest", "digests"
    sweep_task = "gwangju_hub.tasks.send_digests"

    def with_relations(self, rows: QuerySet[DigestDelivery]) -> QuerySet[DigestDelivery]:
        return rows.select_related("recipient__agency")

    def withheld_because(self, row: DigestDelivery) -> str:
        return "" if row.recipient.is_active else "the recipient was deactivated"

    def compose(self, row: DigestDelivery, *, at: datetime) -> EmailMessage | None:
        return compose(row.recipient, row.day, row.content)


OUTBOX = DigestOutbox()


def run(
    day: date | None = None, *, now: datetime | None = None, **sweep_options
) -> tuple[int, SweepResult]:
    """Plan ``day``'s digests (today's by default) if it is time, then send what is owed.

    What the beat (every 15 minutes) and ``send_digests`` run; safe to run
    at any time, as often as wanted, in several processes at once.
    """
    now = now or timezone.now()
    day = day or timezone.localdate(now, SEOUL)
    planned = plan(day, now=now)
    return planned, OUTBOX.send(now, **({"limit": SEND_LIMIT} | sweep_options))
