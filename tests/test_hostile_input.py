"""Every URL pattern, as every role, with hostile input: no answer may be a 5xx.

The patterns come from the resolver (admin included), so a view added later is
walked too. Path converters are filled with ids of things the user may see,
ids of things they may not, mismatched pairs and huge numbers; query strings
and form bodies carry NUL and other control characters, 100 kB strings, wrong
types, impossible dates and negative or overflowing numbers. It samples (each
request takes the next combination of values) to stay well under a minute.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from agencies.models import Role
from issues import services as issue_services
from issues.models import Category, Issue, Notification
from meetings import services as meeting_services
from meetings.models import (
    AgendaItemKind,
    Meeting,
    MeetingKind,
    PerformanceReport,
    ReminderDelivery,
    ReminderNotice,
)
from tests.issues.samples import pdf_bytes, uploaded

pytestmark = pytest.mark.django_db

HUGE = 10**20  # beyond PostgreSQL's bigint
LONG = "x" * 100_000

# Every query parameter the views read, and then some (admin's own included).
QUERY_NAMES = [
    "q", "status", "agency", "priority", "category", "overdue", "mine", "waiting",
    "following", "reply_overdue", "sort", "page", "lead", "active", "waiting_for",
    "resolved_from", "resolved_to", "agenda", "awaiting", "partial", "period", "start",
    "end", "print", "token", "next", "year", "o", "p", "e", "_changelist_filters",
    "status__exact", "kind__exact", "starts_at__year", "starts_at__month", "due_at__gte",
    "lead_agency__id__exact", "_to_field", "_popup", "term", "app_label", "model_name",
    "field_name", "all",
]  # fmt: skip
# Every form field the site and the admin post, besides the query names.
FORM_NAMES = [
    "title", "description", "lead_agency", "cooperating_agencies", "priority",
    "visibility", "due_date", "assignee", "version", "body", "note", "file", "meeting",
    "issue", "kind", "presenting_agency", "decision", "follow_up_due", "confirm", "minutes",
    "attended_agencies", "summary", "achievements", "next_year_plan", "action", "direction",
    "language", "username", "password", "starts_at_0", "starts_at_1", "ends_at_0",
    "ends_at_1", "location", "chair", "invited_agencies", "order", "slug", "name_ko",
    "name_en", "email", "role", "display_order", "is_active", "old_password",
    "new_password1", "new_password2", "password1", "password2", "_save", "index",
    "select_across",
]  # fmt: skip
MULTIPLE = {"cooperating_agencies", "attended_agencies", "invited_agencies"}


def _hostile_values(world) -> list[str]:
    """Wrong types, overflowing numbers, impossible dates, markup, ids not theirs."""
    return [
        LONG,
        "9999-12-31",
        "0000-00-00",
        "-1",
        str(-HUGE),
        str(HUGE),
        str(2**63),
        "abc",
        "1.5",
        "1e309",
        "NaN",
        "",
        "true",
        "<script>alert(1)</script>",
        "../../etc/passwd",
        "2024-02-30",
        "' OR 1=1 --",
        "가" * 1000,
        "9999-12-31 25:61",
        str(world.hidden.pk),
        str(world.agency_b.pk),
        str(world.theirs.pk),
        world.agency_b.slug,
    ]


CONTROL_VALUES = ["a\x00b", "\x00", "\x01", "ok\x1f", "\x7f", "line\x0bbreak"]


# --- The world: one of everything, some of it hidden from agency A ----------------


@pytest.fixture
def world(alice, bob, carol, hana, victor, minji, superuser, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    agency_a, agency_b = alice.agency, bob.agency
    Category.objects.create(name_ko="교통", name_en="Transport", slug="transport")
    open_issue = issue_services.issue_create(
        actor=alice,
        title="모두에게 공개된 현안",
        lead_agency=agency_a,
        cooperating_agencies=[agency_b],
    )
    hidden = issue_services.issue_create(
        actor=bob,
        title="나기관의 비공개 현안",
        lead_agency=agency_b,
        cooperating_agencies=[carol.agency],
        visibility="restricted",
    )
    issue_services.comment_create(issue=open_issue, actor=bob, body="의견")
    open_attachment = issue_services.attachment_add(
        issue=open_issue, actor=alice, uploaded_file=uploaded("자료.pdf", pdf_bytes())
    )
    hidden_attachment = issue_services.attachment_add(
        issue=hidden, actor=bob, uploaded_file=uploaded("비공개.pdf", pdf_bytes())
    )
    now = timezone.now()

    def meeting(title, starts_at, invited):
        created = Meeting.objects.create(
            kind=MeetingKind.VICE_HEADS,
            title=title,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=2),
        )
        created.invited_agencies.set(invited)
        item = meeting_services.agenda_item_add(
            meeting=created,
            actor=minji,
            title="안건",
            presenting_agency=invited[0],
            kind=AgendaItemKind.OTHER,
        )
        return created, item

    ours, our_item = meeting("우리 회의", now + timedelta(days=10), [agency_a, agency_b])
    held, held_item = meeting("지난 회의", now - timedelta(days=2), [agency_a])
    theirs, their_item = meeting("나기관만의 회의", now + timedelta(days=12), [agency_b])
    notes = [
        Notification.objects.create(recipient=user, event=issue.events.first())
        for user, issue in ((alice, open_issue), (bob, hidden))
    ]
    notices = []
    for user, meeting_ in ((alice, ours), (bob, theirs)):
        delivery = ReminderDelivery.objects.create(
            meeting=meeting_,
            purpose="meeting",
            recipient=user,
            offset=timedelta(days=7),
            due_at=now,
            sent_at=now,
        )
        notices.append(ReminderNotice.objects.create(recipient=user, delivery=delivery))
    PerformanceReport.objects.create(agency=agency_a, year=now.year, summary="요약")
    meeting_services.calendar_token_rotate(user=alice)
    return SimpleNamespace(
        agency_a=agency_a,
        agency_b=agency_b,
        open=open_issue,
        hidden=hidden,
        open_cooperation=open_issue.cooperations.get(),
        hidden_cooperation=hidden.cooperations.get(),
        open_attachment=open_attachment,
        hidden_attachment=hidden_attachment,
        ours=ours,
        our_item=our_item,
        held=held,
        held_item=held_item,
        theirs=theirs,
        their_item=their_item,
        notes=notes,
        notices=notices,
        users={
            "anonymous": None,
            "staff": alice,
            "vice_head": victor,
            "head": hana,
            "mayor_office": minji,
            "superuser": superuser,
        },
    )


# --- URL patterns -----------------------------------------------------------------


@dataclass
class Route:
    template: str  # "issues/{pk}/" with {name} for each path parameter
    name: str  # "issues:detail"
    params: dict[str, str]  # parameter -> converter ("int", "str", "slug", "path", "regex")

    @property
    def is_admin(self) -> bool:
        return self.name.startswith("admin:")


_ROUTE_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>([^)]*)\)")


def _template(pattern, params: dict[str, str]) -> str:
    text = str(pattern)
    if type(pattern).__name__ == "RegexPattern":
        first = {}

        def group(match):
            name, body = match.groups()
            params[name] = "regex"
            first[name] = body.split("|")[0] if "|" in body else None
            return "{" + name + "}" if first[name] is None else first[name]

        return _REGEX_GROUP.sub(group, text).lstrip("^").rstrip("$")

    def param(match):
        params[match.group(2)] = match.group(1) or "str"
        return "{" + match.group(2) + "}"

    return _ROUTE_PARAM.sub(param, text)


def all_routes(patterns=None, prefix="", namespace="") -> list[Route]:
    routes = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        params: dict[str, str] = {}
        part = _template(entry.pattern, params)
        if isinstance(entry, URLResolver):
            inner = ":".join(n for n in (namespace, entry.namespace) if n)
            for route in all_routes(entry.url_patterns, prefix + part, inner):
                route.params = {**params, **route.params}
                routes.append(route)
        elif isinstance(entry, URLPattern):
            name = ":".join(n for n in (namespace, entry.name or "unnamed") if n)
            routes.append(Route(prefix + part, name, params))
    return routes


def _admin_model(route: Route):
    match = re.match(r"admin/(\w+)/(\w+)/", route.template)
    if not match:
        return None
    try:
        return apps.get_model(match.group(1), match.group(2))
    except LookupError:
        return None


def path_values(route: Route, world) -> list[dict[str, object]]:
    """Sets of path parameters: visible ids, hidden ids, mismatched pairs, huge numbers."""
    namespace = route.name.split(":")[0]
    names = set(route.params)
    if not names:
        return [{}]
    if namespace == "issues":
        return [
            {
                "pk": world.open.pk,
                "cooperation_id": world.open_cooperation.pk,
                "attachment_id": world.open_attachment.pk,
            },
            {
                "pk": world.hidden.pk,
                "cooperation_id": world.hidden_cooperation.pk,
                "attachment_id": world.hidden_attachment.pk,
            },
            {
                "pk": world.open.pk,
                "cooperation_id": world.hidden_cooperation.pk,
                "attachment_id": world.hidden_attachment.pk,
            },
            {"pk": HUGE, "cooperation_id": 0, "attachment_id": HUGE},
        ]
    if route.name == "meetings:issue_agenda":  # the issue page's agenda box
        return [{"issue_id": pk} for pk in (world.open.pk, world.hidden.pk, HUGE)]
    if namespace == "meetings":
        return [
            {"pk": world.ours.pk, "item_id": world.our_item.pk},
            {"pk": world.held.pk, "item_id": world.held_item.pk},
            {"pk": world.theirs.pk, "item_id": world.their_item.pk},
            {"pk": world.ours.pk, "item_id": world.their_item.pk},
            {"pk": HUGE, "item_id": HUGE},
        ]
    if namespace == "notifications":
        ids = [world.notes[0].pk, world.notes[1].pk, world.notices[0].pk, world.notices[1].pk]
        return [{"pk": pk} for pk in [*ids, HUGE]]
    if namespace == "performance":
        year = timezone.localdate().year
        return [
            {"year": year, "agency_slug": world.agency_a.slug},
            {"year": year, "agency_slug": world.agency_b.slug},
            {"year": 1999, "agency_slug": "no-such-agency"},
            {"year": HUGE, "agency_slug": "x" * 300},
        ]
    if route.name == "dashboard_export":
        return [{"fmt": fmt} for fmt in ("csv", "xlsx", "pdf", "x" * 1000)]
    if "content_type_id" in names:  # admin's "view on site"
        issue_type = ContentType.objects.get_for_model(Issue).pk
        return [
            {"content_type_id": issue_type, "object_id": world.hidden.pk},
            {"content_type_id": "abc", "object_id": "x"},
            {"content_type_id": HUGE, "object_id": HUGE},
        ]
    if "url" in names:  # admin's catch-all
        return [{"url": "nope/"}, {"url": "x" * 1000 + "/"}]
    model = _admin_model(route) if route.is_admin else None
    if model is not None:
        real = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
        return [dict.fromkeys(names, value) for value in (real or 1, HUGE)]
    return [dict.fromkeys(names, 1), dict.fromkeys(names, HUGE)]


def _url(route: Route, values: dict[str, object]) -> str:
    return "/" + route.template.format(**{k: quote(str(v), safe="") for k, v in values.items()})


# --- Hostile payloads ---------------------------------------------------------------


def _rotation(names: list[str], values: list[str], turn: int) -> dict[str, list[str]]:
    """Each name gets a value, shifted by ``turn``; some names get two values at once."""
    data = {}
    for index, name in enumerate(names):
        first = values[(index + turn) % len(values)]
        second = values[(index + turn + 7) % len(values)]
        data[name] = [first, second] if (index + turn) % 5 == 0 or name in MULTIPLE else [first]
    return data


def _prefixed_form_names(world) -> list[str]:
    names = []
    for cooperation in (world.open_cooperation, world.hidden_cooperation):
        names += [f"c{cooperation.pk}-status", f"c{cooperation.pk}-note"]
    for item in (world.our_item, world.held_item, world.their_item):
        names += [f"d{item.pk}-decision", f"d{item.pk}-follow_up_due"]
    return names


# --- The walk ---------------------------------------------------------------------------


def test_no_url_answers_any_role_with_a_5xx_whatever_it_is_sent(world):
    values = _hostile_values(world)
    form_names = FORM_NAMES + _prefixed_form_names(world)
    routes = all_routes()
    # Admin last: its delete views delete on any POST, and the world must last.
    routes.sort(key=lambda route: (route.is_admin, route.name.endswith("_delete")))
    clients = {}
    for role, user in world.users.items():
        clients[role] = Client()
        if user is not None:
            clients[role].force_login(user)
    turns = itertools.count()
    failures = []
    sent = 0

    def send(role, method, url, data, htmx):
        nonlocal sent
        sent += 1
        client = clients[role]
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        try:
            if method == "GET":
                response = client.get(url, data, **headers)
            else:
                response = client.post(url, data, **headers)
        except Exception as exc:  # noqa: BLE001 - the test reports every failure at once
            failures.append(f"{role} {method} {url[:120]} -> {type(exc).__name__}: {exc}"[:400])
            return
        if response.status_code >= 500:
            failures.append(f"{role} {method} {url[:120]} -> {response.status_code}")
        if "logout" in url and world.users[role] is not None:
            client.force_login(world.users[role])

    roles = list(world.users)
    for route in routes:
        # In the admin only the superuser gets past the login page.
        route_roles = ["superuser"] if route.is_admin else roles
        sets = path_values(route, world)
        for path in sets:
            # Two roles per set of ids, taking turns, so every role meets every view.
            for _ in range(min(2, len(route_roles))):
                turn = next(turns)
                role, htmx = route_roles[turn % len(route_roles)], (turn // 7) % 2 == 1
                url = _url(route, path)
                send(role, "GET", url, _rotation(QUERY_NAMES, values, turn), htmx)
                send(role, "POST", url, _rotation(form_names + QUERY_NAMES, values, turn), htmx)
        # Control characters, where the ids are valid (the first set): the
        # middleware refuses them in query strings; forms must report them.
        url = _url(route, sets[0])
        turn = next(turns)
        send(
            route_roles[turn % len(route_roles)],
            "GET",
            url,
            _rotation(QUERY_NAMES, CONTROL_VALUES, turn),
            False,
        )
        for _ in range(min(3, len(route_roles))):
            turn = next(turns)
            role, htmx = route_roles[turn % len(route_roles)], (turn // 7) % 2 == 1
            send(role, "POST", url, _rotation(form_names, CONTROL_VALUES, turn), htmx)
        if route.is_admin:
            for role in ("anonymous", "staff"):
                send(role, "GET", url, {}, False)

    assert sent > 1000
    assert not failures, f"{len(failures)} answers were 5xx:\n" + "\n".join(failures)


def test_the_walk_reaches_every_pattern():
    names = {route.name for route in all_routes()}
    # A sample of each kind: the site's own, the admin's, regex patterns.
    assert {"issues:answer", "meetings:agenda_decide", "performance:report"} <= names
    assert {"admin:issues_issue_changelist", "admin:app_list", "dashboard_export"} <= names


def test_the_personas_cover_every_role(world):
    roles = {user.role for user in world.users.values() if user is not None}
    assert roles == set(Role.values)
    assert world.users["superuser"].is_superuser
