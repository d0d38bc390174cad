"""Time as part of the system: firing due reminders and escalations once, and the audit.

A firing re-reads the request under a row lock (rows another process holds are skipped),
re-checks that the step is still due, acts, records that it acted and queues who must hear of
it, all in one transaction; only then is the next step stored. A restart therefore fires every
step that fell due while the program was down exactly once, and says it is late.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from routing.deadlines import ACK, ESCALATE, REMIND, DeadlinePlanner
from routing.desk import SYSTEM, Desk
from routing.lifecycle import next_level
from routing.notices import Keyboard, Notice, Notifier, Priority, priority_for
from routing.views import request_view
from storage.models import Request
from storage.uow import UnitOfWork

LATE_AFTER = timedelta(seconds=5)  # a step normally fires within a second of falling due
AUDIT_GRACE = timedelta(minutes=5)
BATCH = 200


@dataclass(frozen=True, slots=True)
class AuditProblem:
    """An active request the clock has lost track of."""

    number: int
    state: str
    next_step_at: datetime | None

    def __str__(self) -> str:
        when = self.next_step_at.isoformat() if self.next_step_at else "none"
        return f"#{self.number} ({self.state}): next step {when}"


class Clockwork:
    """Reminders, escalations and the audit, driven by whatever wakes it (APScheduler)."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.clock: Callable[[], datetime] = desk.clock
        self.planner: DeadlinePlanner = desk.planner

    async def next_due(self) -> datetime | None:
        async with self.desk.uow() as uow:
            return await uow.requests.next_step_at()

    async def sweep(self, limit: int = BATCH) -> int:
        """Fire every step due now, including steps that a firing makes due; returns the count."""
        fired = 0
        while True:
            async with self.desk.uow() as uow:
                now = self.clock()
                rows = list(await uow.requests.due_steps(now, limit))
                acted = 0
                for request in rows:
                    acted += await self._fire(uow, request, now)
                await uow.commit()
            fired += acted
            if not rows or (acted == 0 and len(rows) < limit):
                return fired

    async def _fire(self, uow: UnitOfWork, request: Request, now: datetime) -> int:
        step = self.planner.next_step(request)
        if step is None or step.at > now:
            self.planner.plan(request)  # acted on meanwhile, or moved by quiet hours
            return 0
        late = now - step.at if now - step.at > LATE_AFTER else None
        request.steps_fired += 1
        if step.kind == REMIND:
            request.reminded = step.window
            await self._remind(uow, request, step.window, step.at, late)
            self.planner.plan(request)
            return 1
        assert step.kind == ESCALATE
        target = next_level(request.ladder, request.level)
        why = "超时未受理" if step.window == ACK else "超时未办结"
        if target is None:
            # Past the top of the ladder: remind again every window until someone acts.
            request.window_started_at = now
            end = self.planner.next_window_end(request, now)
            if step.window == ACK:
                request.ack_due_at = end
            else:
                request.resolve_due_at = end
            await self._remind(uow, request, step.window, step.at, late, top=True)
            self.planner.plan(request)
            return 1
        await self.desk.raise_to(
            uow, request, target, SYSTEM, "auto_escalated", why, Notice.ESCALATED,
            late_seconds=_seconds(late), window=step.window,
        )
        return 1

    async def _remind(self, uow: UnitOfWork, request: Request, window: str, due: datetime,
                      late: timedelta | None, *, top: bool = False) -> None:
        deadline = request.ack_due_at if window == ACK else request.resolve_due_at
        await self.desk.event(uow, request, "system", None, SYSTEM.name, "reminded",
                              f"{'受理' if window == ACK else '办结'}时限提醒")
        view = await request_view(uow, request, self.desk.taxonomy)
        notify = Notifier(uow, self.clock)
        people = await notify.holders(request)
        if top:
            people += await notify.first_receiver(request)
        keyboard = Keyboard.WORKER if request.level == 0 else Keyboard.SUPERVISOR
        notify.staff(people, Notice.REMINDER, view, keyboard=keyboard,
                     priority=priority_for(request, escalation=True), window=window,
                     deadline=deadline.isoformat() if deadline else None,
                     late_seconds=_seconds(late), top=top)

    async def audit(self) -> list[AuditProblem]:
        """Every active request must have a future step (or one only just due)."""
        async with self.desk.uow() as uow:
            rows = await uow.requests.without_future_step(self.clock() - AUDIT_GRACE)
            return [AuditProblem(r.id, r.state, r.next_step_at) for r in rows]

    async def audit_and_alarm(self) -> list[AuditProblem]:
        """Run the audit; tell the district supervisors once whenever what fails changes."""
        problems = await self.audit()
        fingerprint = ",".join(str(p.number) for p in problems) or None
        async with self.desk.uow() as uow:
            alarm = await uow.runs.alarm("audit")
            if (alarm.fingerprint if alarm else None) == fingerprint:
                return problems
            await uow.runs.set_alarm("audit", fingerprint, self.clock())
            if problems:
                district = self.desk.config.district.id
                people = await uow.staff.of_unit("district", district)
                Notifier(uow, self.clock).plain(
                    [p for p in people if p.role == "supervisor"], Notice.AUDIT_FAILED,
                    Priority.URGENT, problems=[str(p) for p in problems[:20]],
                    count=len(problems))
            await uow.commit()
        return problems


def _seconds(late: timedelta | None) -> int:
    return int(late.total_seconds()) if late else 0

