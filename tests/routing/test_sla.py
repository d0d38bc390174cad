"""Durations and working-day deadlines, pinned to real Chinese holiday calendars."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from routing.sla import Duration, DurationUnit, WorkCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Shanghai wall-clock moment, as the aware UTC datetime the code is given."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


@pytest.fixture
def calendar() -> WorkCalendar:
    return WorkCalendar("Asia/Shanghai")


# --- Duration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("90s", 90, DurationUnit.SECONDS),
        ("15m", 15, DurationUnit.MINUTES),
        ("2h", 2, DurationUnit.HOURS),
        ("1d", 1, DurationUnit.DAYS),
        ("1wd", 1, DurationUnit.WORKDAYS),
        (" 5 wd ", 5, DurationUnit.WORKDAYS),
        ("4H", 4, DurationUnit.HOURS),
    ],
)
def test_parse_reads_number_and_unit(text: str, amount: int, unit: DurationUnit) -> None:
    assert Duration.parse(text) == Duration(amount, unit)


@pytest.mark.parametrize("text", ["2 hours", "h", "1.5h", "-1h", "2", "", "1w", "wd1"])
def test_parse_rejects_non_durations_with_an_example(text: str) -> None:
    with pytest.raises(ValueError) as error:
        Duration.parse(text)
    message = str(error.value)
    assert f"'{text}' is not a duration" in message
    assert "90s, 15m, 2h, 1d or 1wd" in message


def test_parse_explains_the_exact_message_for_words() -> None:
    with pytest.raises(
        ValueError,
        match="^'2 hours' is not a duration: write a number and a "
        r"unit, e\.g\. 90s, 15m, 2h, 1d or 1wd \(working days\)$",
    ):
        Duration.parse("2 hours")


def test_parse_rejects_zero() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Duration.parse("0m")


def test_parse_rejects_non_text() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        Duration.parse(15)  # type: ignore[arg-type]


def test_duration_needs_a_positive_amount() -> None:
    with pytest.raises(ValueError):
        Duration(0, DurationUnit.HOURS)


@pytest.mark.parametrize("text", ["90s", "15m", "2h", "1d", "1wd"])
def test_str_gives_back_what_was_parsed(text: str) -> None:
    assert str(Duration.parse(text)) == text


@pytest.mark.parametrize(
    ("text", "zh"),
    [("2h", "2小时"), ("15m", "15分钟"), ("1d", "1天"), ("1wd", "1个工作日"), ("90s", "90秒")],
)
def test_zh_reads_naturally(text: str, zh: str) -> None:
    assert Duration.parse(text).zh() == zh


@pytest.mark.parametrize(
    ("text", "factor", "expected"),
    [("4h", 0.5, "2h"), ("15m", 0.5, "450s"), ("1d", 0.5, "12h"), ("2h", 0.25, "30m")],
)
def test_scaled_uses_the_largest_exact_unit(text: str, factor: float, expected: str) -> None:
    assert str(Duration.parse(text).scaled(factor)) == expected


def test_scaled_refuses_working_days() -> None:
    with pytest.raises(ValueError, match="point_in"):
        Duration.parse("1wd").scaled(0.5)


# --- working days -----------------------------------------------------------------------


def test_national_day_2025_is_a_holiday_with_makeup_days(calendar: WorkCalendar) -> None:
    assert all(not calendar.is_workday(date(2025, 10, d)) for d in range(1, 9))
    assert calendar.is_workday(date(2025, 9, 28))  # Sunday, 调休
    assert calendar.is_workday(date(2025, 10, 11))  # Saturday, 调休
    assert calendar.is_workday(date(2025, 10, 9))


def test_ordinary_weekend_is_not_a_workday(calendar: WorkCalendar) -> None:
    assert not calendar.is_workday(date(2025, 10, 18))
    assert not calendar.is_workday(date(2025, 10, 19))
    assert calendar.is_workday(date(2025, 10, 17))


def test_unknown_year_falls_back_to_weekdays_and_warns_once(
    calendar: WorkCalendar, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="routing.sla"):
        assert calendar.is_workday(date(2099, 1, 1))  # Thursday; a holiday in reality
        assert not calendar.is_workday(date(2099, 1, 3))  # Saturday
        assert calendar.is_workday(date(2099, 1, 5))
    warnings = [r for r in caplog.records if "2099" in r.getMessage()]
    assert len(warnings) == 1


# --- add --------------------------------------------------------------------------------


def test_calendar_units_are_plain_elapsed_time(calendar: WorkCalendar) -> None:
    start = at(2025, 9, 30, 23, 0)  # the eve of National Day: holidays don't matter here
    assert calendar.add(start, Duration.parse("2h")) == at(2025, 10, 1, 1, 0)
    assert calendar.add(start, Duration.parse("1d")) == at(2025, 10, 1, 23, 0)
    assert calendar.add(start, Duration.parse("90s")) == start + timedelta(seconds=90)


def test_result_is_utc_even_from_another_zone(calendar: WorkCalendar) -> None:
    start = datetime(2025, 10, 17, 15, 0, tzinfo=SHANGHAI)
    end = calendar.add(start, Duration.parse("1wd"))
    assert end.tzinfo is UTC
    assert end == at(2025, 10, 20, 15, 0)


def test_friday_plus_one_workday_is_monday_same_time(calendar: WorkCalendar) -> None:
    assert calendar.add(at(2025, 10, 17, 15, 0), Duration.parse("1wd")) == at(2025, 10, 20, 15)


def test_last_day_before_national_day_jumps_the_holiday(calendar: WorkCalendar) -> None:
    end = calendar.add(at(2025, 9, 30, 15, 0), Duration.parse("1wd"))
    assert end == at(2025, 10, 9, 15, 0)


def test_makeup_saturday_counts_as_a_workday(calendar: WorkCalendar) -> None:
    # Friday 10 Oct 2025 + 1wd lands on Saturday 11 Oct, a 调休 working day.
    assert calendar.add(at(2025, 10, 10, 9, 30), Duration.parse("1wd")) == at(2025, 10, 11, 9, 30)


def test_start_on_a_holiday_counts_from_next_workday_midnight(calendar: WorkCalendar) -> None:
    # From inside the holiday the window starts at 00:00 on Thursday 9 Oct.
    assert calendar.add(at(2025, 10, 3, 16, 0), Duration.parse("1wd")) == at(2025, 10, 10, 0, 0)


def test_start_on_weekend_before_makeup_sunday(calendar: WorkCalendar) -> None:
    # Saturday 27 Sept is off; Sunday 28 Sept is a make-up working day.
    assert calendar.add(at(2025, 9, 27, 11, 0), Duration.parse("1wd")) == at(2025, 9, 29, 0, 0)


def test_five_workdays_across_national_day(calendar: WorkCalendar) -> None:
    # Sun 28 (调休), Mon 29, Tue 30 Sept, then Thu 9, Fri 10 Oct.
    end = calendar.add(at(2025, 9, 26, 14, 0), Duration.parse("5wd"))
    assert end == at(2025, 10, 10, 14, 0)


def test_spring_festival_2026_is_known(calendar: WorkCalendar) -> None:
    # chinesecalendar 1.11: holiday 15-23 Feb 2026, make-up Saturdays 14 and 28 Feb.
    assert calendar.is_workday(date(2026, 2, 14))
    assert all(not calendar.is_workday(date(2026, 2, d)) for d in range(15, 24))
    assert calendar.is_workday(date(2026, 2, 28))
    assert calendar.add(at(2026, 2, 13, 15, 0), Duration.parse("1wd")) == at(2026, 2, 14, 15, 0)
    assert calendar.add(at(2026, 2, 14, 15, 0), Duration.parse("1wd")) == at(2026, 2, 24, 15, 0)


def test_naive_start_is_refused(calendar: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="time zone"):
        calendar.add(datetime(2025, 10, 17, 15, 0), Duration.parse("1h"))


# --- point_in ---------------------------------------------------------------------------


def test_point_in_calendar_units_is_a_plain_fraction(calendar: WorkCalendar) -> None:
    start = at(2025, 10, 1, 8, 0)
    assert calendar.point_in(start, Duration.parse("4h"), 0.5) == at(2025, 10, 1, 10, 0)
    assert calendar.point_in(start, Duration.parse("15m"), 0.5) == start + timedelta(seconds=450)


def test_point_in_workdays_counts_only_workday_time(calendar: WorkCalendar) -> None:
    # 12h of working time: 9h left on Friday, then 3h into Monday.
    start = at(2025, 10, 17, 15, 0)
    assert calendar.point_in(start, Duration.parse("1wd"), 0.5) == at(2025, 10, 20, 3, 0)


def test_point_in_workdays_within_one_day(calendar: WorkCalendar) -> None:
    start = at(2025, 10, 14, 8, 0)  # Tuesday
    assert calendar.point_in(start, Duration.parse("2wd"), 0.25) == at(2025, 10, 14, 20, 0)


def test_point_in_workdays_skips_the_national_day_holiday(calendar: WorkCalendar) -> None:
    # 5wd from Fri 26 Sept 14:00 = 120h of working time; half is 60h:
    # 10h Fri, 24h Sun 28 (调休), 24h Mon 29, then 2h into Tue 30.
    start = at(2025, 9, 26, 14, 0)
    assert calendar.point_in(start, Duration.parse("5wd"), 0.5) == at(2025, 9, 30, 2, 0)


def test_point_in_workdays_from_a_holiday_starts_at_next_workday(calendar: WorkCalendar) -> None:
    start = at(2025, 10, 3, 16, 0)
    assert calendar.point_in(start, Duration.parse("1wd"), 0.5) == at(2025, 10, 9, 12, 0)
    assert calendar.point_in(start, Duration.parse("1wd"), 0) == at(2025, 10, 9, 0, 0)


def test_point_in_exactly_at_day_end_lands_on_next_workday(calendar: WorkCalendar) -> None:
    # 9h from Friday 15:00 is midnight; the point is Monday 00:00, never a weekend day.
    start = at(2025, 10, 17, 15, 0)
    assert calendar.point_in(start, Duration.parse("1wd"), 9 / 24) == at(2025, 10, 20, 0, 0)


@pytest.mark.parametrize(
    "start",
    [at(2025, 10, 17, 15, 0), at(2025, 9, 30, 0, 0), at(2025, 10, 4, 12, 0), at(2026, 2, 13, 9)],
)
@pytest.mark.parametrize("text", ["1wd", "3wd", "2h", "1d"])
def test_point_in_at_one_is_the_deadline(
    calendar: WorkCalendar, start: datetime, text: str
) -> None:
    duration = Duration.parse(text)
    assert calendar.point_in(start, duration, 1.0) == calendar.add(start, duration)


def test_point_in_refuses_fractions_outside_zero_to_one(calendar: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        calendar.point_in(at(2025, 10, 17), Duration.parse("1wd"), 1.5)


def test_local_converts_to_the_deployment_zone() -> None:
    moment = datetime(2025, 10, 17, 7, 0, tzinfo=UTC)
    local = WorkCalendar("Asia/Shanghai").local(moment)
    assert (local.hour, local.utcoffset()) == (15, timedelta(hours=8))
    assert WorkCalendar("Europe/Berlin").local(moment).utcoffset() == timedelta(hours=2)


def test_other_timezones_keep_their_local_time_of_day() -> None:
    berlin = WorkCalendar("Europe/Berlin")
    start = datetime(2025, 10, 17, 15, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    end = berlin.add(start, Duration.parse("1wd"))
    assert end.astimezone(ZoneInfo("Europe/Berlin")) == datetime(
        2025, 10, 20, 15, 0, tzinfo=ZoneInfo("Europe/Berlin")
    )
    assert end.tzinfo is UTC
