"""Reads that span relations: the filtered issue list and the detail page."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.lookups import DataContains
from django.core.cache import caches
from django.db import connection
from django.db.models import (
    Case,
    Count,
    Exists,
    Expression,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.functions import StrIndex
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from agencies.models import Agency, Role, User
from core.compiled import CompiledList, CompiledQueries, prefetched

from . import extensions
from .models import (
    ACTIVE_STATUSES,
    DONE_STATUSES,
    PRIORITY_RANK,
    Attachment,
    Category,
    Cooperation,
    CooperationStatus,
    Event,
    EventKind,
    Follow,
    Issue,
    SavedSearch,
    Visibility,
)

SORTS = {
    "updated": ("-updated_at", "-id"),
    "created": ("-created_at", "-id"),
    "due": (F("due_date").asc(nulls_last=True), "-id"),
    "priority": ("-priority_rank", "-updated_at", "-id"),
    "title": ("title", "id"),
}
DEFAULT_SORT = "updated"


@dataclass(frozen=True)
class IssueFilters:
    q: str = ""
    status: str = ""
    agency: Agency | None = None
    priority: str = ""
    category: Category | None = None
    overdue: bool = False
    mine: bool = False
    following: bool = False
    waiting: bool = False
    # A cooperation request past its reply deadline and still unanswered.
    reply_overdue: bool = False
    sort: str = DEFAULT_SORT
    # Filters behind the dashboard's links, so every number opens exactly its issues.
    lead: Agency | None = None
    active: bool = False
    waiting_for: Agency | None = None
    resolved_from: date | None = None
    resolved_to: date | None = None
    escalated_for: Agency | None = None
    escalated_from: date | None = None
    escalated_to: date | None = None
    on_agenda: bool = False
    awaiting: bool = False  # at least one cooperation request still unanswered


def issue_list(*, user, filters: IssueFilters) -> QuerySet[Issue]:
    """Issues the user may see, filtered and sorted, ready for the list and the export."""
    issues = Issue.objects.visible_to(user)
    if filters.q:
        issues = issues.filter(_text_search(filters.q))
    if filters.status:
        issues = issues.filter(status=filters.status)
    if filters.agency is not None:
        issues = issues.involving(filters.agency)
    if filters.priority:
        issues = issues.filter(priority=filters.priority)
    if filters.category is not None:
        issues = issues.filter(category=filters.category)
    if filters.overdue:
        issues = issues.overdue(timezone.localdate())
    if filters.mine:
        issues = issues.filter(Q(created_by=user) | Q(assignee=user))
    if filters.following:
        issues = issues.filter(Exists(Follow.objects.filter(issue=OuterRef("pk"), user=user)))
    if filters.waiting:
        issues = issues.filter(Exists(_waiting_cooperations(user.agency_id)))
    if filters.reply_overdue:
        overdue = reply_overdue_cooperations(timezone.localdate())
        if filters.waiting_for is not None:
            # One organization's own requests past their deadline (the dashboard's links).
            overdue = overdue.filter(agency=filters.waiting_for)
        issues = issues.filter(Exists(overdue))
    if filters.lead is not None:
        issues = issues.filter(lead_agency=filters.lead)
    if filters.active:
        issues = issues.filter(status__in=ACTIVE_STATUSES)
    if filters.waiting_for is not None:
        issues = issues.filter(Exists(_waiting_cooperations(filters.waiting_for.pk)))
    if filters.escalated_for is not None:
        issues = issues.filter(
            Exists(
                escalations_between(filters.escalated_from, filters.escalated_to).filter(
                    issue=OuterRef("pk"), agency=filters.escalated_for
                )
            )
        )
    if filters.resolved_from or filters.resolved_to:
        issues = issues.filter(
            status__in=DONE_STATUSES, **resolved_between(filters.resolved_from, filters.resolved_to)
        )
    if filters.awaiting:
        issues = issues.filter(
            Exists(
                Cooperation.objects.filter(issue=OuterRef("pk"), status=CooperationStatus.REQUESTED)
            )
        )
    if filters.on_agenda and (condition := extensions.filter_condition("agenda")) is not None:
        issues = issues.filter(condition)
    return _sorted(issues, filters.sort)


def _text_search(q: str) -> Q:
    """Substring match on title and description.

    A query with Latin letters matches case-insensitively: icontains compiles
    to UPPER(col) LIKE UPPER(%q%), served by the UPPER(col) indexes (migration
    0002). Hangul has no case: a query without cased letters (most Korean ones)
    skips UPPER() over every description. From three characters on, a plain
    LIKE is served by the raw-column trigram indexes (migration 0005). A
    shorter one (a two-syllable word: 민원, 협조) gives pg_trgm no trigram; it
    is matched with STRPOS (INSTR on SQLite), which reads a row a third faster
    than LIKE's pattern matcher, and on PostgreSQL a two-character one also
    with the index of every issue's two-character pieces (migration 0013):
    the planner reads the rows that hold it instead of the whole table.
    """
    if q.upper() != q.lower():
        return Q(title__icontains=q) | Q(description__icontains=q)
    if len(q) >= TRIGRAM:
        return Q(title__contains=q) | Q(description__contains=q)
    found = Q(GreaterThan(StrIndex("title", Value(q)), 0)) | Q(
        GreaterThan(StrIndex("description", Value(q)), 0)
    )
    if len(q) == 2 and connection.vendor == "postgresql":
        # The bigram narrows; STRPOS stays the match (a piece may span the
        # title's end and the description's start).
        found &= Q(
            DataContains(SearchBigrams(), Value([q], output_field=SearchBigrams.output_field))
        )
    return found


# pg_trgm's unit: a LIKE pattern shorter than this gives its indexes nothing to look up.
TRIGRAM = 3


class SearchBigrams(Expression):
    """``issues_issue.search_bigrams``, the column PostgreSQL generates from an
    issue's title and description (migration 0013); the model does not declare
    it, so Django never writes it. Compiled against the issues table's alias of
    the query it is in."""

    output_field = ArrayField(TextField())

    def resolve_expression(
        self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False
    ):
        resolved = self.copy()
        resolved.alias = query.get_initial_alias()
        return resolved

    def relabeled_clone(self, change_map):
        # Inside a subquery the issues table is renamed (U0): follow it.
        clone = self.copy()
        clone.alias = change_map.get(self.alias, self.alias)
        return clone

    def as_sql(self, compiler, connection):
        return f"{compiler.quote_name_unless_alias(self.alias)}.search_bigrams", []


def _waiting_cooperations(agency_id):
    return Cooperation.objects.filter(
        issue=OuterRef("pk"), agency_id=agency_id, status=CooperationStatus.REQUESTED
    )


def reply_overdue_cooperations(today: date) -> QuerySet[Cooperation]:
    """The issue's requests past their reply deadline and not answered (기한 경과)."""
    return Cooperation.objects.filter(
        issue=OuterRef("pk"), status=CooperationStatus.REQUESTED, reply_by__lt=today
    )


def escalations_between(start: date | None, end: date | None) -> QuerySet[Event]:
    """Escalations (the deadline chains' ``ESCALATED`` events) on a day from start to end."""
    events = Event.objects.filter(kind=EventKind.ESCALATED)
    if start:
        events = events.filter(created_at__gte=_day_start(start))
    if end:
        events = events.filter(created_at__lt=_day_start(end + timedelta(days=1)))
    return events


def resolved_between(start: date | None, end: date | None, prefix: str = "") -> dict:
    """Lookups for "resolved on a day from start to end", days in Asia/Seoul."""
    lookups = {}
    if start:
        lookups[f"{prefix}resolved_at__gte"] = _day_start(start)
    if end:
        lookups[f"{prefix}resolved_at__lt"] = _day_start(end + timedelta(days=1))
    return lookups


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _sorted(issues: QuerySet[Issue], sort: str) -> QuerySet[Issue]:
    if sort == "priority":
        issues = issues.annotate(
            priority_rank=Case(
                *[When(priority=p, then=Value(rank)) for p, rank in PRIORITY_RANK.items()],
                output_field=IntegerField(),
            )
        )
    return issues.order_by(*SORTS.get(sort, SORTS[DEFAULT_SORT]))


# The list's pages and counts, compiled once per shape (core.compiled).
_compiled = CompiledQueries()
# Filters whose SQL reads the clock (today, upcoming meetings): built every time.
_CLOCK_FILTERS = ("overdue", "reply_overdue", "on_agenda")


def list_pages(*, user, filters: IssueFilters) -> CompiledList:
    """``issue_list(...)``'s rows for a Paginator, as ``LIST_ROW_COLUMNS``
    tuples (``list_rows`` makes a page of them ``ListRow``s), compiled once
    per shape: the filters (organizations by id), and what the visibility
    rules read of the person (``User.visibility_shape``), whose ids are the
    values. Filters that read the clock are built every time.
    """
    if any(getattr(filters, name) for name in _CLOCK_FILTERS):
        return CompiledList(
            None, None, lambda: issue_list(user=user, filters=filters), columns=LIST_ROW_COLUMNS
        )
    user_shape, ids = user.visibility_shape
    shape = (
        user_shape,
        tuple(getattr(value, "pk", value) for value in _filter_values(filters)),
    )
    return CompiledList(
        _compiled,
        shape,
        lambda *ids: issue_list(user=user.with_ids(*ids), filters=filters),
        *ids,
        columns=LIST_ROW_COLUMNS,
    )


def _filter_values(filters: IssueFilters) -> tuple:
    # dataclasses.astuple would deep-copy the organizations.
    return tuple(getattr(filters, f.name) for f in dataclass_fields(filters))


class ListedCooperation(NamedTuple):
    """A cooperation on a row of the issue list, as read: what the row shows of it."""

    issue_id: int
    status: str
    reply_by: date
    agency_ko: str
    agency_en: str
    assignee_username: str | None
    assignee_first_name: str | None
    assignee_last_name: str | None

    def cooperation(self) -> Cooperation:
        cooperation = Cooperation(
            issue_id=self.issue_id,
            status=self.status,
            reply_by=self.reply_by,
            agency=Agency(name_ko=self.agency_ko, name_en=self.agency_en),
        )
        if self.assignee_username is not None:
            cooperation.assignee = User(
                username=self.assignee_username,
                first_name=self.assignee_first_name,
                last_name=self.assignee_last_name,
            )
        return cooperation


class ListRow(NamedTuple):
    """A row of the issue list, as read: only what it shows, as plain values.

    Its values are the key under which ``{% cache %}`` keeps the rendered row
    (``issue_tags.list_row_key``), and ``issue()`` makes the model instances
    the row's template reads from them alone, so what is rendered is what the
    key says. Rows are nearly always taken rendered from the fragment cache:
    making ~300 instances a page (issues, organizations, categories,
    cooperations and their people) was a fifth of the list's work.
    """

    pk: int
    title: str
    visibility: str
    priority: str
    status: str
    due_date: date | None
    updated_at: datetime
    lead_ko: str
    lead_en: str
    category_ko: str | None
    category_en: str | None
    cooperations: tuple[ListedCooperation, ...] = ()

    def issue(self) -> Issue:
        issue = Issue(
            pk=self.pk,
            title=self.title,
            visibility=self.visibility,
            priority=self.priority,
            status=self.status,
            due_date=self.due_date,
            updated_at=self.updated_at,
            lead_agency=Agency(name_ko=self.lead_ko, name_en=self.lead_en),
        )
        if self.category_ko is not None:
            issue.category = Category(name_ko=self.category_ko, name_en=self.category_en)
        issue.listed_cooperations = [c.cooperation() for c in self.cooperations]
        return issue


# The columns of a ListRow and a ListedCooperation, in their order.
LIST_ROW_COLUMNS = (
    "pk",
    "title",
    "visibility",
    "priority",
    "status",
    "due_date",
    "updated_at",
    "lead_agency__name_ko",
    "lead_agency__name_en",
    "category__name_ko",
    "category__name_en",
)
LISTED_COOPERATION_COLUMNS = (
    "issue_id",
    "status",
    "reply_by",
    "agency__name_ko",
    "agency__name_en",
    "assignee__username",
    "assignee__first_name",
    "assignee__last_name",
)


def list_rows(rows: Iterable[tuple]) -> list[ListRow]:
    """A page of ``list_pages``' tuples as ``ListRow``s with their cooperations,
    read in one query compiled once per number of issues on the page."""
    rows = list(rows)
    by_issue: dict[int, list[ListedCooperation]] = {row[0]: [] for row in rows}
    if by_issue:
        for values in _compiled.rows(
            ("listed cooperations", len(by_issue)),
            lambda *ids: Cooperation.objects.filter(issue_id__in=ids).values_list(
                *LISTED_COOPERATION_COLUMNS
            ),
            *by_issue,
        ):
            by_issue[values[0]].append(ListedCooperation(*values))
    return [ListRow(*row, tuple(by_issue[row[0]])) for row in rows]


def _list_rows(issues: QuerySet[Issue]) -> QuerySet[Issue]:
    return issues.select_related("lead_agency", "category").only(*LIST_FIELDS)


def with_list_relations(issues: QuerySet[Issue]) -> QuerySet[Issue]:
    """Everything a list row shows, in a fixed number of queries.

    Only the fields rows show are loaded (LIST_FIELDS): the description alone
    is most of the bytes at tens of thousands of issues. The cooperations land in a plain list,
    ``issue.listed_cooperations``: a prefetch into the related manager clones a
    queryset per issue, a quarter of the list page's time in the ORM.
    """
    cooperations = Cooperation.objects.select_related("agency", "assignee").only(
        *LIST_COOPERATION_FIELDS
    )
    return _list_rows(issues).prefetch_related(
        Prefetch("cooperations", queryset=cooperations, to_attr="listed_cooperations")
    )


# What a list row (issues/issue_list.html) and a CSV line show, and no more:
# whole rows of issues, organizations and people were a third of the list's
# time in the ORM. A field shown but missing here costs a query per row, which
# the query-count tests of the list and the export catch.
_NAMES = ("name_ko", "name_en")
_PERSON = ("username", "first_name", "last_name")  # what display_name reads
LIST_FIELDS = (
    "title",
    "visibility",
    "priority",
    "status",
    "due_date",
    "created_at",
    "updated_at",
    *(f"lead_agency__{name}" for name in _NAMES),
    *(f"category__{name}" for name in _NAMES),
)
LIST_COOPERATION_FIELDS = (
    "issue_id",
    "status",
    "reply_by",
    *(f"agency__{name}" for name in _NAMES),
    *(f"assignee__{name}" for name in _PERSON),
)

# What a timeline entry (issue_detail.html's "timeline") shows: whole rows of
# people, organizations, comments and attachments made the events query twice
# as slow to build and to read. As with LIST_FIELDS, a field shown but missing
# here costs a query per entry, which the detail page's query-count test (an
# entry of every kind) catches.
TIMELINE_FIELDS = (
    "issue_id",
    "kind",
    "changes",
    "created_at",
    *(f"actor__{name}" for name in _PERSON),
    *(f"actor__agency__{name}" for name in _NAMES),
    *(f"agency__{name}" for name in _NAMES),
    "comment__body",
    "attachment__issue_id",
    "attachment__original_name",
)


# What the detail page shows of the people and organizations around an issue,
# its cooperations and attachments: their own rows whole (services save them),
# of the rows they point at only the names. Compiling the whole rows of five
# people and organizations into the four queries took half of the page's query
# time; a name shown but missing here costs a query, which the detail page's
# query-count test catches.
def _own_fields(model) -> tuple[str, ...]:
    return tuple(field.name for field in model._meta.concrete_fields)


DETAIL_FIELDS = (
    *_own_fields(Issue),
    *(f"lead_agency__{name}" for name in _NAMES),
    *(f"category__{name}" for name in _NAMES),
    *(f"assignee__{name}" for name in _PERSON),
    *(f"created_by__{name}" for name in _PERSON),
    *(f"created_by__agency__{name}" for name in _NAMES),
)
DETAIL_COOPERATION_FIELDS = (
    *_own_fields(Cooperation),
    *(f"agency__{name}" for name in _NAMES),
    *(f"answered_by__{name}" for name in _PERSON),
    *(f"assignee__{name}" for name in _PERSON),
)
DETAIL_ATTACHMENT_FIELDS = (
    *_own_fields(Attachment),
    *(f"uploaded_by__{name}" for name in _PERSON),
)


def issue_detail(issue_id: int, user) -> Issue:
    """One issue the user may see, with everything the detail page shows.

    Raises Issue.DoesNotExist when it does not exist *for this user*. The
    issue and its cooperations, attachments and events are four queries, each
    compiled once per shape (the issue's: per shape of person; core.compiled)
    and run with this issue's and person's ids.
    """
    user_shape, user_ids = user.visibility_shape
    found = _compiled.rows(
        ("detail", user_shape),
        lambda pk, *ids: _detail_row(Issue.objects.visible_to(user.with_ids(*ids))).filter(pk=pk),
        issue_id,
        *user_ids,
    )
    if not found:
        raise Issue.DoesNotExist
    issue = found[0]
    for name, related in _DETAIL_RELATIONS.items():
        rows = _compiled.rows(
            ("detail", name), lambda pk, related=related: related().filter(issue_id=pk), issue.pk
        )
        prefetched(issue, name, rows)
    return issue


def _detail_row(issues: QuerySet[Issue]) -> QuerySet[Issue]:
    return issues.select_related("lead_agency", "category", "assignee", "created_by__agency").only(
        *DETAIL_FIELDS
    )


# What the detail page shows around an issue, each as a prefetch would load it.
_DETAIL_RELATIONS = {
    "cooperations": lambda: Cooperation.objects.select_related(
        "agency", "answered_by", "assignee"
    ).only(*DETAIL_COOPERATION_FIELDS),
    "attachments": lambda: Attachment.objects.select_related("uploaded_by").only(
        *DETAIL_ATTACHMENT_FIELDS
    ),
    "events": lambda: Event.objects.select_related(
        "actor__agency", "agency", "comment", "attachment"
    ).only(*TIMELINE_FIELDS),
}


def status_counts(issues: QuerySet[Issue]) -> dict[str, int]:
    """Counts per status of a filtered list, in one query."""
    rows = issues.order_by().values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def follow_state(issue: Issue, user) -> dict:
    """The follow box of an issue page: whether the user follows it, and how many do.

    Only followers who may read the issue now are counted (active, and of the
    Mayor's office or an involved agency when it is restricted): the number
    says nothing about people it is hidden from.
    """
    followers = Follow.objects.filter(issue=issue, user__is_active=True)
    if issue.visibility != Visibility.ALL:
        involved = [issue.lead_agency_id, *(c.agency_id for c in issue.cooperations.all())]
        followers = followers.filter(
            Q(user__agency_id__in=involved)
            | Q(user__is_superuser=True)
            | Q(user__role=Role.MAYOR_OFFICE)
        )
    counts = followers.aggregate(n=Count("pk"), mine=Count("pk", filter=Q(user=user)))
    return {"following": bool(counts["mine"]), "follower_count": counts["n"]}


def saved_searches(user) -> QuerySet[SavedSearch]:
    """One's own saved searches, by name; nobody else's, ever."""
    return SavedSearch.objects.filter(user=user).order_by("name", "id")


# The list's menus of organizations and categories: both change only in the
# admin, yet every list page read them (two queries of its ~nine). Each process
# keeps them for a minute in its own memory ("local" cache: a dead Redis costs
# nothing); saving or deleting one clears them at once in the process that did
# it (issues.apps), and the others follow within the minute. A menu a minute
# late is harmless: what is chosen from it is still checked against the
# database when the form is validated.
MENU_SECONDS = 60


def menu_options(model: type[Agency] | type[Category]) -> list[tuple[str, str, str]]:
    """``(slug, name_ko, name_en)`` of every organization or category, in their order."""
    key = f"menu-options:{model._meta.label_lower}"
    local = caches["local"]
    options = local.get(key)
    if options is None:
        options = list(model.objects.values_list("slug", "name_ko", "name_en"))
        local.set(key, options, MENU_SECONDS)
    return options


def forget_menu_options(sender: type[Agency] | type[Category], **kwargs) -> None:
    """A receiver of post_save and post_delete: the next list reads the menu afresh."""
    caches["local"].delete(f"menu-options:{sender._meta.label_lower}")
