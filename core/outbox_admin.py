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
