"""Demo and benchmark issues, for ``manage.py seed_demo``.

Two different jobs live here:

* ``seed_demo_issues`` files the forty hand-written Korean issues of
  ``data/demo_issues.json`` between the organizations *through*
  ``issues.services``, so permissions, invariants and timelines (Event rows)
  are exactly what real use produces. It then
  back-dates every row it wrote so lists and dashboards look like a year of
  work. It is idempotent: a demo issue whose title already exists is skipped.
* ``seed_bulk`` tops the database up to N generated issues and M generated
  comments with ``bulk_create`` (no services, no signals, no notifications),
  fast enough for 20,000 issues and 100,000 comments in well under a minute.

"Generated" means "not a demo issue": demo issues are recognised by their
title (``DEMO_TITLES``) and generated titles never take one of those.
Both jobs draw from fixed random seeds, so the same database results twice.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TextIO

from django.db import connection, transaction
from django.utils import timezone

from agencies.models import Agency, Role, User

from . import services
from .demo_follow_through import seed_follow_through
from .models import (
    DONE_STATUSES,
    Category,
    Comment,
    Cooperation,
    CooperationStatus,
    Event,
    EventKind,
    Issue,
    Priority,
    Status,
    Visibility,
)

SEED = 2026
BATCH_SIZE = 2000  # rows per INSERT: well under PostgreSQL's 65,535 parameters

# --------------------------------------------------------------------------
# The hand-written demo issues
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoIssue:
    title: str
    lead: str  # agency slug (agencies/data/agencies.json)
    cooperating: tuple[str, ...]
    category: str  # category slug (issues/migrations/0003_categories.py)
    priority: str  # a Priority value
    background: str
    asks: tuple[str, ...]
    restricted: bool = False

    def description(self, due: date | None) -> str:
        asks = "\n".join(f"- {ask}" for ask in self.asks)
        schedule = f"- 목표 기한: {due:%Y-%m-%d}\n" if due else ""
        return (
            f"## 배경\n\n{self.background}\n\n"
            f"## 협조 요청 사항\n\n{asks}\n\n"
            f"## 추진 일정\n\n{schedule}- 진행 상황은 이 이슈의 댓글로 공유합니다.\n"
        )


# The issues themselves are content, kept as data like the organizations they name.
DATA_FILE = Path(__file__).resolve().parent / "data" / "demo_issues.json"


def _load_demo_issues() -> tuple[DemoIssue, ...]:
    rows = json.loads(DATA_FILE.read_text(encoding="utf-8"))["issues"]
    return tuple(
        DemoIssue(**(row | {"cooperating": tuple(row["cooperating"]), "asks": tuple(row["asks"])}))
        for row in rows
    )


DEMO_ISSUES = _load_demo_issues()
DEMO_TITLES = frozenset(spec.title for spec in DEMO_ISSUES)

# Words the demo actors write. ``{agency}`` is the author's organization.
LEAD_COMMENTS = (
    "관련 자료를 공유드립니다. 검토하시고 의견 주시면 반영하겠습니다.",
    "**진행 상황 공유**\n\n- 1차 실무 협의 완료\n- 세부 일정은 다음 주 확정 예정\n\n"
    "추가 의견은 댓글로 남겨 주세요.",
    "협조 기관 회신 내용을 정리해 다음 부기관장 회의 안건으로 올리겠습니다.",
    "예산 확보 문제로 일정이 다소 늦어지고 있습니다. 이번 달 말까지 다시 검토하겠습니다.",
    "실무 회의를 {day} 오후 2시 시청 소회의실에서 진행하려 합니다. 참석 여부 알려 주세요.",
    "현장 점검 결과 보완이 필요한 사항이 있어 조치 계획을 정리하고 있습니다.",
)
COOPERATOR_COMMENTS = (
    "{agency} 담당자입니다. 내부 검토 후 이번 주 안에 회신드리겠습니다.",
    "저희 기관 보유 자료 목록을 정리했습니다. 필요한 항목을 알려 주시면 제공하겠습니다.",
    "담당 부서가 바뀌어 {agency} 새 담당자가 이어서 챙기겠습니다.",
    "협조 범위를 분명히 하기 위해 실무 협의를 한 번 더 요청드립니다.",
    "요청하신 일정은 가능하나 인력 지원은 2명까지만 가능합니다.",
)
MAYOR_COMMENTS = (
    "시장님 보고 예정입니다. 주요 쟁점과 기관별 입장을 정리해 주세요.",
    "기관 간 이견이 있는 부분은 다음 부기관장 회의에서 조정하겠습니다.",
    "시민 체감도가 높은 과제이니 일정 준수 부탁드립니다.",
)
ANSWER_NOTES = {
    CooperationStatus.ACCEPTED: (
        "적극 협조하겠습니다. 담당자를 지정해 안내드리겠습니다.",
        "내부 결재를 마쳤습니다. 요청 사항대로 지원하겠습니다.",
        "협조하겠습니다. 다만 올해 예산 범위 안에서 가능합니다.",
    ),
    CooperationStatus.DECLINED: (
        "소관 업무가 아니어서 협조가 어렵습니다. 관련 부서와 먼저 협의 부탁드립니다.",
        "올해 사업 일정과 겹쳐 참여가 어렵습니다. 하반기에 다시 검토하겠습니다.",
    ),
    CooperationStatus.DONE: (
        "요청하신 자료 제공을 완료했습니다.",
        "협조 사항 이행을 마쳤습니다. 결과는 댓글로 공유드렸습니다.",
        "현장 지원을 마쳤습니다. 수고 많으셨습니다.",
    ),
}
WEEKDAYS = ("월요일", "화요일", "수요일", "목요일", "금요일")


def _rng(seed: int) -> random.Random:
    # Demo data, not secrets: a seeded PRNG is the point (same data every run).
    return random.Random(seed)  # noqa: S311


def _pick_status(age_days: int, rng: random.Random) -> str:
    """Older issues are more likely finished, as in real life."""
    if age_days > 180:
        weights = {Status.RESOLVED: 45, Status.CLOSED: 20, Status.IN_PROGRESS: 20,
                   Status.ON_HOLD: 10, Status.OPEN: 5}  # fmt: skip
    elif age_days > 45:
        weights = {Status.RESOLVED: 25, Status.CLOSED: 5, Status.IN_PROGRESS: 40,
                   Status.ON_HOLD: 10, Status.OPEN: 20}  # fmt: skip
    else:
        weights = {Status.OPEN: 50, Status.IN_PROGRESS: 40, Status.ON_HOLD: 5,
                   Status.RESOLVED: 5}  # fmt: skip
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _pick_answer(issue_status: str, rng: random.Random) -> str:
    if issue_status in DONE_STATUSES:
        weights = {CooperationStatus.DONE: 60, CooperationStatus.ACCEPTED: 25,
                   CooperationStatus.DECLINED: 15}  # fmt: skip
    else:
        weights = {CooperationStatus.REQUESTED: 35, CooperationStatus.ACCEPTED: 40,
                   CooperationStatus.DECLINED: 10, CooperationStatus.DONE: 15}  # fmt: skip
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _status_path(final: str) -> list[str]:
    """The status changes a lead agency makes to get from open to ``final``."""
    return {
        Status.OPEN: [],
        Status.IN_PROGRESS: [Status.IN_PROGRESS],
        Status.ON_HOLD: [Status.IN_PROGRESS, Status.ON_HOLD],
        Status.RESOLVED: [Status.IN_PROGRESS, Status.RESOLVED],
        Status.CLOSED: [Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED],
    }[final]


@dataclass(frozen=True)
class _Step:
    """One thing that happens to a demo issue after it is filed."""

    at: datetime
    kind: str  # "answer", "comment" or "status"
    actor: str  # username
    value: str  # the answer or the new status ("" for comments)
    agency: str = ""  # for answers: the cooperating agency's slug
    note: str = ""


@dataclass
class _Plan:
    spec: DemoIssue
    created_at: datetime
    creator: str
    status: str
    due_date: date | None
    steps: list[_Step] = field(default_factory=list)


def _office_hours(moment: datetime, rng: random.Random, now: datetime) -> datetime:
    local = timezone.localtime(moment)
    local = local.replace(hour=rng.randint(9, 17), minute=rng.randrange(60), second=0)
    return min(local.replace(microsecond=0), now - timedelta(minutes=5))


def _daytime(moment: datetime, earliest: datetime, latest: datetime) -> datetime:
    """Move a night-time moment into office hours the same day, within the window.

    People answer and comment at work; a timeline full of 3 a.m. entries
    looks fake.
    """
    local = timezone.localtime(moment)
    if not 9 <= local.hour < 18:
        moment = local.replace(hour=9 + local.hour % 9)
    return max(earliest + timedelta(minutes=1), min(moment, latest))


def _pick_due(status: str, age_days: int, created: date, today: date, rng) -> date | None:
    if status in DONE_STATUSES:
        return created + timedelta(days=rng.randint(20, 90))
    if age_days > 30 and rng.random() < 0.35:  # overdue: the reminders have work to do
        return today - timedelta(days=rng.randint(1, min(45, age_days - 20)))
    if rng.random() < 0.1:
        return None
    return today + timedelta(days=rng.randint(5, 90))


def _plan(spec: DemoIssue, index: int, now: datetime) -> _Plan:
    """Decide everything about one demo issue, from its own seed.

    A per-issue seed keeps each issue the same whether or not the others
    already exist.
    """
    rng = _rng(SEED * 1000 + index)
    age_days = rng.randint(2, 360)
    created_at = _office_hours(now - timedelta(days=age_days), rng, now)
    status = _pick_status(age_days, rng)
    plan = _Plan(
        spec=spec,
        created_at=created_at,
        creator="mayor1" if rng.random() < 0.2 else f"{spec.lead}-staff1",
        status=status,
        due_date=_pick_due(status, age_days, created_at.date(), timezone.localdate(now), rng),
    )
    # Everything else happens within an activity window after filing.
    end = min(now - timedelta(minutes=10), created_at + timedelta(days=rng.randint(7, 75)))

    def at(low: float, high: float) -> datetime:
        moment = created_at + (end - created_at) * rng.uniform(low, high)
        return _daytime(moment, created_at, end)

    speakers = [f"{spec.lead}-staff1", f"{spec.lead}-staff2", f"{spec.lead}-head", "mayor1"]
    for slug in spec.cooperating:
        answer = _pick_answer(status, rng)
        if answer == CooperationStatus.DONE:  # first yes, then done
            plan.steps.append(_answer_step(at(0.05, 0.3), slug, CooperationStatus.ACCEPTED, rng))
            plan.steps.append(_answer_step(at(0.5, 0.9), slug, answer, rng))
        elif answer != CooperationStatus.REQUESTED:
            plan.steps.append(_answer_step(at(0.05, 0.5), slug, answer, rng))
        if answer != CooperationStatus.DECLINED:
            speakers.append(f"{slug}-staff1")
    for _ in range(rng.randint(0, 4)):
        plan.steps.append(_Step(at(0.1, 0.95), "comment", rng.choice(speakers), ""))
    for position, new_status in enumerate(_status_path(status)):
        # The first change comes early, the last ones close the window.
        when = at(0.02, 0.2) if position == 0 else at(0.85, 1.0)
        plan.steps.append(_Step(when, "status", f"{spec.lead}-head", new_status))
    plan.steps.sort(key=lambda step: (step.at, step.kind != "status"))
    _fix_status_order(plan.steps)
    return plan


def _answer_step(at: datetime, slug: str, answer: str, rng: random.Random) -> _Step:
    note = rng.choice(ANSWER_NOTES[answer])
    return _Step(at, "answer", f"{slug}-staff1", answer, agency=slug, note=note)


# Position along a status path (ON_HOLD and RESOLVED never share one).
_PATH_RANK = {Status.IN_PROGRESS: 0, Status.ON_HOLD: 1, Status.RESOLVED: 1, Status.CLOSED: 2}


def _fix_status_order(steps: list[_Step]) -> None:
    """Keep status changes in path order even if their random times crossed."""
    positions = [i for i, step in enumerate(steps) if step.kind == "status"]
    ordered = sorted((steps[i] for i in positions), key=lambda s: _PATH_RANK[s.value])
    times = sorted(steps[i].at for i in positions)
    for i, step, when in zip(positions, ordered, times, strict=True):
        steps[i] = _Step(when, step.kind, step.actor, step.value)


def _comment_body(username: str, users: dict[str, User], lead_slug: str, rng) -> str:
    user = users[username]
    if user.role == Role.MAYOR_OFFICE:
        pool = MAYOR_COMMENTS
    elif username.startswith(f"{lead_slug}-"):
        pool = LEAD_COMMENTS
    else:
        pool = COOPERATOR_COMMENTS
    return rng.choice(pool).format(agency=user.agency.name_ko, day=rng.choice(WEEKDAYS))


# Back-dating. Services stamp "now"; these move what a step just wrote to
# the step's planned moment, so the timeline reads like a year of work.


def _back_date_filing(issue: Issue, at: datetime) -> None:
    Issue.objects.filter(pk=issue.pk).update(created_at=at, updated_at=at)
    Event.objects.filter(issue=issue).update(created_at=at)
    Cooperation.objects.filter(issue=issue).update(requested_at=at)


def _back_date_last_event(issue: Issue, at: datetime) -> None:
    last = Event.objects.filter(issue=issue).latest("id")
    Event.objects.filter(pk=last.pk).update(created_at=at)


def _file(plan: _Plan, users, agencies, categories) -> Issue:
    spec = plan.spec
    issue = services.issue_create(
        actor=users[plan.creator],
        title=spec.title,
        lead_agency=agencies[spec.lead],
        description=spec.description(plan.due_date),
        cooperating_agencies=[agencies[slug] for slug in spec.cooperating],
        category=categories.get(spec.category),
        priority=spec.priority,
        visibility=Visibility.RESTRICTED if spec.restricted else Visibility.ALL,
        due_date=plan.due_date,
        assignee=users[f"{spec.lead}-staff2"],
    )
    _back_date_filing(issue, plan.created_at)
    return issue


def _run_step(issue: Issue, step: _Step, users, cooperations, rng) -> Issue:
    """Perform one step through the services and back-date what it wrote."""
    actor = users[step.actor]
    if step.kind == "answer":
        done = services.cooperation_answer(
            cooperation=cooperations[step.agency], actor=actor, status=step.value, note=step.note
        )
        Cooperation.objects.filter(pk=done.pk).update(answered_at=step.at)
        _back_date_last_event(issue, step.at)
    elif step.kind == "comment":
        body = _comment_body(step.actor, users, issue.lead_agency.slug, rng)
        comment = services.comment_create(issue=issue, actor=actor, body=body)
        Comment.objects.filter(pk=comment.pk).update(created_at=step.at)
        Event.objects.filter(comment=comment).update(created_at=step.at)
    else:
        issue = services.issue_change_status(
            issue=issue, actor=actor, expected_version=issue.version, status=step.value
        )
        _back_date_last_event(issue, step.at)
    return issue


def _create_demo_issue(plan: _Plan, index: int, users, agencies, categories) -> int:
    issue = _file(plan, users, agencies, categories)
    cooperations = {c.agency.slug: c for c in issue.cooperations.select_related("agency")}
    rng = _rng(SEED * 1000 + index + 500)  # comment wording, separate from the plan's draws
    resolved_at = None
    for step in plan.steps:
        issue = _run_step(issue, step, users, cooperations, rng)
        if step.kind == "status" and step.value in DONE_STATUSES and resolved_at is None:
            resolved_at = step.at
    last = plan.steps[-1].at if plan.steps else plan.created_at
    Issue.objects.filter(pk=issue.pk).update(
        updated_at=max(last, plan.created_at),
        resolved_at=resolved_at if plan.status in DONE_STATUSES else None,
    )
    return issue.pk


def seed_demo_issues(out: TextIO) -> int:
    """File the demo issues that do not exist yet; returns how many were filed.

    Needs the organizations and users of ``agencies.demo``. Notifications are
    suppressed while the history is replayed (nobody should get a hundred
    e-mails about demo data), then written into the bells, dated and owing no
    e-mail, with owners, deadlines, follows and saved searches
    (``demo_follow_through``).
    """
    now = timezone.now()
    existing = set(Issue.objects.filter(title__in=DEMO_TITLES).values_list("title", flat=True))
    users = {u.username: u for u in User.objects.select_related("agency")}
    agencies = Agency.objects.in_bulk(field_name="slug")
    categories = Category.objects.in_bulk(field_name="slug")
    created = []
    with transaction.atomic():
        with services.notifications_suppressed():
            for index, spec in enumerate(DEMO_ISSUES):
                if spec.title in existing:
                    continue
                plan = _plan(spec, index, now)
                created.append(_create_demo_issue(plan, index, users, agencies, categories))
        follow_through = seed_follow_through(created) if created else {}
    out.write(f"Demo issues: {len(created)} created, {len(existing)} already there\n")
    if follow_through:
        out.write(
            "Follow-through: {owners} requests with a person in charge, {follows} follows, "
            "{searches} saved searches, {notices} notifications in the bells\n".format(
                **follow_through
            )
        )
    return len(created)


# --------------------------------------------------------------------------
# Benchmark scale: bulk inserts
# --------------------------------------------------------------------------

# fmt: off
PLACES = ("상무지구", "첨단산단", "송정역", "충장로", "양림동", "광주천", "빛그린산단",
          "금남로", "무등산", "월드컵경기장", "대인시장", "수완지구", "남광주", "백운광장",
          "평동산단")
SUBJECTS = ("공공데이터 개방", "보행 안전", "주차 공간 확보", "청년 창업 지원", "문화 행사",
            "미세먼지 저감", "돌봄 서비스", "관광 안내", "도시재생", "스마트 가로등",
            "자전거 도로", "공공 와이파이", "재난 대응", "일자리 매칭", "노인 일자리",
            "외국인 주민 지원", "전기차 충전소", "하천 정비", "생활체육 시설", "디자인 개선")
ACTIONS = ("협조 요청", "공동 대응 방안", "추진 현황 점검", "예산 분담 협의", "실무 협의",
           "개선 방안 검토", "자료 제공 요청", "합동 점검", "시범 사업 추진")
REASONS = ("시민 민원이 꾸준히 늘고 있습니다", "올해 업무 계획에 반영된 과제입니다",
           "부기관장 회의에서 후속 조치를 요청받았습니다", "관련 예산이 추가 확보되었습니다",
           "현장 점검에서 보완 필요 사항이 확인되었습니다")
ASKS = ("담당자 지정과 회신", "보유 자료 제공", "실무 협의 참석", "현장 점검 참여",
        "예산 분담 의견 회신", "홍보 채널 지원", "시설·공간 사용 협조")
# fmt: on
BULK_COMMENTS = LEAD_COMMENTS + COOPERATOR_COMMENTS + MAYOR_COMMENTS

PRIORITY_WEIGHTS = {Priority.LOW: 15, Priority.NORMAL: 50, Priority.HIGH: 25, Priority.URGENT: 10}
# 0–3 cooperating agencies, 1.5 on average.
COOPERATOR_COUNT_WEIGHTS = {0: 15, 1: 35, 2: 35, 3: 15}
RESTRICTED_SHARE = 0.15
HISTORY_DAYS = 395  # a little over a year, so year-on-year views have data


@dataclass
class _Population:
    """Who and what generated rows may point at, loaded once."""

    organizations: list[int]
    users_by_agency: dict[int, list[int]]
    agency_names: dict[int, str]
    user_agency: dict[int, int]
    mayor_office: list[int]
    categories: list[int]

    @classmethod
    def load(cls) -> _Population:
        organizations = list(
            Agency.objects.public_organizations().active().values_list("pk", flat=True)
        )
        users_by_agency: dict[int, list[int]] = {}
        user_agency: dict[int, int] = {}
        mayor_office = []
        people = User.objects.filter(is_active=True, agency__isnull=False).order_by("pk")
        for pk, agency_id, role in people.values_list("pk", "agency_id", "role"):
            users_by_agency.setdefault(agency_id, []).append(pk)
            user_agency[pk] = agency_id
            if role == Role.MAYOR_OFFICE:
                mayor_office.append(pk)
        return cls(
            organizations=[pk for pk in organizations if pk in users_by_agency],
            users_by_agency=users_by_agency,
            agency_names=dict(Agency.objects.values_list("pk", "name_ko")),
            user_agency=user_agency,
            mayor_office=mayor_office,
            categories=list(Category.objects.values_list("pk", flat=True)),
        )


def _weighted(weights: dict, rng: random.Random):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _generated_title(rng: random.Random) -> str:
    title = f"{rng.choice(PLACES)} {rng.choice(SUBJECTS)} {rng.choice(ACTIONS)}"
    return title if title not in DEMO_TITLES else f"{title} (추가)"


def _generated_description(title: str, rng: random.Random) -> str:
    asks = "\n".join(f"- {ask}" for ask in rng.sample(ASKS, 2))
    return f"## 배경\n\n{title} 건으로, {rng.choice(REASONS)}.\n\n## 협조 요청 사항\n\n{asks}\n"


def _generated_due(created_at: datetime, status: str, today: date, rng) -> date | None:
    if rng.random() < 0.15:
        return None
    due = timezone.localdate(created_at) + timedelta(days=rng.randint(14, 120))
    if status not in DONE_STATUSES and due < today and rng.random() < 0.75:
        # Most lapsed deadlines of live work get extended; a dashboard where
        # every second issue is overdue would not look like any real city.
        due = today + timedelta(days=rng.randint(7, 60))
    return due


def _generated_issue(pop: _Population, now: datetime, today: date, rng) -> Issue:
    lead = rng.choice(pop.organizations)
    age = timedelta(days=rng.uniform(0, HISTORY_DAYS))
    created_at = now - age
    # Last activity: somewhere in the following weeks, never in the future.
    updated_at = min(now, created_at + timedelta(days=rng.uniform(0, 90)))
    status = _pick_status(age.days, rng)
    lead_users = pop.users_by_agency[lead]
    creator = rng.choice(pop.mayor_office) if pop.mayor_office and rng.random() < 0.1 else None
    title = _generated_title(rng)
    return Issue(
        title=title,
        description=_generated_description(title, rng),
        lead_agency_id=lead,
        category_id=rng.choice(pop.categories) if pop.categories else None,
        priority=_weighted(PRIORITY_WEIGHTS, rng),
        status=status,
        visibility=Visibility.RESTRICTED if rng.random() < RESTRICTED_SHARE else Visibility.ALL,
        due_date=_generated_due(created_at, status, today, rng),
        created_by_id=creator or rng.choice(lead_users),
        assignee_id=rng.choice(lead_users) if rng.random() < 0.7 else None,
        created_at=created_at,
        updated_at=updated_at,
        resolved_at=updated_at if status in DONE_STATUSES else None,
    )


def _generated_cooperations(issue: Issue, pop: _Population, rng) -> list[Cooperation]:
    others = [pk for pk in pop.organizations if pk != issue.lead_agency_id]
    count = min(_weighted(COOPERATOR_COUNT_WEIGHTS, rng), len(others))
    rows = []
    for agency_id in rng.sample(others, count):  # sample: unique per issue
        answer = _pick_answer(issue.status, rng)
        answered = answer != CooperationStatus.REQUESTED
        rows.append(
            Cooperation(
                issue_id=issue.pk,
                agency_id=agency_id,
                status=answer,
                requested_by_id=issue.created_by_id,
                requested_at=issue.created_at,
                answered_by_id=rng.choice(pop.users_by_agency[agency_id]) if answered else None,
                answered_at=issue.created_at + (issue.updated_at - issue.created_at) * rng.random()
                if answered
                else None,
            )
        )
    return rows


def _created_event(issue: Issue) -> Event:
    return Event(
        issue_id=issue.pk,
        actor_id=issue.created_by_id,
        kind=EventKind.CREATED,
        created_at=issue.created_at,
    )


def _comment_event(comment: Comment) -> Event:
    return Event(
        issue_id=comment.issue_id,
        actor_id=comment.author_id,
        kind=EventKind.COMMENT,
        comment=comment,
        created_at=comment.created_at,
    )


def _batches(total: int) -> Iterator[int]:
    """Sizes of consecutive batches adding up to ``total``."""
    for start in range(0, total, BATCH_SIZE):
        yield min(BATCH_SIZE, total - start)


def _bulk_issues(count: int, pop: _Population, rng: random.Random) -> tuple[int, int]:
    """Insert ``count`` issues with their cooperations and "created" events.

    One transaction per batch: an interrupted run leaves whole issues behind,
    and the next run tops up from there.
    """
    now = timezone.now()
    today = timezone.localdate(now)
    cooperation_total = 0
    for size in _batches(count):
        issues = [_generated_issue(pop, now, today, rng) for _ in range(size)]
        with transaction.atomic():
            Issue.objects.bulk_create(issues)  # sets pk on PostgreSQL and SQLite ≥ 3.35
            cooperations = [c for i in issues for c in _generated_cooperations(i, pop, rng)]
            Cooperation.objects.bulk_create(cooperations, batch_size=BATCH_SIZE)
            Event.objects.bulk_create([_created_event(i) for i in issues])
        cooperation_total += len(cooperations)
    return count, cooperation_total


@dataclass(frozen=True)
class _Target:
    """A generated issue comments may land on, with who may write them."""

    pk: int
    created_at: datetime
    updated_at: datetime
    authors: tuple[int, ...]


def _comment_targets(pop: _Population) -> list[_Target]:
    """Generated issues, each with the users of its involved agencies and the Mayor's office."""
    rows = Issue.objects.exclude(title__in=DEMO_TITLES).order_by("pk")
    issues = list(rows.values_list("pk", "lead_agency_id", "created_at", "updated_at"))
    involved: dict[int, list[int]] = {pk: [lead] for pk, lead, _, _ in issues}
    for issue_id, agency_id in Cooperation.objects.values_list("issue_id", "agency_id"):
        if issue_id in involved:
            involved[issue_id].append(agency_id)
    targets = []
    for pk, _, created_at, updated_at in issues:
        authors = [u for a in involved[pk] for u in pop.users_by_agency.get(a, ())]
        targets.append(_Target(pk, created_at, updated_at, tuple(authors + pop.mayor_office)))
    return targets


def _generated_comment(target: _Target, pop: _Population, rng: random.Random) -> Comment:
    author = rng.choice(target.authors)
    body = rng.choice(BULK_COMMENTS).format(
        agency=pop.agency_names[pop.user_agency[author]], day=rng.choice(WEEKDAYS)
    )
    # Inside the issue's activity window, so updated_at stays "last activity".
    at = target.created_at + (target.updated_at - target.created_at) * rng.random()
    return Comment(issue_id=target.pk, author_id=author, body=body, created_at=at)


def _bulk_comments(count: int, pop: _Population, rng: random.Random) -> int:
    """Insert ``count`` comments spread over the generated issues, each with its event."""
    targets = _comment_targets(pop)
    if not targets:
        return 0
    for size in _batches(count):
        comments = [_generated_comment(rng.choice(targets), pop, rng) for _ in range(size)]
        with transaction.atomic():
            Comment.objects.bulk_create(comments)
            Event.objects.bulk_create([_comment_event(c) for c in comments])
    return count


def _analyze() -> None:
    # Fresh statistics, so the planner does not treat the new tables as empty
    # until autovacuum gets round to them.
    if connection.vendor != "postgresql":
        return
    tables = [m._meta.db_table for m in (Issue, Cooperation, Comment, Event)]
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(tables)}")


def seed_bulk(out: TextIO, *, issues: int, comments: int) -> None:
    """Top the database up to ``issues`` generated issues and ``comments`` generated comments.

    Counts what is already there (everything but the demo issues and their
    comments), so running it twice with the same numbers adds nothing.
    """
    started = time.monotonic()
    pop = _Population.load()
    if not pop.organizations:
        out.write("Benchmark data: no organizations with users; run seed_demo first\n")
        return
    generated = Issue.objects.exclude(title__in=DEMO_TITLES)
    existing_issues = generated.count()
    missing_issues = max(0, issues - existing_issues)
    missing_comments = max(0, comments - Comment.objects.filter(issue__in=generated).count())
    # Seeded by what exists, so a top-up does not replay the first run's draws.
    rng = _rng(SEED + existing_issues)
    new_issues, new_cooperations = _bulk_issues(missing_issues, pop, rng)
    new_comments = _bulk_comments(missing_comments, pop, rng)
    _analyze()
    out.write(
        f"Benchmark data: +{new_issues} issues, +{new_cooperations} cooperations, "
        f"+{new_comments} comments, +{new_issues + new_comments} events "
        f"in {time.monotonic() - started:.1f}s (targets: {issues} issues, {comments} comments)\n"
    )
