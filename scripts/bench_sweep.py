"""Time the reminder sweep over a year of meetings, and count its SQL queries.

Builds, in a throwaway database (Django's test database for DATABASE_URL,
created and dropped here), 24 organizations and the city hall, 500 users
(a head, a vice-head and 18 staff per organization, 20 in the Mayor's office),
the year's six vice-heads' meetings and the December briefing with five
issues on each agenda, and half the organizations' reports submitted. Then
it sweeps at every moment a reminder falls due, and in between, like beat:

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1/gwangju_bench_sweep \
        python scripts/bench_sweep.py

Mail goes to Django's in-memory backend, or with ``--smtp`` through a local
aiosmtpd server (a real SMTP conversation per mail).

With ``--deadlines`` it measures the deadline-reminder sweep instead
(``issues.deadlines``, issue 9): 25 organizations, 2,500 users (a head, a
vice-head and 98 staff each), 20,000 issues (due dates around the sweep's
day) and 60,000 cooperation requests (reply deadlines around it, most with a
person in charge, 60% unanswered). It times one sweep on a busy working day
(planning every row due that morning, then sending up to ``--limit``), the
sweeps after it, and the planning's queries again with twice the users,
which must be the same number.

With ``--digest``, on the same data, it times planning the day's digests
(every person's at once) and one send sweep, and the planning's queries
again with twice the users.
"""

import argparse
import logging
import os
import socket
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gwangju_hub.settings")
os.environ.setdefault("EMAIL_URL", "memorymail://")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from agencies.models import Agency, Role, User  # noqa: E402
from issues.models import Issue  # noqa: E402
from meetings import reminders  # noqa: E402
from meetings.models import (  # noqa: E402
    AgendaItem,
    AgendaItemStatus,
    Meeting,
    MeetingKind,
    PerformanceReport,
    PerformanceReportStatus,
    ReminderDelivery,
)

SEOUL = ZoneInfo("Asia/Seoul")
YEAR = 2027


def third_thursday(month: int) -> datetime:
    first = datetime(YEAR, month, 1, 14, 0, tzinfo=SEOUL)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 14)


def build() -> None:
    city = Agency.objects.create(slug="city", name_ko="광주광역시청", name_en="City", kind="city")
    agencies = Agency.objects.bulk_create(
        Agency(slug=f"org-{n}", name_ko=f"기관{n}", name_en=f"Org {n}", kind="foundation")
        for n in range(24)
    )
    users = [User(username=f"mayor-{n}", agency=city, role=Role.MAYOR_OFFICE) for n in range(20)]
    for agency in agencies:
        users.append(User(username=f"{agency.slug}-head", agency=agency, role=Role.HEAD))
        users.append(User(username=f"{agency.slug}-vice", agency=agency, role=Role.VICE_HEAD))
        users += [User(username=f"{agency.slug}-staff-{n}", agency=agency) for n in range(18)]
    for user in users:
        user.email = f"{user.username}@example.go.kr"
        user.set_unusable_password()  # nobody logs in here
    users = User.objects.bulk_create(users)
    staff = [user for user in users if user.role == Role.STAFF]
    starts = [third_thursday(month) for month in (2, 4, 6, 8, 10, 12)]
    meetings = [
        Meeting(
            kind=MeetingKind.VICE_HEADS,
            title=f"{YEAR}년 제{n}차 부기관장 회의",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            location="광주광역시청 3층 중회의실",
            chair="행정부시장",
        )
        for n, start in enumerate(starts, start=1)
    ]
    briefing = datetime(YEAR, 12, 15, 10, 0, tzinfo=SEOUL)
    meetings.append(
        Meeting(
            kind=MeetingKind.PERFORMANCE_BRIEFING,
            title=f"{YEAR}년 성과보고회",
            starts_at=briefing,
            ends_at=briefing + timedelta(hours=2),
            location="광주광역시청 3층 대회의실",
            chair="광주광역시장",
        )
    )
    meetings = Meeting.objects.bulk_create(meetings)
    for meeting in meetings:
        meeting.invited_agencies.set(agencies)
        for n in range(5):
            owner = staff[(meeting.pk * 7 + n * 13) % len(staff)]
            issue = Issue.objects.create(
                title=f"안건 {meeting.pk}-{n}",
                lead_agency_id=owner.agency_id,
                created_by=owner,
                assignee=staff[(meeting.pk * 11 + n * 17) % len(staff)],
            )
            AgendaItem.objects.create(
                meeting=meeting,
                order=n + 1,
                issue=issue,
                title=issue.title,
                presenting_agency_id=owner.agency_id,
                status=AgendaItemStatus.ACCEPTED,
            )
    PerformanceReport.objects.bulk_create(
        PerformanceReport(
            agency=agency, year=YEAR, summary="요약", status=PerformanceReportStatus.SUBMITTED
        )
        for agency in agencies[::2]
    )


def due_moments() -> list[datetime]:
    """Every moment a reminder falls due in the year, plus one idle moment after each."""
    moments = set()
    for meeting in Meeting.objects.all():
        for offset in reminders._meeting_offsets(meeting.kind):
            moments.add(meeting.starts_at - offset)
        if meeting.kind == MeetingKind.PERFORMANCE_BRIEFING:
            for offset in reminders._report_offsets():
                moments.add(reminders.report_deadline(meeting) - offset)
    return sorted(moments | {moment + timedelta(minutes=5) for moment in moments})


def measure(moment: datetime) -> tuple[float, int, reminders.SweepResult]:
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = reminders.sweep(moment)
        elapsed = time.perf_counter() - started
    return elapsed * 1000, len(queries), result


# --- deadlines (issue 9) ------------------------------------------------------------

DEADLINE_DAY = datetime(2027, 3, 10, 9, 0, tzinfo=SEOUL)  # a Wednesday, 09:00


def build_deadlines(users_per_agency: int = 100, issues: int = 20_000, per_issue: int = 3):
    import random
    from datetime import date

    from issues.models import Cooperation, CooperationStatus, Status

    rng = random.Random(9)  # noqa: S311 - reproducible test data, not secrets
    agencies = list(
        Agency.objects.bulk_create(
            Agency(slug=f"org-{n}", name_ko=f"기관{n}", name_en=f"Org {n}", kind="foundation")
            for n in range(25)
        )
    )
    users = []
    for agency in agencies:
        users.append(User(username=f"{agency.slug}-head", agency=agency, role=Role.HEAD))
        users.append(User(username=f"{agency.slug}-vice", agency=agency, role=Role.VICE_HEAD))
        users += [
            User(username=f"{agency.slug}-staff-{n}", agency=agency)
            for n in range(users_per_agency - 2)
        ]
    for user in users:
        user.email = f"{user.username}@example.go.kr"
        user.set_unusable_password()  # nobody logs in here
    User.objects.bulk_create(users, batch_size=1000)
    staff: dict[int, list[int]] = {}
    for pk, agency_id in User.objects.filter(role=Role.STAFF).values_list("pk", "agency_id"):
        staff.setdefault(agency_id, []).append(pk)
    creator = {agency_id: ids[0] for agency_id, ids in staff.items()}
    today = DEADLINE_DAY.date()
    statuses = [Status.OPEN] * 4 + [Status.IN_PROGRESS] * 2 + [Status.ON_HOLD, Status.RESOLVED]
    rows = []
    for n in range(issues):
        lead = agencies[n % len(agencies)]
        rows.append(
            Issue(
                title=f"현안 {n}",
                lead_agency=lead,
                created_by_id=creator[lead.pk],
                assignee_id=rng.choice(staff[lead.pk]) if rng.random() < 0.7 else None,
                status=rng.choice(statuses),
                due_date=today + timedelta(days=rng.randint(-365, 60)),
            )
        )
    made = Issue.objects.bulk_create(rows, batch_size=2000)
    cooperations = []
    for issue in made:
        others = rng.sample([a for a in agencies if a.pk != issue.lead_agency_id], per_issue)
        for agency in others:
            # A year of requests: the recent ones mostly still open, the old
            # ones mostly answered (a tenth never were).
            reply_by = today + timedelta(days=rng.randint(-365, 10))
            open_share = 0.9 if reply_by >= today - timedelta(days=30) else 0.1
            cooperations.append(
                Cooperation(
                    issue=issue,
                    agency=agency,
                    status=CooperationStatus.REQUESTED
                    if rng.random() < open_share
                    else CooperationStatus.ACCEPTED,
                    assignee_id=rng.choice(staff[agency.pk]) if rng.random() < 0.8 else None,
                    reply_by=reply_by,
                )
            )
    Cooperation.objects.bulk_create(cooperations, batch_size=5000)
    assert isinstance(today, date)


def bench_deadlines(limit: int) -> None:
    from issues import deadlines
    from issues.models import Cooperation, DeadlineReminder

    build_deadlines()
    # Fresh bulk inserts have no planner statistics yet; a live database has them.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"{connection.vendor}: {Agency.objects.count()} organizations, "
        f"{User.objects.count()} users, {Issue.objects.count()} issues, "
        f"{Cooperation.objects.count()} cooperation requests; "
        f"sweep at {DEADLINE_DAY:%Y-%m-%d %H:%M} (Asia/Seoul), send limit {limit}"
    )
    for label, moment in (
        ("first sweep of the day", DEADLINE_DAY),
        ("next sweep", DEADLINE_DAY + timedelta(minutes=5)),
        ("next sweep", DEADLINE_DAY + timedelta(minutes=10)),
    ):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = deadlines.sweep(moment, limit=limit)
            elapsed = time.perf_counter() - started
        print(
            f"  {label:<24} {elapsed:6.2f} s, {len(queries):>5} queries: planned "
            f"{result.planned}, sent {result.sent}, failed {result.failed}, "
            f"skipped {result.skipped}"
        )
    moment = DEADLINE_DAY + timedelta(days=1)
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        planned = deadlines.plan(moment)
        elapsed = time.perf_counter() - started
    before = len(queries)
    print(f"  planning the next day      {elapsed:6.2f} s, {before:>5} queries, {planned} rows")
    # Twice the people: the planning's query count must not move.
    extra = [
        User(username=f"extra-{n}", agency_id=agency_id, role=Role.STAFF)
        for n, agency_id in enumerate(list(Agency.objects.values_list("pk", flat=True)) * 100)
    ]
    User.objects.bulk_create(extra, batch_size=1000)
    DeadlineReminder.objects.filter(sent_at__isnull=True).delete()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        planned = deadlines.plan(moment)
        elapsed = time.perf_counter() - started
    print(
        f"  same, {User.objects.count()} users   {elapsed:6.2f} s, {len(queries):>5} queries, "
        f"{planned} rows ({'same' if len(queries) == before else 'DIFFERENT'} query count)"
    )
    print(f"  reminder rows: {DeadlineReminder.objects.count()}")


def bench_digest(limit: int) -> None:
    """The daily digest (``gwangju_hub.digest``) on the --deadlines data set."""
    from gwangju_hub import digest
    from gwangju_hub.models import DigestDay, DigestDelivery
    from issues.models import Cooperation

    build_deadlines()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    day = DEADLINE_DAY.date()
    moment = digest.moment(day) + timedelta(minutes=1)
    print(
        f"{connection.vendor}: {Agency.objects.count()} organizations, "
        f"{User.objects.count()} users, {Issue.objects.count()} issues, "
        f"{Cooperation.objects.count()} cooperation requests; digest of {day}, send limit {limit}"
    )

    def plan(label: str) -> int:
        DigestDay.objects.all().delete()
        DigestDelivery.objects.all().delete()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            planned = digest.plan(day, now=moment)
            elapsed = time.perf_counter() - started
        # The reads are what must not grow with people; the rows are written
        # in INSERTs of 500, so there are as many of those as the rows need.
        reads = sum(1 for q in queries if not q["sql"].lstrip().upper().startswith("INSERT"))
        writes = len(queries) - reads
        print(
            f"  {label:<30} {elapsed:6.2f} s, {reads:>5} reads + {writes} INSERTs (and the "
            f"transaction), {planned} digests"
        )
        return reads

    before = plan("planning the day")
    profile = None
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        profile = cProfile.Profile()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        if profile:
            profile.enable()
        result = digest.OUTBOX.send(moment, limit=limit)
        if profile:
            profile.disable()
        elapsed = time.perf_counter() - started
    if profile:
        import pstats

        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
    print(
        f"  {'one send sweep':<30} {elapsed:6.2f} s, {len(queries):>5} queries: sent "
        f"{result.sent}, failed {result.failed}, skipped {result.skipped}"
    )
    extra = [
        User(username=f"extra-{n}", agency_id=agency_id, role=Role.STAFF, email=f"x{n}@example.kr")
        for n, agency_id in enumerate(list(Agency.objects.values_list("pk", flat=True)) * 100)
    ]
    User.objects.bulk_create(extra, batch_size=1000)
    after = plan(f"same, {User.objects.count()} users")
    print(
        f"  planning queries: {before} and {after} ({'same' if before == after else 'DIFFERENT'})"
    )


def main() -> None:
    # aiosmtpd logs every SMTP command at INFO; the numbers are what matter here.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smtp", action="store_true", help="send through a local SMTP server")
    parser.add_argument(
        "--deadlines",
        action="store_true",
        help="the deadline-reminder sweep at 20,000 issues and 60,000 requests (issue 9)",
    )
    parser.add_argument(
        "--digest",
        action="store_true",
        help="the daily digest on the --deadlines data set: planning and one send sweep",
    )
    parser.add_argument(
        "--limit", type=int, default=500, help="mails per sweep (--deadlines, --digest)"
    )
    options = parser.parse_args()
    controller = None
    if options.smtp:
        from aiosmtpd.controller import Controller

        class Sink:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                return "250 OK"

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        controller = Controller(Sink(), hostname="127.0.0.1", port=port)
        controller.start()
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        if options.deadlines:
            bench_deadlines(options.limit)
            return
        if options.digest:
            bench_digest(options.limit)
            return
        build()
        print(
            f"{connection.vendor}: {Agency.objects.count()} organizations, "
            f"{User.objects.count()} users, {Meeting.objects.count()} meetings, "
            f"mail: {'SMTP' if options.smtp else 'in-memory'}"
        )
        reminders.sweep(datetime(YEAR, 1, 1, tzinfo=SEOUL))  # warm up
        busy, idle = [], []
        for moment in due_moments():
            ms, queries, result = measure(moment)
            (busy if result.sent else idle).append((ms, queries, result))
        for label, rows in (("sweeps that send", busy), ("sweeps with nothing due", idle)):
            times = [ms for ms, _, _ in rows]
            print(
                f"  {label:<24} {len(rows):>3}: {statistics.median(times):7.1f} ms median, "
                f"{max(times):7.1f} ms max; queries {min(q for _, q, _ in rows)}"
                f"–{max(q for _, q, _ in rows)}"
            )
        worst = max(busy, key=lambda row: row[0])
        print(
            f"  slowest sweep: {worst[0]:.1f} ms, {worst[1]} queries, {worst[2].sent} mails "
            f"({worst[0] / worst[2].sent:.1f} ms and "
            f"{(worst[1] - min(q for _, q, _ in idle)) / worst[2].sent:.1f} queries per mail)"
        )
        deliveries = ReminderDelivery.objects.count()
        unsent = ReminderDelivery.objects.filter(sent_at=None).count()
        print(f"  reminders in the year: {deliveries} ({unsent} unsent)")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        if controller is not None:
            controller.stop()


if __name__ == "__main__":
    main()
