"""The whole intake path against a bare aiogram echo bot, on the same local emulator.

    .venv/bin/python bench/intake.py [--requests 2000] [--residents 500] [--pg URL]

For huying: 2,000 messages from 500 residents; each is done when its request is stored,
classified and routed and both the resident's receipt and the worker's notification were
accepted by the emulator (the outbox's sent_at). The echo bot is done when its reply was
accepted. Both run with rate limits off: the emulator enforces none and huying's own limiter is
disabled, so what is measured is the program, not Telegram's 30 messages a second. Each
scenario runs in its own process so that peak memory (max RSS) is its own, and the emulator
runs in a process of its own too, as Telegram's servers do not share the bot's CPU
(`--same-process` puts it back in the bot's process, as it was measured at first).

A third bot, the echo bot that also copies each message to a worker's chat, is the floor for
huying's traffic: what aiogram alone costs to take one message in and send two out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.emulator import BotApiEmulator  # noqa: E402
from bot.emulator_client import EmulatorClient  # noqa: E402

CONCURRENCY = 64
ECHO_WORKER = 9_999
"""The worker's chat the echo bot copies each message to in the "echo2" scenario."""


@contextlib.asynccontextmanager
async def telegram(same_process: bool) -> AsyncIterator[tuple[str, str]]:
    """A Bot API emulator; yields (url, token)."""
    if same_process:
        emulator = BotApiEmulator()
        url = await emulator.start()
        try:
            yield url, emulator.token
        finally:
            await emulator.stop()
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.emulator", "--port", str(port), cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}", "123456:EMULATOR"
    finally:
        process.terminate()
        await process.wait()


def org_file(folder: Path, grids: int = 50) -> Path:
    """A deployment with many grids, so that workers' chats are not the bottleneck."""
    lines = ["name: bench", "timezone: Asia/Shanghai",
             "sla: {urgent: {acknowledge: 15m, resolve: 4h}, normal: {acknowledge: 2h, "
             "resolve: 1d}, low: {acknowledge: 1d, resolve: 5d}}",
             "district:", "  id: d", "  name: 区", "  supervisors: [{name: 区长, telegram_id: 3}]",
             "  towns:", "    - id: t", "      name: 街道", "      communities:",
             "        - id: c", "          name: 社区", "          grids:"]
    for g in range(grids):
        lines += [f"            - id: g{g}", f"              name: 第{g}网格",
                  f"              workers: [{{name: 网格员{g}, telegram_id: {10_000 + g}}}]",
                  f"              buildings: [{{code: B{g}, name: {g}号楼}}]"]
    path = folder / "bench.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


TEXTS = ["楼道灯坏了好几天了", "小区门口垃圾没人清", "楼上装修太吵了", "电梯又停了",
         "路灯不亮晚上很黑", "停车位被占了", "请问居住证怎么办理", "暖气不热"]


async def inject(client: EmulatorClient, messages: list[tuple[int, str]]) -> dict[str, float]:
    """Send every message as fast as the emulator takes them; returns text -> send time."""
    sent: dict[str, float] = {}
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(user: int, text: str) -> None:
        async with gate:
            sent[text] = time.perf_counter()
            await client.send(user, text)

    await asyncio.gather(*(one(u, t) for u, t in messages))
    return sent


def messages_for(residents: int, total: int) -> list[tuple[int, str]]:
    users = [200_000 + i for i in range(residents)]
    return [(users[i % residents], f"{TEXTS[i % len(TEXTS)]}（{i}）") for i in range(total)]


def summary(name: str, started: float, sent: dict[str, float], done: dict[str, float],
            cpu_started: float) -> dict[str, Any]:
    """`cpu_started`: this process's CPU time when the burst began (the bot's own work plus
    the little the injecting client costs, the same for both bots)."""
    latencies = sorted((done[t] - sent[t]) * 1000 for t in done if t in sent)
    finished = max(done.values())
    return {"name": name, "count": len(latencies),
            "rate": len(latencies) / (finished - started),
            "p50": latencies[len(latencies) // 2],
            "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)],
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "cpu_ms": (time.process_time() - cpu_started) * 1000 / max(1, len(latencies)),
            "wall_s": finished - started}


async def run_echo(total: int, residents: int, same_process: bool,
                   worker: bool = False) -> dict[str, Any]:
    async with telegram(same_process) as (url, token):
        return await _run_echo(total, residents, url, token, worker)


async def _run_echo(total: int, residents: int, url: str, token: str,
                    worker: bool) -> dict[str, Any]:
    """The bare echo bot; with `worker`, each message is also sent on to a worker's chat: the
    two messages huying sends for a request, with no database, no classifier and no outbox
    (what aiogram alone costs for huying's traffic)."""
    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import Message

    client = EmulatorClient(url)
    messages = messages_for(residents, total)
    for user in sorted({u for u, _ in messages}):
        await client.add_user(user, "居民")
    await client.add_user(ECHO_WORKER, "网格员")
    done: dict[str, float] = {}
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(url)))
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")
        if worker:
            await bot.send_message(ECHO_WORKER, message.text or "")
        done[message.text or ""] = time.perf_counter()

    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False))
    started, cpu_started = time.perf_counter(), time.process_time()
    sent = await inject(client, messages)
    while len(done) < total:
        await asyncio.sleep(0.05)
    name = "echo + worker's copy" if worker else "aiogram echo bot"
    result = summary(name, started, sent, done, cpu_started)
    await dp.stop_polling()
    await polling
    await bot.session.close()
    await client.close()
    return result


async def run_huying(total: int, residents: int, database_url: str,
                     same_process: bool) -> dict[str, Any]:
    from storage.db import empty_postgres_schema

    if database_url.startswith("postgresql"):
        await empty_postgres_schema(database_url)
    async with telegram(same_process) as (url, token):
        return await _run_huying(total, residents, database_url, url, token)


async def _run_huying(total: int, residents: int, database_url: str, url: str,
                      token: str) -> dict[str, Any]:
    from pydantic import SecretStr
    from sqlalchemy import func, select

    from bot.app import build_app
    from bot.settings import Settings
    from storage.models import OutboxMessage, Request

    folder = Path(tempfile.mkdtemp())
    client = EmulatorClient(url)
    app = await build_app(Settings(
        telegram_token=SecretStr(token), telegram_api_url=url,
        database_url=database_url, config=org_file(folder), rate_limits=False))
    messages = messages_for(residents, total)
    users = sorted({u for u, _ in messages})
    for g in range(50):
        await client.add_user(10_000 + g, f"网格员{g}")
    from routing.desk import Person

    for i, user in enumerate(users):
        await client.add_user(user, "居民")
        await app.desk.bind(Person(user, "居民"), f"B{i % 50}")
    await app.start_background()
    polling = asyncio.create_task(app.intake.run_polling())
    started, cpu_started = time.perf_counter(), time.process_time()
    sent = await inject(client, messages)
    done: dict[str, float] = {}
    stored_at = None
    while True:  # watching costs little: two counts, twice a second, beside the writer
        async with app.uow().reading() as uow:
            pending = await uow.outbox.count("pending") + await uow.outbox.count("sending")
            stored = (await uow.session.execute(select(func.count(Request.id)))).scalar_one()
        if stored >= total and stored_at is None:
            stored_at = time.perf_counter() - started
        if stored >= total and pending == 0:
            break
        await asyncio.sleep(0.5)
    # Done = the later of the receipt's and the notification's sent_at, on the perf clock.
    offset = time.perf_counter() - time.time()
    async with app.uow() as uow:
        rows = (await uow.session.execute(
            select(Request.text, OutboxMessage.sent_at)
            .join(OutboxMessage, OutboxMessage.request_id == Request.id))).all()
    for text_, sent_at in rows:
        if sent_at is not None:
            moment = sent_at.timestamp() + offset
            done[text_] = max(done.get(text_, 0.0), moment)
    result = summary(f"huying on {database_url.split(':')[0].split('+')[0]}", started, sent,
                     done, cpu_started)
    result["stored_s"] = stored_at
    await app.intake.stop()
    polling.cancel()
    await app.close()
    await client.close()
    return result


def scenario(args: argparse.Namespace) -> dict[str, Any]:
    if args.scenario in ("echo", "echo2"):
        return asyncio.run(run_echo(args.requests, args.residents, args.same_process,
                                    worker=args.scenario == "echo2"))
    return asyncio.run(run_huying(args.requests, args.residents, args.scenario,
                                  args.same_process))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--residents", type=int, default=500)
    parser.add_argument("--pg", default=os.environ.get("HUYING_BENCH_PG_URL"))
    parser.add_argument("--same-process", action="store_true",
                        help="run the emulator in the bot's process")
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:
        print(json.dumps(scenario(args)))
        return
    folder = tempfile.mkdtemp()
    scenarios = ["echo", "echo2", f"sqlite+aiosqlite:///{folder}/intake.db"]
    if args.pg:
        scenarios.append(args.pg)
    results = []
    for name in scenarios:
        out = subprocess.run([sys.executable, __file__, "--scenario", name, "--requests",
                              str(args.requests), "--residents", str(args.residents)]
                             + (["--same-process"] if args.same_process else []),
                             capture_output=True, text=True, timeout=1800)
        if out.returncode != 0:
            print(f"{name}: failed\n{out.stderr[-2000:]}")
            continue
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    echo = next((r for r in results if r["name"] == "aiogram echo bot"), None)
    print(f"{args.requests} messages from {args.residents} residents, limits off")
    for r in results:
        ratio = f", {r['rate'] / echo['rate']:.2f}× the echo bot" if echo and r is not echo else ""
        print(f"  {r['name']:<22} {r['rate']:7.1f} msg/s  p50 {r['p50']:7.0f} ms  "
              f"p99 {r['p99']:7.0f} ms  peak RSS {r['rss_mb']:.0f} MB  "
              f"CPU {r['cpu_ms']:.1f} ms/msg{ratio}"
              + (f"  (all stored after {r['stored_s']:.1f} s)" if r.get("stored_s") else ""))


if __name__ == "__main__":
    main()
