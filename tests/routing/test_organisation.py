"""Reloading the organisation file keeps residents, requests and history; moved buildings
route anew."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.settings import example_config
from routing.desk import Desk, Incoming, Person
from routing.keywords import build_classifier
from routing.organisation import issue_invite, sync_organisation
from routing.orgconfig import OrgConfig, parse_org_config
from routing.sla import WorkCalendar
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.uow import UnitOfWork, UnitOfWorkFactory

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
RESIDENT = Person(telegram_id=5001, name="王阿姨")
EXAMPLE = example_config().read_text(encoding="utf-8")
# SY-2 moves from 陈亮's grid (songyun-1) to 赵磊's (songyun-2).
MOVED = EXAMPLE.replace(
    "                - {code: SY-2, name: 2号楼, households: 30}\n", ""
).replace(
    "                - {code: SY-3, name: 3号楼, households: 48}",
    "                - {code: SY-2, name: 2号楼, households: 30}\n"
    "                - {code: SY-3, name: 3号楼, households: 48}",
)


@pytest.fixture
async def uow(database_url: str) -> AsyncIterator[UnitOfWorkFactory]:
    engine = create_engine(database_url)
    await upgrade(engine)
    sessions = session_factory(engine)
    yield lambda: UnitOfWork(sessions)
    await engine.dispose()


async def _load(uow: UnitOfWorkFactory, config: OrgConfig) -> Desk:
    async with uow() as work:
        await sync_organisation(work, config)
        await work.commit()
    return Desk(uow, config, build_classifier(config), WorkCalendar(config.timezone), lambda: NOW)


async def test_moved_building_routes_new_requests_to_its_new_grid(
    uow: UnitOfWorkFactory,
) -> None:
    assert MOVED != EXAMPLE
    desk = await _load(uow, parse_org_config(EXAMPLE, "taibaihu.yaml"))
    await desk.bind(RESIDENT, "SY-2")
    before = await desk.submit(RESIDENT, Incoming("2号楼楼道灯坏了"))
    assert before.view is not None and before.view.holder == "陈亮"

    desk = await _load(uow, parse_org_config(MOVED, "taibaihu.yaml"))
    after = await desk.submit(RESIDENT, Incoming("2号楼门禁坏了"))
    assert after.view is not None and after.view.holder == "赵磊"
    assert after.view.grid == "颂运水庭第二网格"

    mine = {v.number: v for v in await desk.my_requests(RESIDENT.telegram_id)}
    assert mine[before.view.number].holder == "陈亮", "an old request keeps its holder"
    assert len(mine) == 2, "the resident and their history survive the reload"


async def test_reload_keeps_an_account_bound_by_invite(uow: UnitOfWorkFactory) -> None:
    text = EXAMPLE.replace("workers: [{name: 周凯, telegram_id: 100004}]",
                           "workers: [{name: 周凯}]")
    config = parse_org_config(text, "taibaihu.yaml")
    desk = await _load(uow, config)
    async with uow() as work:
        token = await issue_invite(work, "shiqiao-1/周凯")
        await work.commit()
    assert token is not None
    bound = await desk.bind_staff(Person(telegram_id=424242, name="周凯"), token)
    assert bound.ok
    again = await desk.bind_staff(Person(telegram_id=999, name="someone"), token)
    assert not again.ok, "an invite works once"

    desk = await _load(uow, config)
    assert await desk.roles(424242), "the binding survives a reload of a file without an id"


async def test_a_building_removed_from_the_file_no_longer_accepts_binding(
    uow: UnitOfWorkFactory, tmp_path: Path
) -> None:
    text = EXAMPLE.replace("                - {code: MD-3, name: 3号楼, households: 54}\n", "")
    await _load(uow, parse_org_config(EXAMPLE, "taibaihu.yaml"))
    desk = await _load(uow, parse_org_config(text, "taibaihu.yaml"))
    outcome = await desk.bind(RESIDENT, "MD-3")
    assert outcome.refusal is not None
