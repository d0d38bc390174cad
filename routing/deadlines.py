"""The clock of a request: its windows, and when its next reminder or escalation is due.

Every level (and every reopening) starts fresh windows. In each window the holder is reminded
once at `remind_at` of it and, if they still have not acted, the request escalates at its end.
Past the top of the ladder the end of a window brings a reminder and a new window instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from routing.lifecycle import ACTIVE, State
from routing.orgconfig import SlaConfig, WindowConfig
from routing.sla import Duration, WorkCalendar
from routing.taxonomy import Urgency
from storage.models import Request

REMIND = "remind"
ESCALATE = "escalate"
ACK = "ack"
RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class Step:
    """The next timer step of a request."""

    at: datetime
    kind: str  # remind | escalate
    window: str  # ack | resolve


class DeadlinePlanner:
    """Computes windows and next steps from the deployment's SLA and calendar."""

    def __init__(self, sla: SlaConfig, calendar: WorkCalendar) -> None:
        self.sla = sla
        self.calendar = calendar

    def windows(self, request: Request) -> WindowConfig:
        return self.sla.window(request.category, Urgency(request.urgency))

    def start_windows(self, request: Request, now: datetime, *, acknowledged: bool) -> None:
        """Fresh windows from `now` (a new level, a reopening, a hand-back)."""
        window = self.windows(request)
        request.window_started_at = now
        request.ack_due_at = None if acknowledged else self.calendar.add(now, window.acknowledge)
        request.resolve_due_at = self.calendar.add(now, window.resolve)
        request.reminded = None
        request.extension_until = None
        self.plan(request)

    def extend(self, request: Request, now: datetime, until: datetime) -> None:
        """An approved 延期: a new resolve deadline, with a fresh reminder before it."""
        request.window_started_at = now
        request.resolve_due_at = until
        request.ack_due_at = None
        request.reminded = None
        self.plan(request)

    def plan(self, request: Request) -> Step | None:
        """Store the next step on the request (none once it is no longer active)."""
        step = self.next_step(request)
        request.next_step_at = step.at if step else None
        request.next_step = step.kind if step else None
        return step

    def next_step(self, request: Request) -> Step | None:
        if State(request.state) not in ACTIVE or request.window_started_at is None:
            return None
        window = ACK if request.state == State.OPEN and request.ack_due_at else RESOLVE
        due = request.ack_due_at if window == ACK else request.resolve_due_at
        if due is None:
            return None
        if request.reminded == window:
            return Step(self.after_quiet(due, request.urgency), ESCALATE, window)
        remind = self._remind_point(request, window, due)
        return Step(self.after_quiet(remind, request.urgency), REMIND, window)

    def next_window_end(self, request: Request, now: datetime) -> datetime:
        """Past the top of the ladder: when the next repeated reminder is due."""
        windows = self.windows(request)
        duration = windows.acknowledge if request.state == State.OPEN else windows.resolve
        return self.calendar.add(now, duration)

    def _remind_point(self, request: Request, window: str, due: datetime) -> datetime:
        start = request.window_started_at
        assert start is not None
        windows = self.windows(request)
        duration: Duration = windows.acknowledge if window == ACK else windows.resolve
        natural_end = self.calendar.add(start, duration)
        if natural_end == due:
            return self.calendar.point_in(start, duration, self.sla.remind_at)
        # An extended or shortened window: remind at the same share of its calendar time.
        return start + (due - start) * self.sla.remind_at

    def after_quiet(self, moment: datetime, urgency: str) -> datetime:
        """Non-urgent steps that fall in quiet hours wait for them to end; urgent ones never do."""
        quiet = self.sla.quiet_window
        if quiet is None or urgency == Urgency.URGENT:
            return moment
        start, end = quiet
        local = self.calendar.local(moment)
        clock = local.time()
        if not _inside(clock, start, end):
            return moment
        end_day = local.date()
        if start > end and clock >= start:  # the quiet night runs past midnight
            end_day += timedelta(days=1)
        wake = datetime.combine(end_day, end, tzinfo=local.tzinfo)
        return wake.astimezone(moment.tzinfo)


def _inside(clock: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= clock < end
    return clock >= start or clock < end
