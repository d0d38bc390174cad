"""Several processes on one PostgreSQL database: one of them sends, the others stand by.

Telegram's limits are per bot and each process's limiter only knows its own calls, so only
the holder of the sending lease (a session advisory lock, storage/lease.py) drains the
outbox. When it goes away, another takes over.
"""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from bot.app import build_app
from bot.emulator import BotApiEmulator
from bot.emulator_client import EmulatorClient
from bot.settings import Settings, example_config
from routing.desk import Incoming, Person
from storage.db import create_engine
from storage.lease import AdvisoryLease

pytestmark = pytest.mark.postgres
RESIDENT = 6401
WORKER = 100001  # 陈亮, worker of SY-1


def _postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite allows one process, which always sends")


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
    _postgres_only(database_url)
    emulator = BotApiEmulator()
    url = await emulator.start()
    client = EmulatorClient(url)
    settings = Settings(telegram_token=SecretStr(emulator.token), telegram_api_url=url,
                        database_url=database_url, config=example_config())
    first, second = await build_app(settings), await build_app(settings)
    try:
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
    finally:
        await first.close()
        await second.close()
        await client.close()
        await emulator.stop()
