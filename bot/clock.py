"""Clocks: the system's, and one tests and the demo can start anywhere and move forward."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


def system_clock() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


class SteppingClock:
    """Starts at a chosen moment, runs at real speed, and can be moved forward at will."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._began = time.monotonic()
        self._offset = timedelta()

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._began) + self._offset

    def advance(self, delta: timedelta) -> None:
        """Jump forward, as if the program had been running (or down) for `delta`."""
        self._offset += delta
