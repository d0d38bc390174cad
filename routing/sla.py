"""Durations of response windows and deadline arithmetic on the Chinese working-day calendar."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import chinese_calendar

logger = logging.getLogger(__name__)

_DURATION_RE = re.compile(r"^\s*(\d+)\s*(wd|s|m|h|d)\s*$", re.IGNORECASE)
_EXAMPLES = "e.g. 90s, 15m, 2h, 1d or 1wd (working days)"
_DAY = timedelta(days=1)


class DurationUnit(StrEnum):
    """The unit of a Duration as written in the organisation file."""

    SECONDS = "s"
    MINUTES = "m"
    HOURS = "h"
    DAYS = "d"
    WORKDAYS = "wd"

    @property
    def zh(self) -> str:
        """The Chinese name of the unit, as it follows a number."""
        return _UNIT_ZH[self]

    @property
    def seconds(self) -> int:
        """Length of one unit in seconds; working days have no fixed length."""
        if self is DurationUnit.WORKDAYS:
            raise ValueError("a working day has no fixed length in seconds")
        return _UNIT_SECONDS[self]


_UNIT_ZH = {
    DurationUnit.SECONDS: "秒",
    DurationUnit.MINUTES: "分钟",
    DurationUnit.HOURS: "小时",
    DurationUnit.DAYS: "天",
    DurationUnit.WORKDAYS: "个工作日",
}
_UNIT_SECONDS = {
    DurationUnit.SECONDS: 1,
    DurationUnit.MINUTES: 60,
    DurationUnit.HOURS: 3600,
    DurationUnit.DAYS: 86400,
}


@dataclass(frozen=True, slots=True)
class Duration:
    """A window length such as 2h or 1wd: a positive whole amount of one unit."""

    amount: int
    unit: DurationUnit

    def __post_init__(self) -> None:
        # bool is an int; True hours is certainly a mistake.
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 1:
            raise ValueError(f"a duration needs a positive whole amount, not {self.amount!r}")
        if not isinstance(self.unit, DurationUnit):
            raise ValueError(f"{self.unit!r} is not a duration unit (s, m, h, d or wd)")

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Read a duration as written in the config: 90s, 15m, 2h, 1d or 1wd."""
        if not isinstance(text, str):
            raise ValueError(f"{text!r} is not a duration: write a number and a unit, {_EXAMPLES}")
        match = _DURATION_RE.match(text)
        if match is None:
            raise ValueError(f"'{text}' is not a duration: write a number and a unit, {_EXAMPLES}")
        amount = int(match.group(1))
        if amount < 1:
            raise ValueError(
                f"'{text}' is not a duration: the number must be at least 1, {_EXAMPLES}"
            )
        return cls(amount, DurationUnit(match.group(2).lower()))

    def __str__(self) -> str:
        return f"{self.amount}{self.unit.value}"

    def zh(self) -> str:
        """The duration in Chinese, for messages to people: 2小时, 1个工作日."""
        return f"{self.amount}{self.unit.zh}"

    @property
    def is_workdays(self) -> bool:
        """Whether the duration counts working days rather than calendar time."""
        return self.unit is DurationUnit.WORKDAYS

    def as_timedelta(self) -> timedelta:
        """The calendar length; raises ValueError for working days, which have none."""
        return timedelta(seconds=self.amount * self.unit.seconds)

    def scaled(self, factor: float) -> Duration:
        """A calendar-time duration `factor` times as long, in the largest exact unit.

        Working days raise ValueError: a share of a working-day window depends on where it
        starts, so use WorkCalendar.point_in for those.
        """
        if self.is_workdays:
            raise ValueError(f"cannot scale {self}: use WorkCalendar.point_in for working days")
        if factor <= 0:
            raise ValueError(f"scale factor must be positive, not {factor}")
        seconds = max(1, round(self.amount * self.unit.seconds * factor))
        for unit in (DurationUnit.DAYS, DurationUnit.HOURS, DurationUnit.MINUTES):
            if seconds % unit.seconds == 0:
                return Duration(seconds // unit.seconds, unit)
        return Duration(seconds, DurationUnit.SECONDS)


class WorkCalendar:
    """Deadline arithmetic in the deployment's time zone, skipping Chinese statutory holidays.

    Working days come from chinese_calendar, so 调休 make-up Saturdays and Sundays count as
    working days and statutory holidays do not. For years the library has no data for, Monday
    to Friday are taken as working days and a warning is logged once per year.
    """

    def __init__(self, timezone: str = "Asia/Shanghai") -> None:
        self.zone = ZoneInfo(timezone)
        self._unknown_years_warned: set[int] = set()

    def is_workday(self, day: date) -> bool:
        """Whether `day` is a working day, counting make-up working days."""
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self._unknown_years_warned:
                self._unknown_years_warned.add(day.year)
                logger.warning(
                    "chinese_calendar has no holiday data for %s; counting Monday to Friday "
                    "as working days. Upgrade the chinesecalendar package.",
                    day.year,
                )
            return day.weekday() < 5

    def local(self, moment: datetime) -> datetime:
        """The same moment in the deployment's time zone."""
        _require_aware(moment)
        return moment.astimezone(self.zone)

    def add(self, start: datetime, duration: Duration) -> datetime:
        """The end of a window of `duration` from `start`, as an aware UTC datetime.

        s/m/h/d are plain elapsed time. For wd, a start on a non-working day first moves to
        00:00 of the next working day; then the date advances `amount` working days and the
        local time of day is kept (Friday 15:00 + 1wd = Monday 15:00).
        """
        _require_aware(start)
        if not duration.is_workdays:
            return (start + duration.as_timedelta()).astimezone(UTC)
        wall = self._wall(start)
        if not self.is_workday(wall.date()):
            wall = datetime.combine(self._next_workday(wall.date()), time())
        day = wall.date()
        for _ in range(duration.amount):
            day = self._next_workday(day)
        return self._from_wall(datetime.combine(day, wall.time()))

    def point_in(self, start: datetime, duration: Duration, fraction: float) -> datetime:
        """The moment when `fraction` (0..1) of the window from `start` has passed, in UTC.

        For s/m/h/d it is start + fraction of the window. For wd only time on working days
        counts, every working day being 24 hours of local wall-clock time: a window of N
        working days holds exactly N*24h of such time, and the point is reached after
        fraction*N*24h of it, walking from the window's effective start (a non-working day
        start moves to 00:00 of the next working day, as in add). So the point always lies on
        a working day and fraction 1 is exactly add(start, duration); e.g. half of 1wd from
        Friday 15:00 is Monday 03:00 (9h on Friday, 3h on Monday). Keeping the point out of
        the night is the job of quiet hours, not of this arithmetic.
        """
        _require_aware(start)
        if not 0 <= fraction <= 1:
            raise ValueError(f"fraction must be between 0 and 1, not {fraction}")
        if not duration.is_workdays:
            end = self.add(start, duration)
            return (start + (end - start) * fraction).astimezone(UTC)
        wall = self._wall(start)
        remaining = _DAY * duration.amount * fraction
        while True:
            next_midnight = datetime.combine(wall.date() + _DAY, time())
            if self.is_workday(wall.date()):
                if remaining < next_midnight - wall:
                    return self._from_wall(wall + remaining)
                remaining -= next_midnight - wall
            wall = next_midnight

    def _next_workday(self, day: date) -> date:
        """The first working day after `day`."""
        day += _DAY
        while not self.is_workday(day):
            day += _DAY
        return day

    def _wall(self, moment: datetime) -> datetime:
        """Naive local wall-clock time of an aware moment."""
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def _from_wall(self, wall: datetime) -> datetime:
        """The UTC moment of a naive local wall-clock time."""
        return wall.replace(tzinfo=self.zone).astimezone(UTC)


def _require_aware(moment: datetime) -> None:
    """Refuse naive datetimes: a deadline from one would depend on the server's time zone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no time zone; pass an aware datetime (UTC)")
