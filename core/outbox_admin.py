"""The admin page of an outbox's rows (``core.outbox``), written once for all of them.

Read-only on purpose: each row is what keeps its message to one send, so
adding, changing or deleting one could send a message again or never. What
an operator may do is what ``core.outbox`` offers: see where a row stands,
match a mail's ``Message-ID`` header to its row, and "retry now" (clear the
backoff of unsent rows and queue a sweep; the sweep decides, as always,
whether each may still be sent).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .admin import ReadOnlyAdminMixin
from .models import BOOKKEEPING
from .outbox import Outbox


class OutboxAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A subclass names its ``outbox``, its ``list_filter`` and the ``list_display``
    columns that say what a row is; the columns of where it stands follow."""

    outbox: ClassVar[Outbox]
    readonly_fields = ("message_id_header",)
    show_full_result_count = False  # outboxes grow large; counting them is slow
    actions = ["retry_now"]
    deletable = False

    def get_fields(self, request, obj=None) -> list[str]:
        """What the row is about, then the sweep's bookkeeping (``OutboxRow``'s fields,
        which Django puts first), then the Message-ID."""

        def place(name: str) -> int:
            return (name in BOOKKEEPING) + 2 * (name in self.readonly_fields)

        return sorted(super().get_fields(request, obj), key=place)

    def get_list_display(self, request) -> tuple[str, ...]:
        outbox = self.outbox
        skipped = (outbox.skipped_field,) if outbox.skipped_field else ()
        return (
            *self.list_display,
            outbox.due_field,
            outbox.sent_field,
            *skipped,
            "attempts",
            "short_error",
        )

    @admin.action(description=_("Retry now (without waiting for the backoff)"))
    def retry_now(self, request, queryset) -> None:
        count = self.outbox.retry_now(queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d message will be tried again by the sweep just queued.",
                "%(count)d messages will be tried again by the sweep just queued.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.display(description="Message-ID")
    def message_id_header(self, obj: Any) -> str:
        return self.outbox.message_id(obj)

    @admin.display(description=_("last error"))
    def short_error(self, obj: Any) -> str:
        """The last line of the last error, short enough for a list column."""
        error = obj.last_error.strip().splitlines()[-1] if obj.last_error.strip() else ""
        return error if len(error) <= 80 else f"{error[:79]}…"


class OutboxStateFilter(admin.SimpleListFilter):
    """Where a row's message stands, read through its admin's ``outbox``.

    A subclass sets ``title``, ``parameter_name`` and the ``states`` it offers,
    a choice from ``STATES``: "skipped" needs an outbox with a ``skipped_field``.
    """

    STATES: ClassVar[dict[str, Any]] = {
        "sent": _("Sent"),
        "waiting": _("Due, not sent"),
        "failing": _("Failed, retrying"),
        "skipped": _("Withheld at send time"),
        "planned": _("Not due yet"),
        "none": _("No e-mail owed"),
    }
    states: ClassVar[tuple[str, ...]]

    def __init__(self, request, params, model, model_admin) -> None:
        self.outbox: Outbox = model_admin.outbox
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin) -> list[tuple[str, Any]]:
        return [(state, self.STATES[state]) for state in self.states]

    def queryset(self, request, queryset):
        outbox, value = self.outbox, self.value()
        unfinished = outbox.unfinished().values("pk")
        if value == "sent":
            return queryset.filter(**{f"{outbox.sent_field}__isnull": False})
        if value == "waiting":
            return queryset.filter(pk__in=outbox.owed(timezone.now()).values("pk"))
        if value == "failing":
            return queryset.filter(pk__in=unfinished, attempts__gt=0).exclude(last_error="")
        if value == "skipped":
            return queryset.filter(**{f"{outbox.skipped_field}__isnull": False})
        if value == "planned":
            return queryset.filter(pk__in=unfinished, **{f"{outbox.due_field}__gt": timezone.now()})
        if value == "none":
            return queryset.filter(**{f"{outbox.due_field}__isnull": True})
        return queryset
