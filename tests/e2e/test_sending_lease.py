"""Several processes on one PostgreSQL database: one of them leads, the others stand by.

Telegram's limits are per bot and each process's limiter only knows its own calls, so only
the holder of the lease (a session advisory lock, storage/lease.py) talks to Telegram: it
handles the updates, keeps time and drains the outbox. A standby records the webhook calls
it receives and announces them to the leader. When the leader goes away, another takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import func, select, text

from bot.app import App, build_app
from bot.emulator import BotApiEmulator
from bot.emulator_client import EmulatorClient
from bot.limiter import COUNTED_METHODS
from bot.settings import Settings, example_config
from bot.webhook import SECRET_HEADER
from routing.desk import Incoming, Person
from storage.db import create_engine
from storage.lease import AdvisoryLease
from storage.models import Request
from tests.e2e.helpers import WEBHOOK_SECRET, message_update, serve_webhook

pytestmark = pytest.mark.postgres
RESIDENT = 6401
WORKER = 100001  # 陈亮, worker of SY-1


def _postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite allows one process, which always sends")


@contextlib.asynccontextmanager
async def _two_processes(database_url: str) -> AsyncIterator[tuple[EmulatorClient, App, App]]:
    """The emulator and two whole programs on one database, as two processes would be;
    neither started yet. Everything is closed afterwards, whatever a test closed already."""
    _postgres_only(database_url)
    emulator = BotApiEmulator()
    url = await emulator.start()
    client = EmulatorClient(url)
    settings = Settings(telegram_token=SecretStr(emulator.token), telegram_api_url=url,
                        database_url=database_url, config=example_config())
    first, second = await build_app(settings), await build_app(settings)
    try:
        yield client, first, second
    finally:
        await first.close()
        await second.close()
        await client.close()
        await emulator.stop()


async def test_one_lease_holder_at_a_time_and_a_successor_when_it_goes(
    database_url: str,
) -> None:
    _postgres_only(database_url)
    engine = create_engine(database_url)
    first, second = AdvisoryLease(engine, key=4242), AdvisoryLease(engine, key=4242)
    try:
        assert await first.hold()
        assert not await second.hold()
        assert await first.hold(), "holding again is still holding"
        await first.release()
        assert await second.hold()
        # The holder's connection dies (a crash, a network cut): the server frees the lock.
        assert second._connection is not None
        pid = (await second._connection.execute(text("SELECT pg_backend_pid()"))).scalar()
        await second._connection.commit()
        async with engine.connect() as admin:
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await admin.commit()
        second.check_every_s = 0
        assert not await second.hold(), "a lost connection is a lost lease"
        assert await first.hold()
    finally:
        await first.release()
        await second.release()
        await engine.dispose()


async def test_only_one_process_sends_and_another_takes_over(
    database_url: str, tmp_path: object,
) -> None:
    async with _two_processes(database_url) as (client, first, second):
        for uid in (RESIDENT, RESIDENT + 1, WORKER):
            await client.add_user(uid, str(uid))
        await first.start_background()
        await asyncio.sleep(0.5)
        await second.start_background()
        person = Person(RESIDENT, "王阿姨")
        await second.desk.bind(person, "SY-1")
        await second.desk.submit(person, Incoming("楼道灯坏了一个星期"))
        await client.wait_for_message(RESIDENT, "已收到您的诉求", timeout=15)
        assert first.sender.lease is not None and second.sender.lease is not None
        assert first.sender.lease.held and not second.sender.lease.held

        await first.close()  # the sender goes away; its lock goes with it
        other = Person(RESIDENT + 1, "李大爷")
        await second.desk.bind(other, "SY-1")
        await second.desk.submit(other, Incoming("单元门门禁刷不开"))
        await client.wait_for_message(RESIDENT + 1, "已收到您的诉求", timeout=20)
        assert second.sender.lease.held


class _CountPosts(BaseRequestMiddleware):
    """Counts the calls of one process that post a message (they count towards the limits)."""

    def __init__(self) -> None:
        self.posted = 0

    async def __call__(self, make_request: Any, bot: Any, method: Any) -> Any:
        if method.__api_method__ in COUNTED_METHODS:
            self.posted += 1
        return await make_request(bot, method)


async def _post_all(updates: list[tuple[str, dict[str, Any]]]) -> None:
    async with aiohttp.ClientSession() as http:
        async def one(url: str, update: dict[str, Any]) -> None:
            async with http.post(url, json=update,
                                 headers={SECRET_HEADER: WEBHOOK_SECRET}) as response:
                assert response.status == 200

        await asyncio.gather(*(one(url, update) for url, update in updates))


async def _until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_webhook_calls_to_a_standby_are_answered_by_the_leader_within_the_limits(
    database_url: str,
) -> None:
    """Two processes behind one webhook address, Telegram's limits enforced: every update,
    whichever process it reached, is handled once, by the leader, and the bot as a whole keeps
    the limits. Before the standby only recorded, each process answered its own share, each
    at 30 a second: twice what Telegram allows."""
    async with _two_processes(database_url) as (client, leader, standby):
        await _leader_answers_for_the_standby(client, leader, standby)


async def _leader_answers_for_the_standby(client: EmulatorClient, leader: App,
                                          standby: App) -> None:
    counts = {}
    for name, app in (("leader", leader), ("standby", standby)):
        counts[name] = _CountPosts()
        app.bot.session.middleware(counts[name])
    runners: list[web.AppRunner] = []
    residents = list(range(6500, 6560))
    try:
        for uid in residents:
            await client.add_user(uid, str(uid))
            await leader.desk.bind(Person(uid, "居民"), "SY-1")
        await client.set_faults(enforce_limits=True)
        await leader.start_background()
        assert leader.sender.lease is not None and standby.sender.lease is not None
        await _until(lambda: leader.sender.lease.held, 10, "the first process never led")
        await standby.start_background()
        hooks = []
        for app in (leader, standby):
            runner, hook = await serve_webhook(app.intake)
            runners.append(runner)
            hooks.append(hook)
        # Each resident asks for help (a direct reply) and reports something, at once, half
        # of the calls reaching each process.
        updates = []
        for n, uid in enumerate(residents):
            updates.append((hooks[n % 2], message_update(900_000 + 2 * n, uid, "/help")))
            report = message_update(900_001 + 2 * n, uid, f"{n}号路灯不亮")
            updates.append((hooks[(n + 1) % 2], report))
        await _post_all(updates)
        for uid in residents:
            await client.wait_for_message(uid, "使用说明", timeout=60)
            await client.wait_for_message(uid, "已收到您的诉求", timeout=60)
        async with leader.uow() as uow:
            made = Counter((await uow.session.execute(
                select(Request.resident_id))).scalars().all())
        assert made == Counter(residents), "one request per resident, whoever received it"
        assert not standby.sender.lease.held
        assert counts["standby"].posted == 0, "a standby talks to nobody"
        assert await client.violations() == []

        await leader.close()  # the leader goes; the standby takes over and finds the rest
        late = residents[0]
        seen = max(m["message_id"] for m in await client.bot_messages(late))
        await _post_all([(hooks[1], message_update(901_000, late, "三单元的门禁刷不开了"))])
        await client.wait_for_message(late, "已收到您的诉求", after=seen, timeout=30)
        assert standby.sender.lease.held
        async with standby.uow() as uow:
            total = (await uow.session.execute(select(func.count(Request.id)))).scalar_one()
        assert total == len(residents) + 1
    finally:
        for runner in runners:
            await runner.cleanup()
