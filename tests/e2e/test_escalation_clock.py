"""Time through the whole program: APScheduler climbs the ladder, kill -9 loses nothing, and two
processes on one PostgreSQL database never alert twice."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.app import build_app
from bot.emulator import BotApiEmulator
from bot.emulator_client import EmulatorClient
from bot.harness import Harness, running_bot
from bot.settings import Settings, example_config
from routing.desk import Incoming, Person

RESIDENT, WORKER = 5301, 100001
BOSSES = {"community": 700001, "town": 800001, "district": 900001}
AUTO = "已自动上报"


def fast_config(tmp_path: Path, ack: str = "2s") -> Path:
    """The example deployment with windows of seconds."""
    text = example_config().read_text(encoding="utf-8")
    text = re.sub(r"(urgent|normal|low):\s*\{acknowledge: [^,]+, resolve: [^}]+\}",
                  lambda m: f"{m.group(1)}: {{acknowledge: {ack}, resolve: 30s}}", text)
    path = tmp_path / "fast.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def alerts(client: EmulatorClient, chat: int) -> list[str]:
    return [m["text"] for m in await client.bot_messages(chat) if AUTO in (m.get("text") or "")]


async def wait_until(check: object, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


@pytest.fixture
async def fast_bot(database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(database_url, config=fast_config(tmp_path)) as harness:
        yield harness


async def test_a_request_nobody_accepts_climbs_to_the_district_on_the_scheduler(
    fast_bot: Harness,
) -> None:
    c = fast_bot.client
    for uid in (RESIDENT, WORKER, *BOSSES.values()):
        await c.add_user(uid, str(uid))
    await c.send(RESIDENT, "/start SY-1")
    await c.wait_for_message(RESIDENT, "已登记")
    await c.send(RESIDENT, "楼道里的灯坏了好几天了")
    await c.wait_for_message(WORKER, "新诉求")
    await c.wait_for_message(BOSSES["district"], AUTO, timeout=15)
    await fast_bot.settle()
    for chat in BOSSES.values():
        assert len(await alerts(c, chat)) == 1, f"exactly one alert for {chat}"
    reminders = [m for m in await c.bot_messages(WORKER) if "⏰" in (m.get("text") or "")]
    assert len(reminders) == 1, "the grid worker is reminded once, at half the window"
    told = [m for m in await c.bot_messages(RESIDENT) if "协调办理" in (m.get("text") or "")]
    assert len(told) == 3, "the resident hears of each level, in kind words"


async def test_kill_9_before_the_deadlines_loses_nothing_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    emulator = BotApiEmulator()
    url = await emulator.start()
    client = EmulatorClient(url)
    env = {**os.environ, "HUYING_TELEGRAM_TOKEN": emulator.token,
           "HUYING_TELEGRAM_API_URL": url, "HUYING_CONFIG": str(fast_config(tmp_path, "3s")),
           "HUYING_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
           "HUYING_LOG_LEVEL": "WARNING"}

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    bot = start()
    try:
        for uid in (RESIDENT, WORKER, *BOSSES.values()):
            await client.add_user(uid, str(uid))
        await client.send(RESIDENT, "/start SY-1")
        await client.wait_for_message(RESIDENT, "已登记", timeout=30)
        await client.send(RESIDENT, "单元门的门禁坏了")
        await client.wait_for_message(WORKER, "新诉求")
        # Kill once the receipt and the task are recorded as sent: a kill between Telegram
        # accepting a message and our recording it may repeat that one message (documented).
        database = tmp_path / "bot.db"
        for _ in range(50):
            with sqlite3.connect(database) as db:
                busy = db.execute("SELECT count(*) FROM outbox WHERE status IN "
                                  "('pending', 'sending')").fetchone()[0]
            if busy == 0:
                break
            await asyncio.sleep(0.05)
        bot.send_signal(signal.SIGKILL)
        bot.wait(timeout=10)
        await asyncio.sleep(4)  # the reminder and the first escalation fall due while down
        bot = start()
        await client.wait_for_message(BOSSES["district"], AUTO, timeout=40)
        await asyncio.sleep(1.5)
        for chat in BOSSES.values():
            assert len(await alerts(client, chat)) == 1
        reminders = [m["text"] for m in await client.bot_messages(WORKER) if "⏰" in m["text"]]
        assert len(reminders) == 1 and "晚了" in reminders[0], "late, but not lost or twice"
        receipts = [m for m in await client.bot_messages(RESIDENT) if "已收到" in m["text"]]
        assert len(receipts) == 1
    finally:
        bot.kill()
        bot.wait(timeout=10)
        await client.close()
        await emulator.stop()


@pytest.mark.postgres
async def test_two_processes_on_one_postgres_database_alert_each_level_once(
    database_url: str, tmp_path: Path,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the two-process case is about PostgreSQL; SQLite refuses a second process")
    emulator = BotApiEmulator()
    url = await emulator.start()
    client = EmulatorClient(url)
    settings = Settings(telegram_token=SecretStr(emulator.token), telegram_api_url=url,
                        database_url=database_url, config=fast_config(tmp_path, "4s"))
    first, second = await build_app(settings), await build_app(settings)
    try:
        for uid in (*range(RESIDENT, RESIDENT + 5), WORKER, *BOSSES.values()):
            await client.add_user(uid, str(uid))
        await first.start_background()
        await second.start_background()
        # Five different problems: the same one five times would be linked as one request.
        problems = ["楼道灯坏了一个星期", "垃圾桶满了没人清", "门口停车位被僵尸车占了",
                    "楼上装修天天吵到晚上", "单元门门禁刷不开"]
        for n, problem in enumerate(problems):
            person = Person(RESIDENT + n, f"居民{n}")
            await first.desk.bind(person, "SY-1")
            await (first if n % 2 else second).desk.submit(person, Incoming(problem))

        async def all_at_district() -> bool:
            return len(await alerts(client, BOSSES["district"])) >= 5

        # Each supervisor chat receives at most 1 message a second (Telegram's limit, kept by
        # each process), so five alerts plus reminders take a while to reach the district.
        await wait_until(all_at_district, timeout=45)
        await asyncio.sleep(1.5)
        for chat in BOSSES.values():
            texts = await alerts(client, chat)
            numbers = [re.search(r"#(\d+)", t).group(1) for t in texts]  # type: ignore[union-attr]
            assert sorted(numbers) == sorted(set(numbers)) and len(numbers) == 5, chat
    finally:
        await first.close()
        await second.close()
        await client.close()
        await emulator.stop()


async def test_a_second_process_on_the_same_sqlite_file_refuses_to_start(tmp_path: Path) -> None:
    from bot.process_lock import ProcessLock

    url = f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"
    held = ProcessLock.for_database(url)
    try:
        with pytest.raises(SystemExit, match="another huying process"):
            ProcessLock.for_database(url)
    finally:
        assert held is not None
        held.release()
    again = ProcessLock.for_database(url)
    assert again is not None
    again.release()
