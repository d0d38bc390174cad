"""How fast the outbox drains under Telegram's limits, and how soon an urgent message passes.

    .venv/bin/python bench/outbox.py [--chats 300] [--per-chat 10] [--pg postgresql+asyncpg://…]

Starts the emulator with Telegram's limits enforced and the whole bot against it (SQLite by
default; with --pg the given database is emptied first), queues chats × per-chat routine
notifications in one transaction, and `--urgent-after` seconds later one urgent notification
to a chat that still has routine ones waiting. Prints the time to drain, the messages per
second achieved against the 30/s ceiling (aim: 95% of it), the 429s the bot received (aim:
none), the limit violations the emulator saw, and how long the urgent message took (aim:
under 2 seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from bot.harness import Harness, running_bot  # noqa: E402
from bot.limiter import TELEGRAM_LIMITS  # noqa: E402
from routing.notices import Priority  # noqa: E402
from storage.db import empty_postgres_schema  # noqa: E402
from storage.models import OutboxMessage  # noqa: E402

FIRST_CHAT = 500001
URGENT_MARK = "URGENT-BENCH"
POLL_S = 0.005


@dataclass
class Figures:
    """What one run measured."""

    messages: int
    drain_s: float
    too_many_requests: int
    violations: int
    urgent_s: float
    urgent_backlog: int

    @property
    def rate(self) -> float:
        return self.messages / self.drain_s



def notice(chat: int, label: str, priority: int, now: object) -> OutboxMessage:
    """An alarm-style notice: it renders without a request behind it."""
    payload = {"kind": "audit_failed", "count": 1, "problems": [label]}
    return OutboxMessage(chat_id=chat, kind="audit_failed", language="zh", payload=payload,
                         request_id=None, priority=priority, status="pending", attempts=0,
                         not_before=now, created_at=now)


async def queue(bench: Harness, rows: list[OutboxMessage]) -> None:
    """Add rows in one transaction and wake the sender, as a use case's commit does."""
    async with bench.app.uow() as uow:
        for row in rows:
            uow.outbox.add(row)
        await uow.commit()
    bench.app.sender.wake()


def delivered(bench: Harness) -> int:
    return sum(bench.emulator.hostility.stats.delivered.values())


def urgent_arrived(bench: Harness, chat: int) -> bool:
    log = bench.emulator.state.chats.get(chat)
    return log is not None and any(URGENT_MARK in (m.text or "") for m in log.messages)


async def measure(url: str, chats: int, per_chat: int, urgent_after: float) -> Figures:
    async with running_bot(url) as bench:
        ids = [FIRST_CHAT + n for n in range(chats)]
        for chat in ids:
            await bench.client.add_user(chat, f"居民{chat}")
        await bench.client.set_faults(enforce_limits=True)
        total = chats * per_chat
        now = bench.clock()
        # Interleaved, as a district-wide notice reaches everyone in waves.
        backlog = [notice(ids[n % chats], f"routine {n}", Priority.ROUTINE, now)
                   for n in range(total)]
        loop = asyncio.get_running_loop()
        started = loop.time()
        await queue(bench, backlog)
        urgent_chat = ids[chats // 2]
        urgent_queued = urgent_done = None
        waiting = 0
        while delivered(bench) < total + 1:
            elapsed = loop.time() - started
            if urgent_queued is None and elapsed >= urgent_after:
                waiting = total - delivered(bench)
                urgent_queued = loop.time()  # its insert waits its turn at the database too
                await queue(bench, [notice(urgent_chat, URGENT_MARK, Priority.URGENT,
                                           bench.clock())])
            if urgent_queued is not None and urgent_done is None \
                    and urgent_arrived(bench, urgent_chat):
                urgent_done = loop.time()
            if elapsed > 10 * total / TELEGRAM_LIMITS.global_calls + 60:
                raise SystemExit(f"gave up: {delivered(bench)} of {total + 1} delivered")
            await asyncio.sleep(POLL_S)
        finished = loop.time()
        if urgent_done is None:
            urgent_done = finished
        stats = bench.emulator.hostility.stats
        return Figures(messages=total + 1, drain_s=finished - started,
                       too_many_requests=stats.too_many_requests,
                       violations=len(bench.emulator.hostility.violations),
                       urgent_s=urgent_done - (urgent_queued or finished),
                       urgent_backlog=waiting)


def report(database: str, chats: int, per_chat: int, figures: Figures) -> None:
    ceiling = TELEGRAM_LIMITS.global_calls / TELEGRAM_LIMITS.global_window_s
    share = figures.rate / ceiling
    print(f"outbox drain on {database}: {chats * per_chat} routine notifications to {chats} "
          f"chats (+1 urgent), Telegram's limits enforced by the emulator")
    print(f"  time to drain            {figures.drain_s:8.2f} s")
    print(f"  messages per second      {figures.rate:8.2f} /s   ({share:.1%} of the "
          f"{ceiling:.0f}/s ceiling; aim 95%: {'met' if share >= 0.95 else 'MISSED'})")
    print(f"  429s received            {figures.too_many_requests:8d}     "
          f"(aim 0: {'met' if figures.too_many_requests == 0 else 'MISSED'})")
    print(f"  limit violations seen    {figures.violations:8d}")
    print(f"  urgent delivered after   {figures.urgent_s:8.2f} s   (queued behind "
          f"{figures.urgent_backlog} routine; aim < 2 s: "
          f"{'met' if figures.urgent_s < 2 else 'MISSED'})")


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=300)
    parser.add_argument("--per-chat", type=int, default=10)
    parser.add_argument("--urgent-after", type=float, default=20.0,
                        help="seconds after the backlog is queued (default 20)")
    parser.add_argument("--pg", metavar="URL", help="PostgreSQL URL (its schema is emptied)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.pg:
        await empty_postgres_schema(args.pg)
        figures = await measure(args.pg, args.chats, args.per_chat, args.urgent_after)
        report("PostgreSQL", args.chats, args.per_chat, figures)
        return
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        figures = await measure(url, args.chats, args.per_chat, args.urgent_after)
        report("SQLite", args.chats, args.per_chat, figures)


if __name__ == "__main__":
    asyncio.run(main())
