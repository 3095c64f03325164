"""What every outbox row keeps for the sweep (core.outbox): an abstract model, no table."""

from __future__ import annotations

from django.db import models


class OutboxRow(models.Model):
    """The columns ``core.outbox.Outbox`` writes on each row it sends, by these names:
    the lease of the sweep that claimed it, the attempts so far, the end of its
    backoff and what went wrong last.

    A row model inherits them and adds its own due, sent and (optionally)
    skipped times and its Message-ID's UUID, which the outbox names.
    """

    # Fields of an abstract model come first in a subclass; the admin shows them
    # last, after what the row is about (core.outbox_admin).
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        abstract = True


BOOKKEEPING = tuple(field.name for field in OutboxRow._meta.fields)
