"""Outboxes: rows that owe someone a message, sent by a sweep at most once each.

Whatever a user is owed (a notification e-mail, a meeting reminder, later a
deadline reminder or a daily digest) is written as a row in the transaction
that made it owed, or by a planning step of a sweep. ``Outbox.send`` is the
sweep that delivers such rows; every outbox of the app is a small subclass
of :class:`Outbox` that names its row model and composes its mail. The
algorithm, written once here:

1. **Claim.** In a short transaction, lock up to a batch of *sendable* rows
   (owed, due, not leased to another sweep, not backing off) with
   ``select_for_update(skip_locked=True)``, lease them (``claimed_until``)
   and count the attempt; commit. On PostgreSQL a concurrent sweep skips the
   locked rows; on SQLite ``select_for_update`` is a no-op, but the
   IMMEDIATE transaction (see settings) takes the write lock first, so
   claims are serialised there too.
2. **Send** each row outside any transaction, on one SMTP connection: a row
   whose recipient must not hear of it any more is marked skipped
   (``withheld_because``); otherwise the mail is composed and sent.
3. **Mark sent** only after the SMTP server accepted it, with an UPDATE that
   requires the row to be still unsent (plus the outbox's own work in the
   same transaction: ``on_sent``, e.g. the bell's notice of a reminder).
4. **On failure**, free the row for a later sweep after a backoff of
   2^attempts minutes (at most ``MAX_BACKOFF``), measured from the claim. An
   SMTP answer about one message fails that row; an ``OSError`` (the server
   or the way to it is down) fails the rest of the batch and ends the sweep;
   anything else (a template error) is logged and fails the row.
5. **Before the lease runs out**, stop and give the rest of the batch back
   untried (the attempt is not counted), so a second sweep never takes over
   a row this one is still sending. A sweep that dies leaves its lease; a
   later sweep takes the rows over once it has expired.

What that guarantees (README, "What exactly is guaranteed"): a row is
retried until an SMTP server accepts it or it stops being owed; it is sent
by one sweep at a time and never again once marked sent. The one duplicate
possible is a sweep that dies after the server accepted a mail and before
it marked the row sent: after the lease the row is sent again with the same
``Message-ID`` (``<prefix.uuid@domain>``, fixed when the row was created), so
mail clients show one message.

Adding an outbox (say, for reminders of a cooperation request's deadline):

* A row model in its app, one row per thing owed (purpose, recipient, step,
  moment) under a unique constraint, so planning twice creates it once. It
  inherits :class:`core.models.OutboxRow` (the sweep's lease, attempts,
  backoff and last error) and adds a due time (``due_field``; NULL means
  nothing is owed), a sent time (``sent_field``), a skipped time
  (``skipped_field``, for ``withheld_because``; an outbox that withholds
  nothing sets it to None and needs no column), a UUID for the
  Message-ID (default ``uuid.uuid4``, not editable), and a partial index on
  the due time where the sent time is NULL.
* A subclass of :class:`Outbox` naming those fields where they are not
  the defaults, ``purpose`` (or ``purpose_field``), ``message_id_prefix``
  and ``name``/``names``, and implementing ``compose`` (it logs under its
  own module's name); usually also ``owed`` (what is still worth sending,
  checked in the claim query itself), ``with_relations`` (what ``compose``
  reads, in a constant number of queries) and ``on_sent``; and
  ``sweep_task``, the dotted path of its Celery task. Keep one instance in
  the module (``OUTBOX``).
* Something that writes the rows (``bulk_create(..., ignore_conflicts=True)``
  in the change's transaction, or a planning step before ``send``), a
  Celery task and a beat entry that run the sweep, a :class:`SweepCommand`
  if people need it by hand, and its ``backlog`` in ``gwangju_hub/outbox.py``
  so ``/healthz`` and ``/metrics`` see it.

For example (the names are made up)::

    class DueDateReminders(Outbox[DueDateReminder]):
        model = DueDateReminder  # due_at, sent_at, skipped_at, message_uuid: the defaults
        message_id_prefix = "due-date"
        purpose = "due_date"
        name, names = "due-date reminder", "due-date reminders"
        sweep_task = "issues.tasks.send_due_date_reminders"

        def owed(self, now):
            return super().owed(now).filter(issue__resolved_at=None, recipient__is_active=True)

        def withheld_because(self, row):
            return "" if rules.can_view(row.recipient, row.issue) else "may not read the issue"

        def compose(self, row, *, at):
            user = row.recipient
            with translation.override(language_of(user)):
                return email_from_templates("issues/email/due", {"row": row}, to=user.email)

    OUTBOX = DueDateReminders()  # a task runs OUTBOX.send()

A daily digest is the same with one row per person and day (unique on
both: exactly one per day, however many beats), ``compose`` returning None
on a day with nothing to say.

Imports no app of ours.
"""

from __future__ import annotations

import logging
import smtplib
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any, ClassVar, Generic, TypeVar

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.db.models import Count, F, Min, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.module_loading import import_string

from . import metrics
from .broker import enqueue_on_commit

# How long a sweep owns the rows it claimed. It stops sending before the
# lease runs out, so a second sweep never takes over a row still being sent.
LEASE = timedelta(minutes=10)
MAX_BACKOFF = timedelta(minutes=60)
DEFAULT_LIMIT = 500
DEFAULT_BATCH_SIZE = 50
# SMTP answers about one message; anything else from SMTP means the server
# (or the way to it) is down, and the rest of the sweep would fail the same way.
MESSAGE_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)

Row = TypeVar("Row", bound=models.Model)


@dataclass(frozen=True)
class Backlog:
    """Deliveries that are due and not yet sent, and since when the oldest has waited.

    Each outbox answers ``backlog(now)`` with one of these per purpose; the
    top floor (``gwangju_hub.outbox``) adds them up for ``/healthz`` and
    ``/metrics``.
    """

    due: int = 0
    oldest_due_at: datetime | None = None

    def age_seconds(self, now: datetime) -> float:
        if self.oldest_due_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_due_at).total_seconds())

    def __add__(self, other: Backlog) -> Backlog:
        dates = [d for d in (self.oldest_due_at, other.oldest_due_at) if d is not None]
        return Backlog(self.due + other.due, min(dates, default=None))


@dataclass
class SweepResult:
    sent: int = 0  # accepted by the SMTP server (or owed no mail) and marked sent
    failed: int = 0  # to be retried after a backoff
    skipped: int = 0  # never to be sent: withheld at send time
    deferred: int = 0  # given back untried (the lease was running out), or sent by another sweep

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped + self.deferred


def email_from_templates(template: str, context: dict[str, Any], *, to: str) -> EmailMessage:
    """``{template}_subject.txt`` and ``{template}_body.txt`` as a mail from the app.

    Call it inside the recipient's ``translation.override``. The subject is
    folded onto one line (a template's line breaks would end the header).
    """
    subject = render_to_string(f"{template}_subject.txt", context)
    body = render_to_string(f"{template}_body.txt", context)
    return EmailMessage(" ".join(subject.split()), body, settings.DEFAULT_FROM_EMAIL, [to])


def language_of(user: Any) -> str:
    """The language of a mail to ``user``: the one they chose, else the site's."""
    return user.preferred_language or settings.LANGUAGE_CODE


def absolute_url(path: str) -> str:
    """``path`` as a link for a mail: mails are read outside the site."""
    return settings.SITE_URL.rstrip("/") + path


class Outbox(Generic[Row]):
    """One kind of owed message: its row model, how to compose it, when it is still owed.

    Subclasses set the class attributes and override the hooks (the methods
    above ``send``); the rest is the sweep, the same for every outbox.
    """

    model: type[Row]
    # The row's columns, by the names most outboxes use.
    due_field: str = "due_at"  # when the row's message is due; NULL: none is owed
    sent_field: str = "sent_at"  # when the SMTP server accepted it
    # When it was withheld for good (``withheld_because``); None: nothing is
    # withheld at send time, ``owed`` decides everything.
    skipped_field: str | None = "skipped_at"
    message_uuid_field: str = "message_uuid"  # a UUID fixed at creation, for the Message-ID
    message_id_prefix: str  # "<{prefix}.{uuid}@domain>"
    # The label of /metrics and /healthz: one for the whole outbox, or a column per row.
    purpose: str = ""
    purpose_field: str | None = None
    name: str  # one row in log lines: "notification"
    names: str  # several: "notification mails"
    # Where the sweep logs: the module that defines the outbox (``__init_subclass__``),
    # so an operator filters a sweep's lines by the app that owns it.
    logger: ClassVar[logging.Logger] = logging.getLogger(__name__)
    # Read where used, so a test may shorten them on the outbox's instance.
    lease: timedelta = LEASE
    max_backoff: timedelta = MAX_BACKOFF
    # The Celery task that runs this outbox's sweep (queued by ``retry_now``), as a
    # dotted path: the app's tasks module imports the outbox, not the reverse.
    sweep_task: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "logger" not in cls.__dict__:
            cls.logger = logging.getLogger(cls.__module__)

    # --- hooks -------------------------------------------------------------------------

    def owed(self, now: datetime) -> QuerySet[Row]:
        """Unsent rows due by ``now`` and still worth sending, leased or backing off or not.

        Override to add what must still hold at send time (the meeting is
        still ahead, the report still not in): a row that fails it is simply
        never claimed, and does not count as waiting.
        """
        return self.unfinished().filter(**{f"{self.due_field}__lte": now})

    def with_relations(self, rows: QuerySet[Row]) -> QuerySet[Row]:
        """``rows`` with what ``withheld_because`` and ``compose`` read (select/prefetch)."""
        return rows

    def withheld_because(self, row: Row) -> str:
        """Why this row must never be sent, decided at send time ("" if it may be).

        A reason marks the row skipped (needs ``skipped_field``). Prefer
        ``owed`` for what a query can decide; this is for rules only Python
        knows (the permission rules).
        """
        return ""

    def compose(self, row: Row, *, at: datetime) -> EmailMessage | None:
        """The mail, sent ``at`` (for "D-3" labels); None: no mail, only mark it sent
        (a recipient without an address, whose notice is in the bell; a digest
        with nothing to say).

        The sweep sets the connection and the ``Message-ID`` header.
        """
        raise NotImplementedError

    def on_sent(self, row: Row) -> None:
        """Work to do in the transaction that marks ``row`` sent (the bell's notice
        of a reminder, the timeline event of an escalation): done exactly when
        the row is marked sent, never twice.

        Not overridden: marking a row sent is one UPDATE, no transaction.
        """

    def waiting_since(self) -> Any:
        """The expression of when a row began to wait, for the backlog's age."""
        return F(self.due_field)

    # --- what is owed ------------------------------------------------------------------

    def unfinished(self) -> QuerySet[Row]:
        """Rows that owe a message not yet sent nor skipped, due or not."""
        conditions = {f"{self.due_field}__isnull": False, f"{self.sent_field}__isnull": True}
        if self.skipped_field:
            conditions[f"{self.skipped_field}__isnull"] = True
        return self.model.objects.filter(**conditions)

    def sendable(self, now: datetime) -> QuerySet[Row]:
        """Owed rows that are due, not leased to a sweep, and not backing off."""
        return (
            self.owed(now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by(self.due_field, "pk")
        )

    def owed_count(self) -> int:
        """Messages owed and not yet sent (due now, backing off, leased, or not due yet)."""
        return self.unfinished().count()

    def backlog(self, now: datetime | None = None) -> dict[str, Backlog]:
        """Due, unsent rows by purpose, for /healthz and /metrics.

        Rows leased to a sweep or backing off after a failure count: they are
        still waiting, which is what an operator must hear about.
        """
        now = now or timezone.now()
        figures = {"due": Count("pk"), "oldest": Min(self.waiting_since())}
        if self.purpose_field is None:
            row = self.owed(now).aggregate(**figures)
            return {self.purpose: Backlog(row["due"], row["oldest"])}
        rows = self.owed(now).order_by().values(self.purpose_field).annotate(**figures)
        return {row[self.purpose_field]: Backlog(row["due"], row["oldest"]) for row in rows}

    def retry_now(self, rows: QuerySet[Row]) -> int:
        """Clear the backoff of these unsent rows and queue a sweep; how many were cleared.

        The sweep decides, as always, whether each row may still be sent.
        """
        count = self.unfinished().filter(pk__in=rows.values("pk")).update(next_attempt_at=None)
        if count:
            enqueue_on_commit(import_string(self.sweep_task))
        return count

    def message_id(self, row: Row) -> str:
        """The row's own ``Message-ID``, the same on every attempt to send it.

        Not ``email.utils.make_msgid``, which is random on each call. The
        domain is the sender's, so every worker host writes the same header.
        """
        domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
        return f"<{self.message_id_prefix}.{getattr(row, self.message_uuid_field).hex}@{domain}>"

    def purpose_of(self, row: Row) -> str:
        return getattr(row, self.purpose_field) if self.purpose_field else self.purpose

    # --- the sweep ---------------------------------------------------------------------

    def send(
        self,
        now: datetime | None = None,
        *,
        limit: int = DEFAULT_LIMIT,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> SweepResult:
        """Send up to ``limit`` due rows, ``batch_size`` claimed at a time.

        Safe to run at any time, as often as wanted, in several processes at
        once. When the SMTP server is unreachable the sweep stops at the first
        failure and marks the rest of the batch failed with the same error.
        """
        now = now or timezone.now()
        started = time.monotonic()

        def clock() -> datetime:
            # ``now`` may be given (tests, a benchmark); time moves on from it,
            # in whole seconds so a quick sweep claims and backs off from ``now``.
            return now + timedelta(seconds=int(time.monotonic() - started))

        result = SweepResult()
        connection = get_connection()
        try:
            while result.done < limit:
                size = min(batch_size, limit - result.done)
                claimed_at = clock()
                ids = self.claim(claimed_at, size)
                if not ids:
                    break
                server_down = self.send_batch(ids, claimed_at, clock, connection, result)
                if server_down or len(ids) < size:
                    break
        finally:
            connection.close()
        return result

    def claim(self, now: datetime, size: int) -> list[int]:
        """Lease up to ``size`` sendable rows to this sweep and count the attempt."""
        with transaction.atomic():
            ids = list(
                self.sendable(now)
                # Only the outbox's rows: ``owed`` may join what it reads.
                .select_for_update(skip_locked=True, of=("self",))
                .values_list("pk", flat=True)[:size]
            )
            if ids:
                self.model.objects.filter(pk__in=ids).update(
                    claimed_until=now + self.lease, attempts=F("attempts") + 1
                )
        return ids

    def send_batch(
        self,
        ids: list[int],
        claimed_at: datetime,
        clock: Callable[[], datetime],
        connection: Any,
        result: SweepResult,
    ) -> bool:
        """Send one batch claimed at ``claimed_at``; True when the SMTP server is unreachable.

        A failed row backs off from the moment of its claim, so a slow sweep
        does not push its retry further out.
        """
        rows = list(
            self.with_relations(self.model.objects.filter(pk__in=ids)).order_by(
                self.due_field, "pk"
            )
        )
        # Never send once the lease may have run out: another sweep may own the row by then.
        margin = timedelta(seconds=2 * (settings.EMAIL_TIMEOUT or 30))
        for index, row in enumerate(rows):
            if clock() >= claimed_at + self.lease - margin:
                self.release(rows[index:])
                result.deferred += len(rows) - index
                return False
            reason = self.withheld_because(row)
            if reason:
                self.skip(row, reason)
                result.skipped += 1
                continue
            try:
                self.deliver(row, connection, at=clock())
            except MESSAGE_ERRORS as error:
                self.fail([row], error, claimed_at)
                result.failed += 1
                continue
            except OSError as error:  # the server or the network: the rest would fail alike
                connection.close()
                self.fail(rows[index:], error, claimed_at)
                result.failed += len(rows) - index
                return True
            except Exception as error:
                self.logger.exception("%s %s could not be composed or sent", self.name, row.pk)
                self.fail([row], error, claimed_at)
                result.failed += 1
                continue
            if self.mark_sent(row):
                result.sent += 1
            else:
                result.deferred += 1  # another sweep marked it sent first
        return False

    def deliver(self, row: Row, connection: Any, *, at: datetime) -> None:
        """Compose the row's mail and hand it to the SMTP server (nothing if none is owed)."""
        message = self.compose(row, at=at)
        if message is None:
            return
        message.connection = connection
        message.extra_headers["Message-ID"] = self.message_id(row)
        connection.open()  # kept open across the batch; closed by ``send``
        message.send()

    def mark_sent(self, row: Row) -> bool:
        """Mark the row sent unless a sweep did already; False if one did."""
        side_effects = type(self).on_sent is not Outbox.on_sent
        with transaction.atomic() if side_effects else nullcontext():
            updated = self._unsent([row.pk]).update(
                **{self.sent_field: timezone.now()}, claimed_until=None, next_attempt_at=None
            )
            if updated and side_effects:
                self.on_sent(row)
        if updated:
            metrics.delivery_sent(self.purpose_of(row))
        return bool(updated)

    def skip(self, row: Row, reason: str) -> None:
        """Withhold the row for good (see ``withheld_because``)."""
        if not self.skipped_field:
            raise TypeError(f"{type(self).__name__} withholds rows but has no skipped_field")
        self.logger.info("%s %s not mailed: %s", self.name, row.pk, reason)
        self._unsent([row.pk]).update(
            **{self.skipped_field: timezone.now()},
            claimed_until=None,
            last_error=f"skipped: {reason}",
        )

    def backoff(self, attempts: int) -> timedelta:
        return min(timedelta(minutes=2 ** min(attempts, 10)), self.max_backoff)

    def fail(self, rows: list[Row], error: Exception, now: datetime) -> None:
        """Free the rows for a retry after their backoff from ``now``, with the error."""
        text = f"{type(error).__name__}: {error}"[:2000]
        self.logger.warning("%s %s not sent: %s", self.names, [row.pk for row in rows], text)
        for row in rows:
            metrics.delivery_failed(self.purpose_of(row))
        by_attempts: dict[int, list[int]] = {}
        for row in rows:
            # The row was loaded after its claim, so ``attempts`` counts this one.
            by_attempts.setdefault(row.attempts, []).append(row.pk)
        for attempts, ids in by_attempts.items():
            self._unsent(ids).update(
                claimed_until=None, last_error=text, next_attempt_at=now + self.backoff(attempts)
            )

    def release(self, rows: list[Row]) -> None:
        """Give unsent claims back untried, without counting an attempt."""
        self._unsent([row.pk for row in rows]).update(
            claimed_until=None, attempts=F("attempts") - 1
        )

    def _unsent(self, ids: Iterable[int]) -> QuerySet[Row]:
        # Every write of the sweep is conditional on the row being still
        # unsent: once marked sent, nothing a late sweep does can undo it.
        return self.model.objects.filter(pk__in=list(ids), **{f"{self.sent_field}__isnull": True})


class SweepCommand(BaseCommand):
    """``manage.py`` door to one sweep: ``--limit``, ``--batch-size``, a line of counts.

    A subclass names what it sends (``noun``), runs its sweep (``sweep``) and
    says which counts to print, in order (``counts``); ``report`` may add to
    the line.
    """

    noun = "messages"
    counts: tuple[str, ...] = ("sent", "failed", "skipped", "deferred")

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--limit",
            type=int,
            default=DEFAULT_LIMIT,
            help=f"Send at most this many {self.noun} in this sweep (the rest wait for the next).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Claim this many {self.noun} at a time.",
        )

    def handle(self, *args, limit: int, batch_size: int, **options) -> None:
        if limit < 1 or batch_size < 1:
            raise CommandError("--limit and --batch-size must be at least 1.")
        self.stdout.write(self.report(self.sweep(limit=limit, batch_size=batch_size)))

    def sweep(self, *, limit: int, batch_size: int) -> Any:
        raise NotImplementedError

    def report(self, result: Any) -> str:
        return ", ".join(f"{name} {getattr(result, name)}" for name in self.counts)
