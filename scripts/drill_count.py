"""The fault drill's arithmetic: what was owed, what arrived, what was lost or doubled.

Kept apart from scripts/drill.py (which needs servers) so that a test can
check the counting on its own: tests/scripts/test_drill_count.py.

A *key* names one thing a person is owed — an e-mail about one issue event,
one reminder of one meeting — e.g. ``("notification", event_id, email)``.
Every e-mail the SMTP server accepted is a ``(key, message_id)`` pair (key
``None`` for mail the drill does not track, such as the demo data's own
reminders).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field


@dataclass
class Tally:
    owed: int = 0
    # Owed keys that arrived at least once.
    delivered: int = 0
    # Owed keys that never arrived.
    lost: int = 0
    # Extra copies of a key carrying a Message-ID not seen before for it: the
    # recipient's mail client shows them as separate messages.
    duplicates: int = 0
    # Extra copies repeating a Message-ID already received for the key: a
    # resend after a crash between "the SMTP server accepted it" and "marked
    # sent", which mail clients fold into one.
    same_id_resends: int = 0
    # Copies of keys nobody was owed (tracked mail to the wrong person).
    unexpected: int = 0
    lost_keys: list = field(default_factory=list)
    duplicate_keys: list = field(default_factory=list)
    unexpected_keys: list = field(default_factory=list)


def tally(
    owed: Iterable[Hashable],
    received: Iterable[tuple[Hashable | None, str | None]],
    *,
    optional: Iterable[Hashable] = (),
) -> Tally:
    """Compare the keys owed with the mail received.

    ``optional`` keys may arrive or not (the drill cannot tell whether they
    were owed); receiving them is neither lost nor unexpected, but their
    copies still count as duplicates. A mail without a Message-ID can never
    be recognised as a resend, so each one counts as a different message.
    """
    owed = set(owed)
    optional = set(optional) - owed
    ids: dict[Hashable, list[str]] = defaultdict(list)
    for index, (key, message_id) in enumerate(received):
        if key is None:
            continue
        ids[key].append(message_id.strip() if message_id else f"<no Message-ID #{index}>")
    result = Tally(owed=len(owed))
    for key in sorted(owed, key=repr):
        if ids.get(key):
            result.delivered += 1
        else:
            result.lost += 1
            result.lost_keys.append(key)
    for key, copies in sorted(ids.items(), key=lambda item: repr(item[0])):
        distinct = len(set(copies))
        if key not in owed and key not in optional:
            result.unexpected += len(copies)
            result.unexpected_keys.append(key)
            continue
        result.duplicates += distinct - 1
        result.same_id_resends += len(copies) - distinct
        if distinct > 1:
            result.duplicate_keys.append(key)
    return result


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def phase_index(started: float, duration: float, phases: list[tuple[float, bool]]) -> int:
    """The phase a request counts in, given each phase's (start, begins with a fault).

    The phase it started in — unless a fault began while it was in flight:
    then it met that fault rather than the calm before it, and counts there.
    -1 for a request made before the first phase (signing in).
    """
    index = max((i for i, (start, _) in enumerate(phases) if start <= started), default=-1)
    if index < 0:
        return index
    for later in range(index + 1, len(phases)):
        start, fault = phases[later]
        if fault and start < started + duration:
            index = later
    return index
