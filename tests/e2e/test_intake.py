"""Durable intake: nothing a resident sends is lost or doubled, through webhook or polling."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import aiohttp

from bot.emulator import BotApiEmulator
from bot.emulator_client import EmulatorClient
from bot.harness import Harness
from bot.webhook import SECRET_HEADER
from routing.desk import Person
from tests.e2e.helpers import WEBHOOK_SECRET, message_update, serve_webhook


async def requests_of(bot: Harness, user: int) -> list[str]:
    return [v.text for v in await bot.app.desk.my_requests(user)]


async def test_a_webhook_call_without_the_secret_is_refused_and_not_processed(
    bot: Harness,
) -> None:
    user = 6001
    await bot.client.add_user(user, "居民")
    await bot.app.desk.bind(Person(user, "居民"), "SY-1")
    runner, url = await serve_webhook(bot.app.intake)
    try:
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {SECRET_HEADER: "wrong"}):
                async with http.post(url, json=message_update(700001, user, "路灯坏了"),
                                     headers=headers) as response:
                    assert response.status == 401
            async with http.post(url, json=message_update(700002, user, "门口路灯坏了"),
                                 headers={SECRET_HEADER: WEBHOOK_SECRET}) as response:
                assert response.status == 200
        await bot.client.wait_for_message(user, "已收到您的诉求")
        await bot.settle()
        assert await requests_of(bot, user) == ["门口路灯坏了"]
    finally:
        await runner.cleanup()


async def test_the_same_update_twice_and_out_of_order_makes_one_request_each(
    bot: Harness,
) -> None:
    user = 6002
    await bot.client.add_user(user, "居民")
    await bot.app.desk.bind(Person(user, "居民"), "SY-2")
    runner, url = await serve_webhook(bot.app.intake)
    try:
        async with aiohttp.ClientSession() as http:
            for update_id, text in ((710002, "二号"), (710001, "一号"), (710002, "二号"),
                                    (710001, "一号"), (710002, "二号")):
                async with http.post(url, json=message_update(update_id, user, text),
                                     headers={SECRET_HEADER: WEBHOOK_SECRET}) as response:
                    assert response.status == 200
        await bot.settle()
        assert sorted(await requests_of(bot, user)) == ["一号", "二号"]
        receipts = [m for m in await bot.client.bot_messages(user) if "已收到" in m["text"]]
        assert len(receipts) == 2
    finally:
        await runner.cleanup()


async def test_a_flooding_resident_is_slowed_politely_without_slowing_others(
    bot: Harness,
) -> None:
    flooder, neighbour = 6003, 6004
    for user in (flooder, neighbour):
        await bot.client.add_user(user, "居民")
        await bot.app.desk.bind(Person(user, "居民"), "SY-1")
    for n in range(8):
        await bot.client.send(flooder, f"第{n}件事：楼下有垃圾")
    await bot.client.send(neighbour, "门禁坏了")
    await bot.client.wait_for_message(neighbour, "已收到您的诉求")
    await bot.settle(timeout=30)  # the flooder's own replies queue behind 1 message/s per chat
    assert len(await requests_of(bot, flooder)) == 5, "five requests; the rest joined the last"
    texts = [m["text"] for m in await bot.client.bot_messages(flooder)]
    assert sum("已补充到诉求" in t for t in texts) == 3
    assert len(await requests_of(bot, neighbour)) == 1


async def test_kill_9_during_a_burst_of_500_loses_and_doubles_nothing(tmp_path: Path) -> None:
    emulator = BotApiEmulator()
    url = await emulator.start()
    client = EmulatorClient(url)
    database = tmp_path / "burst.db"
    env = {**os.environ, "HUYING_TELEGRAM_TOKEN": emulator.token,
           "HUYING_TELEGRAM_API_URL": url, "HUYING_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
           "HUYING_LOG_LEVEL": "WARNING"}

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    residents = list(range(7000, 7100))  # 100 residents, 5 requests each
    bot = start()
    try:
        for user in residents:
            await client.add_user(user, f"居民{user}")
            await client.send(user, "/start SY-3")
        await client.wait_for_message(residents[-1], "已登记", timeout=60)
        sent: Counter[int] = Counter()
        for round_ in range(5):
            for user in residents:
                await client.send(user, f"第{round_}件：楼道里堆满杂物")
                sent[user] += 1
            if round_ == 1:
                bot.send_signal(signal.SIGKILL)  # mid-burst: some handled, some not
                bot.wait(timeout=10)
                bot = start()

        async def receipts(user: int) -> list[str]:
            return [m["text"] for m in await client.bot_messages(user)
                    if "已收到您的诉求" in (m.get("text") or "")]

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while loop.time() < deadline:
            counts = [len(await receipts(u)) for u in residents]
            if sum(counts) >= 500:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(1)
        for user in residents:
            mine = await receipts(user)
            numbers = [t.split("#")[1].split()[0] for t in mine]
            assert len(mine) == 5 and len(set(numbers)) == 5, (user, mine)
    finally:
        bot.kill()
        bot.wait(timeout=10)
        await client.close()
        await emulator.stop()
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM requests").fetchone()[0] == 500
        assert db.execute("SELECT count(*) FROM inbox WHERE status = 'pending'").fetchone()[0] == 0
