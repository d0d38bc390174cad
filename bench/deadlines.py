"""How the clock scales: sweep cost with 100,000 open requests, and how late steps fire.

    .venv/bin/python bench/deadlines.py [--open 100000] [--pg postgresql+asyncpg://…]

Prints, per database: the time of one sweep when nothing is due (the index at work), the time
to fire 1,000 due reminders, and under a steady intake load (requests submitted through the
use case while APScheduler drives the clockwork) the lateness of reminders against their
deadlines, p50 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # noqa: E402
from sqlalchemy import func, insert, select, update  # noqa: E402

from bot.clock import system_clock  # noqa: E402
from bot.settings import example_config  # noqa: E402
from bot.timers import Timers  # noqa: E402
from routing.clockwork import Clockwork  # noqa: E402
from routing.desk import Desk, Incoming, Person  # noqa: E402
from routing.digest import DailyDigest  # noqa: E402
from routing.keywords import build_classifier  # noqa: E402
from routing.organisation import sync_organisation  # noqa: E402
from routing.orgconfig import parse_org_config  # noqa: E402
from routing.sla import WorkCalendar  # noqa: E402
from storage.db import create_engine, empty_postgres_schema, session_factory  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Request, RequestEvent  # noqa: E402
from storage.uow import UnitOfWork  # noqa: E402

# Reminders after 2 s; only identical texts are linked as duplicates, so every request below
# keeps its own clock.
FAST = example_config().read_text(encoding="utf-8").replace(
    "normal: {acknowledge: 2h, resolve: 1d}", "normal: {acknowledge: 2s, resolve: 1d}"
) + "\nlinking: {similarity: 1.0}\n"



async def run(url: str, open_requests: int, intake_seconds: float, rate: float) -> None:
    if url.startswith("postgresql"):
        await empty_postgres_schema(url)
    engine = create_engine(url)
    await upgrade(engine)
    sessions = session_factory(engine)
    config = parse_org_config(FAST, "fast.yaml")

    woken: list[Timers] = []

    def uow() -> UnitOfWork:
        # As in the program: a commit that stores an earlier step re-arms the wake-up.
        return UnitOfWork(sessions, lambda work: [t.consider(work.earliest_step) for t in woken])

    async with uow() as work:
        await sync_organisation(work, config)
        await work.commit()
    desk = Desk(uow, config, build_classifier(config), WorkCalendar(config.timezone),
                system_clock)
    clockwork = Clockwork(desk)
    now = system_clock()
    far = now + timedelta(days=30)
    base = dict(resident_id=1, text="x", category="property_repair", urgency="normal",
                confidence=1.0, state="open", level=0, ladder=["community", "town", "district"],
                building_code="SY-1", grid_id="songyun-1", community_id="songyun",
                town_id="xuzhuang", district_id="taibaihu", created_at=now, updated_at=now,
                window_started_at=now, ack_due_at=far, resolve_due_at=far,
                next_step="remind", steps_fired=0)
    started = time.perf_counter()
    async with engine.begin() as conn:
        for chunk in range(0, open_requests, 5000):
            rows = [dict(base, next_step_at=far + timedelta(seconds=i))
                    for i in range(chunk, min(open_requests, chunk + 5000))]
            await conn.execute(insert(Request), rows)
    print(f"  {open_requests:,} open requests inserted in {time.perf_counter() - started:.1f} s")

    samples = []
    for _ in range(20):
        t = time.perf_counter()
        assert await clockwork.sweep() == 0
        samples.append((time.perf_counter() - t) * 1000)
    print(f"  sweep, nothing due:   median {statistics.median(samples):.2f} ms, "
          f"max {max(samples):.2f} ms (20 sweeps)")

    async with engine.begin() as conn:
        ids = (await conn.execute(select(Request.id).order_by(Request.id).limit(1000))).scalars()
        # Windows of two hours, half gone: each owes exactly one reminder, escalation later.
        await conn.execute(update(Request).where(Request.id.in_(list(ids))).values(
            window_started_at=now - timedelta(hours=1), ack_due_at=now + timedelta(hours=1),
            next_step_at=now - timedelta(seconds=1)))
    t = time.perf_counter()
    fired = await clockwork.sweep()
    elapsed = time.perf_counter() - t
    print(f"  sweep, 1,000 due:     {elapsed * 1000:.0f} ms for {fired} reminders "
          f"({elapsed / max(fired, 1) * 1000:.2f} ms each, notices queued in the outbox)")

    # Lateness under load: residents keep submitting; each request's reminder is due 1 s later.
    scheduler = AsyncIOScheduler(timezone=config.timezone)
    timers = Timers(scheduler, clockwork, DailyDigest(desk))
    woken.append(timers)
    timers.start()
    scheduler.start()
    # One resident per request: flood control would slow a single resident down.
    people = [Person(1_000_000 + i, "居民") for i in range(int(intake_seconds * rate) + 10)]
    for person in people:
        await desk.bind(person, "SY-1")
    submitted: list[int] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + intake_seconds
    while loop.time() < end and len(submitted) < len(people):
        n = len(submitted)
        # Zero-padded: a bare 119 or 120 in the text is an emergency number, hence urgent,
        # with a 15-minute window that this 2-second measurement would count as not fired.
        outcome = await desk.submit(people[n], Incoming(f"楼道灯坏了（编号{n:05d}）"))
        assert outcome.view is not None
        submitted.append(outcome.view.number)
        await asyncio.sleep(1 / rate)
    await asyncio.sleep(2.5)
    scheduler.shutdown(wait=False)
    async with uow() as work:
        # The first reminder of each request, against its due time: created_at + 1 s.
        rows = (await work.session.execute(
            select(Request.id, Request.created_at, func.min(RequestEvent.at))
            .join(RequestEvent, RequestEvent.request_id == Request.id)
            .where(Request.id.in_(submitted), RequestEvent.action == "reminded")
            .group_by(Request.id, Request.created_at))).all()
    late = sorted((at - (created + timedelta(seconds=1))).total_seconds() * 1000
                  for _, created, at in rows)
    missing = len(submitted) - len(rows)
    print(f"  under load (aimed at {rate:.0f} requests/s for {intake_seconds:.0f} s, reached "
          f"{len(submitted) / intake_seconds:.1f}/s while every request climbed the ladder on "
          f"2 s windows; {len(rows)} first reminders): late p50 {late[len(late) // 2]:.0f} ms, "
          f"p99 {late[int(len(late) * 0.99) - 1]:.0f} ms, max {late[-1]:.0f} ms, "
          f"not fired {missing}")
    await engine.dispose()


def start_postgres() -> str | None:
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(["bash", str(root / ".ci" / "start-postgres")], capture_output=True,
                            text=True)
    return result.stdout.strip() or None if result.returncode == 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--pg", default=os.environ.get("HUYING_BENCH_PG_URL"))
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"SQLite ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
        asyncio.run(run(f"sqlite+aiosqlite:///{tmp}/bench.db", args.open, args.seconds,
                        args.rate))
    pg = args.pg or start_postgres()
    if pg:
        print("PostgreSQL")
        asyncio.run(run(pg, args.open, args.seconds, args.rate))
    else:
        print("PostgreSQL: not available (set HUYING_BENCH_PG_URL)")


if __name__ == "__main__":
    main()
