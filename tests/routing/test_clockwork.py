"""The clockwork on a real database with a hand-driven clock: each step fires once, in order."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.settings import example_config
from routing.clockwork import Clockwork
from routing.desk import Desk, Incoming, Person
from routing.digest import DailyDigest
from routing.keywords import build_classifier
from routing.organisation import sync_organisation
from routing.orgconfig import parse_org_config
from routing.sla import WorkCalendar
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import OutboxMessage, Request, RequestEvent
from storage.uow import UnitOfWork

RESIDENT = Person(telegram_id=5001, name="王阿姨")
WORKER, COMMUNITY, TOWN, DISTRICT = 100001, 700001, 800001, 900001
T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[tuple[Desk, Clockwork, Clock]]:
    engine = create_engine(database_url)
    await upgrade(engine)
    sessions = session_factory(engine)
    config = parse_org_config(example_config().read_text(encoding="utf-8"), "taibaihu.yaml")
    clock = Clock(T0)

    def uow() -> UnitOfWork:
        return UnitOfWork(sessions)

    async with uow() as work:
        await sync_organisation(work, config)
        await work.commit()
    desk = Desk(uow, config, build_classifier(config), WorkCalendar(config.timezone), clock)
    yield desk, Clockwork(desk), clock
    await engine.dispose()


async def submit(desk: Desk, text: str = "2号楼楼道灯坏了") -> int:
    await desk.bind(RESIDENT, "SY-1")
    outcome = await desk.submit(RESIDENT, Incoming(text))
    assert outcome.view is not None
    return outcome.view.number


async def sent(desk: Desk, kind: str) -> Counter[int]:
    """How many outbox rows of a kind each chat got."""
    async with desk.uow() as uow:
        rows = (await uow.session.execute(
            select(OutboxMessage.chat_id).where(OutboxMessage.kind == kind))).scalars().all()
    return Counter(rows)


async def test_a_request_nobody_accepts_climbs_to_the_district_one_alert_per_level(
    world: tuple[Desk, Clockwork, Clock],
) -> None:
    desk, clockwork, clock = world
    number = await submit(desk)
    assert await clockwork.sweep() == 0
    for level in (1, 2, 3):
        clock.advance(hours=1)  # half of the 2h acknowledge window: a reminder
        assert await clockwork.sweep() == 1
        clock.advance(hours=1)  # the window ends: up one level
        assert await clockwork.sweep() == 1
        shown = await desk.show(RESIDENT.telegram_id, number)
        assert shown is not None and shown[0].level == level
    alerts = await sent(desk, "escalated")
    assert alerts == Counter({COMMUNITY: 1, TOWN: 1, DISTRICT: 1})
    assert (await sent(desk, "escalated_resident"))[RESIDENT.telegram_id] == 3
    # Past the top: a reminder every window, never a fourth escalation.
    clock.advance(hours=1)
    await clockwork.sweep()
    clock.advance(hours=2)
    await clockwork.sweep()
    assert sum((await sent(desk, "escalated")).values()) == 3
    assert (await sent(desk, "reminder"))[DISTRICT] >= 2
    assert await clockwork.audit() == []


async def test_accepting_in_time_stops_the_escalation(
    world: tuple[Desk, Clockwork, Clock],
) -> None:
    desk, clockwork, clock = world
    number = await submit(desk)
    clock.advance(minutes=30)
    assert (await desk.accept(Person(WORKER, "陈亮"), number)).ok
    clock.advance(hours=2)
    assert await clockwork.sweep() == 0, "acknowledged: no acknowledge escalation"
    clock.advance(hours=10)  # half of the 1d resolve window from submission
    assert await clockwork.sweep() == 1
    assert (await sent(desk, "reminder"))[WORKER] == 1


async def test_a_sweep_after_downtime_fires_each_missed_step_once_and_says_late(
    world: tuple[Desk, Clockwork, Clock],
) -> None:
    desk, clockwork, clock = world
    await submit(desk)
    clock.advance(hours=5)  # the program was down past the reminder and the escalation
    fired = await clockwork.sweep()
    assert fired == 2
    assert await clockwork.sweep() == 0, "never twice"
    async with desk.uow() as uow:
        rows = (await uow.session.execute(
            select(OutboxMessage).where(OutboxMessage.kind.in_(("reminder", "escalated")))
        )).scalars().all()
    assert {r.kind for r in rows} == {"reminder", "escalated"}
    assert all(r.payload["late_seconds"] > 0 for r in rows)


async def test_a_step_acted_on_meanwhile_does_not_fire(
    world: tuple[Desk, Clockwork, Clock],
) -> None:
    desk, clockwork, clock = world
    number = await submit(desk)
    clock.advance(hours=3)
    # The worker resolves between the deadline passing and the sweep running.
    assert (await desk.resolve(Person(WORKER, "陈亮"), number, "已修好")).ok
    assert await clockwork.sweep() == 0
    assert await sent(desk, "escalated") == Counter()


async def test_the_audit_finds_an_open_request_without_a_step(
    world: tuple[Desk, Clockwork, Clock],
) -> None:
    desk, clockwork, clock = world
    number = await submit(desk)
    async with desk.uow() as uow:
        await uow.session.execute(
            update(Request).where(Request.id == number).values(next_step_at=None))
        await uow.commit()
    problems = await clockwork.audit()
    assert [p.number for p in problems] == [number]
    await clockwork.audit_and_alarm()
    await clockwork.audit_and_alarm()
    assert (await sent(desk, "audit_failed")) == Counter({DISTRICT: 1}), "alarmed once"


async def test_the_morning_digest_goes_once_a_day(
    world: tuple[Desk, Clockwork, Clock],
) -> None:
    desk, clockwork, clock = world
    await submit(desk)
    digest = DailyDigest(desk)
    assert digest.due_day(clock()) is not None  # 10:00, within the catch-up window
    day = digest.due_day(clock())
    assert day is not None
    told = await digest.run(day)
    assert told >= 8
    assert await digest.run(day) == 0
    assert (await sent(desk, "digest_supervisor"))[COMMUNITY] == 1
    assert (await sent(desk, "digest_worker"))[WORKER] == 1
    clock.advance(hours=8)  # 18:00: too late for a morning digest
    assert digest.due_day(clock()) is None


async def test_a_resident_may_chase_an_overdue_request_once_per_window(
    world: tuple[Desk, Clockwork, Clock],
) -> None:
    desk, clockwork, clock = world
    number = await submit(desk)
    early = await desk.chase(RESIDENT, number)
    assert early.refusal is not None and early.refusal.value == "not_overdue"
    clock.advance(hours=2, minutes=1)
    assert (await desk.chase(RESIDENT, number)).ok
    again = await desk.chase(RESIDENT, number)
    assert again.refusal is not None and again.refusal.value == "once_per_window"
    assert (await sent(desk, "chased"))[WORKER] == 1
    assert (await sent(desk, "chased"))[COMMUNITY] == 1


async def test_an_approved_extension_moves_the_deadline_and_tells_the_resident(
    world: tuple[Desk, Clockwork, Clock],
) -> None:
    from routing.sla import Duration

    desk, clockwork, clock = world
    number = await submit(desk)
    worker = Person(WORKER, "陈亮")
    await desk.accept(worker, number)
    asked = await desk.ask_extension(worker, number, Duration.parse("3d"), "等配件")
    assert asked.ok
    own = await desk.decide_extension(worker, number, True)
    assert own.refusal is not None
    decided = await desk.decide_extension(Person(COMMUNITY, "刘敏"), number, True)
    assert decided.ok and decided.view is not None
    assert decided.view.resolve_due_at is not None
    assert datetime.fromisoformat(decided.view.resolve_due_at) > T0 + timedelta(days=3)
    assert (await sent(desk, "extension_resident"))[RESIDENT.telegram_id] == 1
    # The 3 days are added to the old deadline (day 1): due at day 4, reminded at day 2.
    clock.advance(days=1, hours=1)
    assert await clockwork.sweep() == 0, "the old deadline no longer escalates"
    clock.advance(days=1)
    assert await clockwork.sweep() == 1  # a reminder, not an escalation
    async with desk.uow() as uow:
        actions = (await uow.session.execute(select(RequestEvent.action).where(
            RequestEvent.request_id == number))).scalars().all()
    assert "auto_escalated" not in actions and "extension_approved" in actions
