"""APScheduler wiring: wake the clockwork at the nearest deadline, sweep regularly, digest daily.

The database holds every deadline; the scheduler only decides when to look. One job is
re-armed for the nearest step after each sweep and after each commit; an interval job sweeps
anyway, so a missed wake-up costs at most SAFETY_SWEEP_S of delay, never a step.

Of several processes on one database only the leader keeps time (storage/lease.py); a new
leader sweeps at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from routing.clockwork import Clockwork
from routing.digest import DailyDigest

log = logging.getLogger(__name__)
SAFETY_SWEEP_S = 30
AUDIT_EVERY_S = 600
NEXT_JOB = "next-deadline"
OUTBOX_KEEP = timedelta(days=30)
INBOX_KEEP = timedelta(days=7)


class Timers:
    """The program's sense of time: runs the clockwork and the digest when they are due."""

    def __init__(self, scheduler: AsyncIOScheduler, clockwork: Clockwork,
                 digest: DailyDigest, leading: Callable[[], bool] = lambda: True) -> None:
        self.scheduler = scheduler
        self.clockwork = clockwork
        self.digest = digest
        self.leading = leading
        self._lock = asyncio.Lock()
        self._again = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._armed_at: datetime | None = None  # on the program's clock

    def start(self) -> None:
        """Catch up at once (steps that fell due while we were down), then keep time."""
        s = self.scheduler
        # Plain functions would run in APScheduler's thread pool; every job here is a coroutine.
        s.add_job(self.wake_job, "date", id="catch-up", misfire_grace_time=None)
        s.add_job(self.wake_job, "interval", seconds=SAFETY_SWEEP_S, id="safety-sweep",
                  misfire_grace_time=None, coalesce=True)
        s.add_job(self._leader_only(self.audit), "interval", seconds=AUDIT_EVERY_S,
                  id="audit", misfire_grace_time=None, coalesce=True)
        s.add_job(self._leader_only(self.housekeeping), "cron", hour=3, minute=30,
                  id="housekeeping", misfire_grace_time=6 * 3600, coalesce=True)
        at = self.digest.desk.config.digest_at
        s.add_job(self._leader_only(self.daily), "cron", hour=at.hour, minute=at.minute,
                  id="digest", misfire_grace_time=3600, coalesce=True)

    def _leader_only(self, job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """A scheduled job that a standby skips (the sweeps skip in tick())."""
        async def run() -> None:
            if self.leading():
                await job()
        return run

    def consider(self, step_at: datetime | None) -> None:
        """After a commit that stored a step: wake earlier if it falls before the armed one.

        A later step needs nothing: the armed wake-up re-arms for whatever is next when it runs.
        """
        if step_at is None or not self.scheduler.running:
            return
        if self._armed_at is not None and step_at >= self._armed_at:
            return
        self._arm(step_at)

    def _arm(self, due: datetime) -> None:
        # The delay is measured on the program's clock (a test may drive it), the job is set
        # on the real one.
        self._armed_at = due
        delay = max(0.0, (due - self.clockwork.clock()).total_seconds())
        run_at = datetime.now(UTC) + timedelta(seconds=delay)
        self.scheduler.add_job(self.wake_job, "date", run_date=run_at, id=NEXT_JOB,
                               replace_existing=True, misfire_grace_time=None)

    async def wake_job(self) -> None:
        """The scheduler's job: a coroutine, so that APScheduler runs it on the event loop."""
        self.wake()

    def wake(self) -> None:
        """Start a sweep and return at once.

        A job that ran the sweep itself would still be running when the sweep re-arms it, and
        APScheduler skips a job whose previous run has not finished: a lost wake-up.
        """
        if self._lock.locked():
            self._again = True  # the running sweep goes round once more
            return
        task = asyncio.ensure_future(self.tick())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def tick(self) -> None:
        """Fire what is due (again while wake-ups arrive), then arm the next wake-up."""
        if not self.leading():
            return
        async with self._lock:
            self._again = True
            while self._again:
                self._again = False
                try:
                    fired = await self.clockwork.sweep()
                    if fired:
                        log.info("clockwork fired %s step(s)", fired)
                    day = self.digest.due_day(self.clockwork.clock())
                    if day is not None:
                        await self.digest.run(day)
                except Exception:
                    log.exception("clockwork sweep failed; the safety sweep will retry")
        await self.rearm()

    async def daily(self) -> None:
        day = self.digest.due_day(self.clockwork.clock())
        if day is not None:
            await self.digest.run(day)

    async def housekeeping(self) -> None:
        """Nightly: drop delivered messages after 30 days and handled updates after 7."""
        now = self.clockwork.clock()
        async with self.clockwork.desk.uow() as uow:
            sent = await uow.outbox.purge_finished(now - OUTBOX_KEEP)
            updates = await uow.inbox.purge_done(now - INBOX_KEEP)
            await uow.session.commit()
        log.info("housekeeping: removed %s old messages and %s old updates", sent, updates)

    async def audit(self) -> None:
        problems = await self.clockwork.audit_and_alarm()
        if problems:
            log.error("audit: %s request(s) have no future step: %s", len(problems),
                      ", ".join(map(str, problems[:10])))

    async def rearm(self) -> None:
        """Arm the wake-up for the nearest stored step (after a sweep)."""
        due = await self.clockwork.next_due()
        self._armed_at = None
        if due is not None and self.scheduler.running:
            self._arm(due)
