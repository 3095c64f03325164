"""Demo meetings, agendas, minutes and performance reports, for ``manage.py seed_demo``.

Needs the organizations and users of ``agencies.demo`` and the demo issues of
``issues.demo`` (found by title). Idempotent: meetings come from
``schedule_meetings`` (one per schedule key), a past meeting gets minutes and
an agenda only while it has neither, the next vice-heads' meeting gets
proposals only while its agenda is empty, and a report is only written for an
organization that has none for the year. Every choice is drawn from a seed
named after the row it fills, so the same database results twice.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TextIO

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from agencies.models import Agency, User
from issues.demo import DEMO_ISSUES
from issues.models import DONE_STATUSES, Event, EventKind, Issue, Visibility

from .models import (
    AgendaItem,
    AgendaItemKind,
    AgendaItemStatus,
    Meeting,
    MeetingKind,
    MeetingStatus,
    PerformanceReport,
    PerformanceReportStatus,
)
from .scheduling import schedule_meetings

ISSUES_PER_PAST_MEETING = 3
ISSUES_FOR_NEXT_MEETING = 4
SUBMITTED_REPORTS = 10
DRAFT_REPORTS = 4
WEEKDAYS_KO = "월화수목금토일"

# fmt: off
# (decision, days until the follow-up is due or None). "{lead}" is the lead
# agency's name; "에서" reads right after any name, whatever its last syllable.
DECISIONS: tuple[tuple[str, int | None], ...] = (
    ("{lead}에서 협조 기관과 실무 협의회를 구성하여 {due}까지 세부 추진 계획을 보고한다.", 30),
    ("협조 기관은 요청 자료를 {due}까지 {lead}에 제출하고, 기획조정실이 이행 상황을 점검한다.",
     21),
    ("원안대로 추진한다. 예산 분담은 관계 기관이 추가 협의하여 다음 회의에 보고한다.", None),
    ("시범 운영 후 확대 여부를 결정하기로 하고, {lead}에서 {due}까지 결과를 보고한다.", 45),
    ("관계 기관 의견을 반영하여 계획을 보완한 뒤 다음 회의에 다시 상정한다.", None),
)
# (presenting agency, title, decision): agencies sharing what worked.
INNOVATION_CASES: tuple[tuple[str, str, str], ...] = (
    ("gtp", "AI 기반 기업 지원 상담 챗봇 도입 사례",
     "우수 사례로 선정하고, 상담 시나리오를 다른 기관과 공유한다."),
    ("gec", "드론을 활용한 하수관로 점검 사례",
     "점검 결과 자료를 도시공사와 공유하고, 장비 공동 활용 방안을 검토한다."),
    ("gjcf", "문화예술 지원사업 온라인 원스톱 신청 체계 구축",
     "신청 절차 간소화 사례를 기관별 보조사업에 적용하도록 권고한다."),
    ("grtc", "도시철도 역사 에너지 절감 운영 사례",
     "절감 효과를 검증하여 공공시설 에너지 절감 지침에 반영한다."),
    ("gjwf", "위기가구 빅데이터 조기 발굴 모델",
     "개인정보 보호 절차를 보완하여 관계 기관으로 확대한다."),
    ("kdjcenter", "전시장 온라인 예약 시스템 전면 개편 사례",
     "공공시설 예약 통합 방안 검토 시 참고 사례로 활용한다."),
)
OTHER_BUSINESS = (
    "기관별 하반기 협업 과제 발굴 현황을 공유함.",
    "시민 불편 민원 처리 현황을 기관별로 점검함.",
    "공공기관 청렴도 향상을 위한 기관별 추진 계획을 공유함.",
    "재난 대비 기관 간 비상 연락 체계를 재정비하기로 함.",
    "지역 인재 채용 목표 달성 현황을 점검함.",
)
# What each organization's performance report is about.
FOCUS = {
    "grtc": "도시철도 1호선 안전 운행과 2호선 개통 준비",
    "gmdc": "공공주택 공급과 도시 개발 사업",
    "gec": "환경기초시설 운영과 탄소중립 실천",
    "kdjcenter": "전시·컨벤션 유치와 마이스 산업 활성화",
    "gcgf": "소상공인 보증 지원과 금융 부담 완화",
    "gtp": "지역 기업의 기술 고도화와 AI 실증 지원",
    "gica": "친환경 자동차 산업 육성과 충전 인프라 확충",
    "gdc": "공공디자인 개선과 디자인 산업 지원",
    "gicon": "정보문화산업 육성과 공공데이터 활용",
    "gjcf": "문화예술 창작 지원과 시민 문화 향유 확대",
    "biennale": "광주비엔날레 개최와 국제 미술 교류",
    "gwf": "성평등 정책 연구와 여성 일자리 지원",
    "gjwf": "복지 사각지대 발굴과 복지 정책 연구",
    "gjpass": "사회서비스 공공성 강화와 돌봄 종사자 지원",
    "gile": "시민 평생학습 기회 확대와 디지털 역량 교육",
    "gjsports": "생활체육 활성화와 전국체전 준비",
    "gjparasports": "장애인 생활체육 참여 확대",
    "gwangjufc": "프로축구단 운영과 유소년 축구 육성",
    "gjri": "지역 정책 연구와 광주형 일자리 성과 분석",
    "gepa": "청년 일자리 창출과 지역 경제 활성화",
    "gfn": "영어 방송 운영과 외국인 주민 생활 정보 제공",
    "gtcti": "운수종사자 교육과 교통 문화 개선",
    "gic": "국제 교류 협력과 외국인 주민 지원",
    "ggm": "완성차 생산 확대와 협력사 상생",
}
# fmt: on


def _rng(seed: str) -> random.Random:
    # String seeds are hashed with SHA-512, independent of PYTHONHASHSEED.
    return random.Random(seed)  # noqa: S311 - demo data, not secrets


def _korean_day(day: date) -> str:
    return f"{day.month}월 {day.day}일"


def _korean_when(meeting: Meeting) -> str:
    starts_at = timezone.localtime(meeting.starts_at)
    ends_at = timezone.localtime(meeting.ends_at)
    weekday = WEEKDAYS_KO[starts_at.weekday()]
    return (
        f"{starts_at.year}년 {_korean_day(starts_at)}({weekday}) {starts_at:%H:%M}~{ends_at:%H:%M}"
    )


@dataclass
class _Context:
    now: datetime
    users: dict[str, User]
    agencies: dict[str, Agency]
    issues: list[Issue]  # demo issues anyone may read, in DEMO_ISSUES order

    @classmethod
    def load(cls, now: datetime) -> _Context:
        order = {spec.title: index for index, spec in enumerate(DEMO_ISSUES)}
        issues = Issue.objects.filter(title__in=order, visibility=Visibility.ALL).select_related(
            "lead_agency"
        )
        return cls(
            now=now,
            users={u.username: u for u in User.objects.filter(agency__isnull=False)},
            agencies=Agency.objects.in_bulk(field_name="slug"),
            issues=sorted(issues, key=lambda issue: order[issue.title]),
        )

    def user(self, username: str) -> User | None:
        return self.users.get(username)


# --------------------------------------------------------------------------
# Past meetings: held, with minutes and decisions
# --------------------------------------------------------------------------


def _pending_at(issue: Issue, meeting: Meeting) -> bool:
    """Whether an issue was filed a week before the meeting and still pending the day after."""
    filed_in_time = issue.created_at <= meeting.starts_at - timedelta(days=7)
    resolved = issue.resolved_at
    return filed_in_time and (resolved is None or resolved > meeting.ends_at + timedelta(days=1))


def _decision(
    issue: Issue, meeting: Meeting, choice: tuple[str, int | None]
) -> tuple[str, date | None]:
    text, days = choice
    due = timezone.localdate(meeting.starts_at) + timedelta(days=days) if days else None
    return text.format(lead=issue.lead_agency.name_ko, due=_korean_day(due) if due else ""), due


def _record_decision(item: AgendaItem, meeting: Meeting, actor: User | None) -> None:
    """What ``services.agenda_item_decide`` writes, back-dated to the meeting.

    The service itself refuses follow-up dates in the past, which these are.
    """
    at, due = item.decided_at, item.follow_up_due
    issue = item.issue
    change = {
        "field": "decision",
        "meeting_id": meeting.pk,
        "meeting": meeting.title,
        "text": item.decision,
        "follow_up_due": due.isoformat() if due else None,
    }
    events = [
        Event(
            issue=issue,
            actor=actor,
            kind=EventKind.DECISION,
            agency=item.presenting_agency,
            changes=[change],
            created_at=at,
        )
    ]
    updates: dict = {}
    if due is not None and due != issue.due_date:
        old = issue.due_date.isoformat() if issue.due_date else None
        change = {"field": "due_date", "old": old, "new": due.isoformat()}
        events.append(
            Event(issue=issue, actor=actor, kind=EventKind.CHANGED, changes=[change], created_at=at)
        )
        updates = {"due_date": due, "version": F("version") + 1}
    Event.objects.bulk_create(events)
    # The decision is the issue's latest activity unless something happened since.
    issue.updated_at = max(issue.updated_at, at)
    Issue.objects.filter(pk=issue.pk).update(updated_at=issue.updated_at, **updates)


def _minutes(meeting: Meeting, items: list[AgendaItem], rng: random.Random) -> str:
    invited = meeting.invited_agencies.count()
    absent = rng.randint(0, 2) if invited > 2 else 0
    lines = [
        "## 회의 개요",
        "",
        f"- 일시: {_korean_when(meeting)}",
        f"- 장소: {meeting.location}",
        f"- 주재: {meeting.chair}",
        f"- 참석: 초청 기관 {invited}개 중 {invited - absent}개 기관 부기관장, 기획조정실",
        "",
        "## 안건 및 결정 사항",
        "",
    ]
    for number, item in enumerate(items, start=1):
        lines.append(f"{number}. **{item.title}** ({item.presenting_agency.name_ko})")
        lines.append(f"   - 결정: {item.decision}")
    lines += ["", "## 기타 논의", ""]
    lines += [f"- {text}" for text in rng.sample(OTHER_BUSINESS, 2)]
    return "\n".join(lines) + "\n"


def _hold(meeting: Meeting, ctx: _Context, used: set[int]) -> int:
    """Turn a past meeting into a held one: agenda, decisions, timeline events, minutes."""
    rng = _rng(f"held:{meeting.schedule_key}")
    candidates = [i for i in ctx.issues if i.pk not in used and _pending_at(i, meeting)]
    picked = rng.sample(candidates, min(ISSUES_PER_PAST_MEETING, len(candidates)))
    # Recorded by the Mayor's office the same afternoon, after the meeting.
    decided_at = meeting.ends_at + timedelta(minutes=rng.randint(20, 150))
    decisions = rng.sample(DECISIONS, len(picked))
    mayor = ctx.user("mayor1")
    items = []
    for issue, choice in zip(picked, decisions, strict=True):
        used.add(issue.pk)
        decision, due = _decision(issue, meeting, choice)
        items.append(
            _issue_item(
                meeting,
                issue,
                status=AgendaItemStatus.ACCEPTED,
                proposed_by=ctx.user(f"{issue.lead_agency.slug}-vice"),
                decision=decision,
                follow_up_due=due,
                decided_at=decided_at,
                created_at=meeting.starts_at - timedelta(days=rng.randint(5, 12)),
            )
        )
    case = _innovation_case(
        meeting,
        ctx,
        rng,
        proposed_by=mayor,
        decided_at=decided_at,
        created_at=meeting.starts_at - timedelta(days=14),
    )
    if case is not None:
        items.append(case)
    _create_in_order(items)
    for item in items:
        if item.issue_id:
            _record_decision(item, meeting, mayor)
    meeting.status = MeetingStatus.HELD
    meeting.minutes = _minutes(meeting, items, rng)
    meeting.updated_at = decided_at
    meeting.save(update_fields=["status", "minutes", "updated_at"])
    return len(items)


def _hold_past_meetings(year: int, ctx: _Context) -> tuple[int, int]:
    """Minutes and decisions for this year's past vice-heads' meetings that have none."""
    past = Meeting.objects.filter(
        schedule_key__startswith=f"{MeetingKind.VICE_HEADS}:{year}-",
        status=MeetingStatus.SCHEDULED,
        starts_at__lt=ctx.now,
        minutes="",
        agenda_items__isnull=True,
    ).order_by("starts_at")
    # Issues already discussed are not brought back, so each meeting has its own.
    used = set(AgendaItem.objects.filter(issue__isnull=False).values_list("issue_id", flat=True))
    meetings = items = 0
    for meeting in past:
        items += _hold(meeting, ctx, used)
        meetings += 1
    return meetings, items


# --------------------------------------------------------------------------
# The next vice-heads' meeting: proposals from the agencies
# --------------------------------------------------------------------------


def _propose_for_next_meeting(ctx: _Context) -> int:
    meeting = (
        Meeting.objects.upcoming(ctx.now)
        .filter(kind=MeetingKind.VICE_HEADS, schedule_key__isnull=False)
        .first()
    )
    if meeting is None or meeting.agenda_items.exists():
        return 0
    rng = _rng(f"next:{meeting.schedule_key}")
    pending = [i for i in ctx.issues if i.status not in DONE_STATUSES]
    picked = rng.sample(pending, min(ISSUES_FOR_NEXT_MEETING, len(pending)))
    items = []
    for position, issue in enumerate(picked):
        slug = issue.lead_agency.slug
        proposer = ctx.user(f"{slug}-vice" if position % 2 else f"{slug}-head")
        items.append(
            _issue_item(
                meeting,
                issue,
                # The Mayor's office has accepted the first two; the rest await it.
                status=AgendaItemStatus.ACCEPTED if position < 2 else AgendaItemStatus.PROPOSED,
                proposed_by=proposer,
                created_at=ctx.now - timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 6)),
            )
        )
    case = _innovation_case(
        meeting, ctx, rng, proposed_by=ctx.user("mayor1"), created_at=ctx.now - timedelta(days=3)
    )
    if case is not None:
        items.insert(2, case)
    _create_in_order(items)
    return len(items)


def _issue_item(meeting: Meeting, issue: Issue, **fields) -> AgendaItem:
    """An item reviewing ``issue``, under the issue's title and lead agency."""
    return AgendaItem(
        meeting=meeting,
        issue=issue,
        title=issue.title,
        presenting_agency=issue.lead_agency,
        kind=AgendaItemKind.ISSUE_REVIEW,
        **fields,
    )


def _innovation_case(
    meeting: Meeting,
    ctx: _Context,
    rng: random.Random,
    *,
    decided_at: datetime | None = None,
    **fields,
) -> AgendaItem | None:
    """An accepted innovation case drawn from INNOVATION_CASES, decided if ``decided_at``;
    None when its agency is not in the database."""
    slug, title, decision = rng.choice(INNOVATION_CASES)
    if slug not in ctx.agencies:
        return None
    return AgendaItem(
        meeting=meeting,
        title=title,
        presenting_agency=ctx.agencies[slug],
        kind=AgendaItemKind.INNOVATION_CASE,
        status=AgendaItemStatus.ACCEPTED,
        decision=decision if decided_at else "",
        decided_at=decided_at,
        **fields,
    )


def _create_in_order(items: list[AgendaItem]) -> None:
    """Number the items in list order, then insert them at once."""
    for order, item in enumerate(items, start=1):
        item.order = order
    AgendaItem.objects.bulk_create(items)


# --------------------------------------------------------------------------
# Performance reports of this year
# --------------------------------------------------------------------------


def _report_texts(agency: Agency, year: int, rng: random.Random) -> tuple[str, str, str]:
    focus = FOCUS.get(agency.slug, "기관 고유 사업")
    summary = (
        f"{year}년 {agency.name_ko}에서는 {focus}에 역량을 집중했습니다. "
        "시와 출자·출연기관 간 협업 과제에 적극 참여하여 현안을 함께 해결하고, "
        "시민이 체감하는 성과를 높이는 데 주력했습니다."
    )
    achievements = "\n".join(
        [
            f"- {focus} 핵심 과제 {rng.randint(5, 12)}건 완료 (목표 대비 {rng.randint(92, 118)}%)",
            f"- 기관 간 협업 과제 {rng.randint(2, 7)}건 참여, 협조 요청 기한 내 회신",
            f"- 시민 만족도 {rng.randint(82, 94)}점 (전년 대비 {rng.randint(1, 5)}점 상승)",
            f"- 업무 절차 개선 {rng.randint(2, 6)}건으로 민원 처리 기간 단축",
        ]
    )
    plan = "\n".join(
        [
            f"- {focus} 고도화를 위한 {year + 1}년 중점 과제 추진",
            "- 관계 기관과의 협업 과제 분기별 정례 점검",
            "- 디지털 전환으로 시민 서비스 처리 기간 단축",
            "- 성과 지표 분기별 점검 및 결과 공개",
        ]
    )
    return summary, achievements, plan


def _office_hours(moment: datetime, rng: random.Random, now: datetime) -> datetime:
    local = timezone.localtime(moment).replace(
        hour=rng.randint(9, 17), minute=rng.randrange(60), second=0, microsecond=0
    )
    return min(local, now - timedelta(minutes=5))


def _seed_reports(year: int, ctx: _Context) -> tuple[int, int]:
    """About ten submitted reports (by each head) and a few drafts (by staff)."""
    organizations = list(Agency.objects.active().public_organizations())
    rng = _rng(f"reports:{year}")
    chosen = rng.sample(organizations, min(SUBMITTED_REPORTS + DRAFT_REPORTS, len(organizations)))
    have = set(PerformanceReport.objects.filter(year=year).values_list("agency_id", flat=True))
    submitted = drafts = 0
    for position, agency in enumerate(chosen):
        if agency.pk in have:
            continue
        agency_rng = _rng(f"report:{year}:{agency.slug}")
        summary, achievements, plan = _report_texts(agency, year, agency_rng)
        head, staff = ctx.user(f"{agency.slug}-head"), ctx.user(f"{agency.slug}-staff1")
        written_at = _office_hours(
            ctx.now - timedelta(days=agency_rng.randint(1, 16)), agency_rng, ctx.now
        )
        report = PerformanceReport(agency=agency, year=year, summary=summary)
        if position < SUBMITTED_REPORTS and head is not None:
            report.achievements, report.next_year_plan = achievements, plan
            report.status = PerformanceReportStatus.SUBMITTED
            report.submitted_by = report.updated_by = head
            report.submitted_at = report.updated_at = written_at
            submitted += 1
        else:
            # Half-written: the summary and the first achievements so far.
            report.achievements = "\n".join(achievements.splitlines()[:2])
            report.updated_by = staff
            report.updated_at = written_at
            drafts += 1
        report.save()
    return submitted, drafts


def seed_demo_meetings(out: TextIO) -> None:
    """Schedule this year's and next year's meetings and give them a lived-in history."""
    now = timezone.now()
    year = timezone.localdate(now).year
    ctx = _Context.load(now)
    scheduled = [schedule_meetings(y, created_by=ctx.user("mayor1")) for y in (year, year + 1)]
    with transaction.atomic():
        held, held_items = _hold_past_meetings(year, ctx)
        proposed = _propose_for_next_meeting(ctx)
        submitted, drafts = _seed_reports(year, ctx)
    created = sum(len(result.created) for result in scheduled)
    existing = sum(len(result.existing) for result in scheduled)
    out.write(
        f"Demo meetings ({year}, {year + 1}): {created} created, {existing} already there; "
        f"{held} past meetings given minutes and {held_items} agenda items; "
        f"{proposed} items proposed for the next vice-heads' meeting\n"
        f"Performance reports {year}: {submitted} submitted, {drafts} drafts created\n"
    )
