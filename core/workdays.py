"""Korean working days: weekdays that are not public holidays.

The holidays come from the ``holidays`` package (country ``KR``), which keeps
the lunar holidays (설날, 추석, 부처님오신날), the substitute holidays (대체공휴일)
and election days up to date release by release; never a list of our own. A
day off the government declares at short notice (임시공휴일) that the package
does not know yet goes into ``settings.EXTRA_HOLIDAYS``.

Imports no app of ours.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays
from django.conf import settings


@lru_cache(maxsize=64)
def _public_holidays(year: int) -> frozenset[date]:
    # One year at a time, cached: the package computes lunar dates on demand.
    return frozenset(holidays.country_holidays("KR", years=year))


def is_holiday(day: date) -> bool:
    """A Korean public holiday (substitute and lunar ones included) or an extra day off."""
    return day in _public_holidays(day.year) or day in settings.EXTRA_HOLIDAYS


def is_working_day(day: date) -> bool:
    """Monday to Friday, and not a holiday."""
    return day.weekday() < 5 and not is_holiday(day)


def add_working_days(day: date, count: int) -> date:
    """The working day ``count`` working days after ``day`` (before it when negative).

    ``day`` itself need not be a working day: 5 working days after a Saturday
    is the Friday after next (Monday is the first). ``count == 0`` is ``day``.
    """
    step = timedelta(days=1 if count >= 0 else -1)
    left = abs(count)
    while left:
        day += step
        if is_working_day(day):
            left -= 1
    return day


def next_working_day(day: date) -> date:
    """``day`` if it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (negative if ``end`` is earlier).

    The inverse of ``add_working_days`` on working days:
    ``working_days_between(d, add_working_days(d, n)) == n``.
    """
    if end < start:
        return -working_days_between(end, start)
    count = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        count += is_working_day(day)
    return count
