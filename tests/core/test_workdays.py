"""Korean working days (core.workdays) on real 2026 and 2027 dates.

The dates are those the ``holidays`` package (country KR) gives, checked
against the government's calendar: 설날 and 추석 move with the lunar calendar,
and a holiday on a weekend (a Sunday, for 설날 and 추석) gives a substitute day.
"""

from datetime import date

import pytest

from core.workdays import (
    add_working_days,
    is_holiday,
    is_working_day,
    next_working_day,
    working_days_between,
)


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 1, 1),  # 신정
        date(2026, 2, 16),  # 설날 연휴 (Mon–Wed)
        date(2026, 2, 17),
        date(2026, 2, 18),
        date(2026, 3, 2),  # 3·1절 fell on a Sunday: substitute Monday
        date(2026, 5, 25),  # 부처님오신날 on a Sunday: substitute Monday
        date(2026, 6, 3),  # 지방선거일
        date(2026, 8, 17),  # 광복절 on a Saturday: substitute Monday
        date(2026, 9, 24),  # 추석 연휴 (Thu–Sat)
        date(2026, 9, 25),
        date(2026, 10, 5),  # 개천절 on a Saturday: substitute Monday
        date(2026, 10, 9),  # 한글날
        date(2026, 12, 25),
        date(2027, 2, 8),  # 설날 연휴 Sat–Mon, 설날 itself a Sunday
        date(2027, 2, 9),  # … so a substitute Tuesday
        date(2027, 9, 14),  # 추석 연휴 (Tue–Thu)
        date(2027, 9, 15),
        date(2027, 9, 16),
        date(2027, 10, 4),  # 개천절 on a Sunday: substitute Monday
        date(2027, 10, 11),  # 한글날 on a Saturday: substitute Monday
        date(2027, 12, 27),  # 성탄절 on a Saturday: substitute Monday
    ],
)
def test_korean_public_holidays_on_weekdays_are_not_working_days(day):
    assert day.weekday() < 5
    assert is_holiday(day)
    assert not is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 2, 19),  # the Thursday after 설날
        date(2026, 9, 28),  # the Monday after 추석 (its last day was a Saturday: no substitute)
        date(2027, 2, 10),  # the Wednesday after 설날's substitute day
        date(2027, 9, 17),  # the Friday after 추석
    ],
)
def test_ordinary_weekdays_next_to_holidays_are_working_days(day):
    assert is_working_day(day)


def test_weekends_are_not_working_days():
    assert not is_working_day(date(2026, 12, 5))  # Saturday
    assert not is_working_day(date(2026, 12, 6))  # Sunday
    assert is_working_day(date(2026, 12, 7))  # Monday


def test_five_working_days_skip_the_lunar_new_year():
    # Friday 13 February 2026 + 5: Thursday 19th is the 1st (16–18 are 설날).
    assert add_working_days(date(2026, 2, 13), 5) == date(2026, 2, 25)
    assert add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 19)


def test_five_working_days_skip_chuseok_and_its_substitute_holidays():
    # Wednesday 23 September 2026: 24, 25 추석; 28–30 working; 1, 2 October
    # working; 3 Sat (개천절), 5 Mon substitute.
    assert add_working_days(date(2026, 9, 23), 5) == date(2026, 10, 2)
    assert add_working_days(date(2026, 9, 23), 6) == date(2026, 10, 6)
    # 2027: 14–16 September 추석, 17 Friday is a working day.
    assert add_working_days(date(2027, 9, 13), 1) == date(2027, 9, 17)


def test_negative_counts_go_back_over_holidays():
    assert add_working_days(date(2026, 2, 19), -1) == date(2026, 2, 13)
    assert add_working_days(date(2027, 2, 10), -2) == date(2027, 2, 4)
    assert add_working_days(date(2026, 12, 9), 0) == date(2026, 12, 9)


def test_counting_from_a_holiday_starts_at_the_next_working_day():
    assert add_working_days(date(2026, 2, 16), 1) == date(2026, 2, 19)
    assert next_working_day(date(2026, 2, 14)) == date(2026, 2, 19)
    assert next_working_day(date(2026, 2, 19)) == date(2026, 2, 19)


@pytest.mark.parametrize("count", [-12, -5, -1, 0, 1, 3, 5, 20])
def test_working_days_between_is_the_inverse_of_add(count):
    start = date(2027, 2, 3)
    assert working_days_between(start, add_working_days(start, count)) == count


def test_working_days_between_counts_over_a_holiday_week():
    # 13 Feb 2026 (Fri) to 20 Feb (Fri): 19 and 20 only.
    assert working_days_between(date(2026, 2, 13), date(2026, 2, 20)) == 2
    assert working_days_between(date(2026, 2, 20), date(2026, 2, 13)) == -2


def test_extra_holidays_from_the_settings_are_days_off(settings):
    day = date(2026, 12, 9)
    assert is_working_day(day)

    settings.EXTRA_HOLIDAYS = frozenset({day})

    assert not is_working_day(day)
    assert add_working_days(date(2026, 12, 8), 1) == date(2026, 12, 10)


def test_a_bad_extra_holiday_stops_the_settings(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from gwangju_hub import settings as project_settings

    monkeypatch.setenv("EXTRA_HOLIDAYS", "2026-10-02,2026-13-01")
    with pytest.raises(ImproperlyConfigured):
        project_settings._iso_dates("EXTRA_HOLIDAYS")
    monkeypatch.setenv("EXTRA_HOLIDAYS", "2026-10-02, 2027-01-04")
    assert project_settings._iso_dates("EXTRA_HOLIDAYS") == {date(2026, 10, 2), date(2027, 1, 4)}
