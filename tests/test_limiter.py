"""The shared flood limiter, driven by a virtual clock so seconds of traffic take no time."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage

from bot.emulator_state import FloodControl
from bot.limiter import FloodLimiter, send_priority

GROUP = -1001


class VirtualTime:
    """A clock and a sleep that jump straight to the next wake-up once every task is waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._serial = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, delay), next(self._serial), wake))
        await wake

    async def run(self, *coroutines: Awaitable[object]) -> list[object]:
        """Run coroutines to the end, moving time forward whenever all of them wait."""
        tasks = [asyncio.ensure_future(c) for c in coroutines]
        while not all(t.done() for t in tasks):
            for _ in range(20):  # let every runnable task reach its next wait
                await asyncio.sleep(0)
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)
            if not self._sleepers:
                continue
            at, _, wake = heapq.heappop(self._sleepers)
            self.now = max(self.now, at)
            wake.set_result(None)
        return [t.result() if t.exception() is None else t.exception() for t in tasks]


@dataclass
class Recorder:
    """Fake Bot API calls: each records when it left, when it arrived and when it was answered."""

    time: VirtualTime
    latency: Callable[[], float] = lambda: 0.0
    log: list[tuple[str, int | str, float, float]] = field(default_factory=list)

    def call(self, name: str, chat: int | str) -> Callable[[], Awaitable[str]]:
        async def send() -> str:
            started = self.time()
            total = self.latency()
            # Telegram counts the call somewhere on its way; the worst case is the question.
            arrival = started + total * random.choice((0.0, 1.0, random.random()))
            await self.time.sleep(total)
            self.log.append((name, chat, started, arrival))
            return name
        return send

    def starts(self, chat: int | str | None = None) -> list[float]:
        return [started for _, c, started, _ in self.log if chat is None or c == chat]


@pytest.fixture
def clock() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
def limiter(clock: VirtualTime) -> FloodLimiter:
    return FloodLimiter(clock=clock, sleep=clock.sleep)


def most_in_any_window(times: list[float], window: float) -> int:
    ordered = sorted(times)
    return max((sum(1 for t in ordered if start <= t < start + window) for start in ordered),
               default=0)


async def test_the_whole_bot_posts_at_most_thirty_a_second(
        clock: VirtualTime, limiter: FloodLimiter) -> None:
    calls = Recorder(clock)
    await clock.run(*(limiter.run(1000 + n, calls.call("m", 1000 + n)) for n in range(120)))
    starts = calls.starts()
    assert len(starts) == 120
    assert most_in_any_window(starts, 1.0) == 30
    # ... spread evenly rather than in bursts at the top of each second ...
    assert most_in_any_window(starts, 0.5) <= 20
    # ... and not slower: after a first burst of five, thirty a second.
    assert max(starts) == pytest.approx(115 / 30, abs=0.05)


async def test_a_private_chat_gets_a_burst_of_three_then_one_a_second(
        clock: VirtualTime, limiter: FloodLimiter) -> None:
    calls = Recorder(clock)
    await clock.run(*(limiter.run(7, calls.call(f"m{n}", 7)) for n in range(6)))
    starts = calls.starts()
    assert starts[:3] == [0.0, 0.0, 0.0]
    assert starts[3:] == pytest.approx([1.0, 2.0, 3.0], abs=0.02)
    assert [name for name, *_ in calls.log] == [f"m{n}" for n in range(6)]  # in order


async def test_a_group_gets_twenty_a_minute(clock: VirtualTime, limiter: FloodLimiter) -> None:
    calls = Recorder(clock)
    await clock.run(*(limiter.run(GROUP, calls.call("g", GROUP)) for n in range(25)))
    starts = calls.starts()
    assert all(t < 1.0 for t in starts[:20])
    assert all(60.0 <= t < 61.0 for t in starts[20:])


async def test_one_chat_waiting_does_not_hold_up_another(
        clock: VirtualTime, limiter: FloodLimiter) -> None:
    calls = Recorder(clock)
    busy = [limiter.run(7, calls.call("busy", 7)) for _ in range(5)]
    await clock.run(*busy, limiter.run(8, calls.call("other", 8)))
    assert calls.starts(8) == [0.0]


async def test_a_429_pauses_that_chat_for_exactly_retry_after(
        clock: VirtualTime, limiter: FloodLimiter) -> None:
    calls = Recorder(clock)

    async def refused() -> str:
        raise TelegramRetryAfter(method=SendMessage(chat_id=7, text="x"),
                                 message="Too Many Requests: retry after 5", retry_after=5)

    await clock.run(limiter.run(7, refused))
    await clock.run(limiter.run(7, calls.call("again", 7)), limiter.run(8, calls.call("o", 8)))
    assert calls.starts(7) == [5.0]
    assert calls.starts(8) == [0.0]


async def test_urgent_calls_overtake_a_backlog_waiting_for_the_global_limit(
        clock: VirtualTime, limiter: FloodLimiter) -> None:
    calls = Recorder(clock)

    async def routine(chat: int) -> object:
        with send_priority(5):
            return await limiter.run(chat, calls.call("routine", chat))

    async def urgent() -> object:
        await clock.sleep(0.5)
        with send_priority(0):
            return await limiter.run(99, calls.call("urgent", 99))

    await clock.run(*(routine(1000 + n) for n in range(300)), urgent())
    (urgent_start,) = calls.starts(99)
    assert urgent_start < 0.5 + 2 / 30  # ahead of ten seconds of routine messages
    assert len(calls.starts()) == 301


async def test_slow_and_uneven_answers_never_break_telegrams_limits(
        clock: VirtualTime, limiter: FloodLimiter) -> None:
    """Wherever in its round trip Telegram counts a call, the sequence stays within limits."""
    rng = random.Random(7)
    calls = Recorder(clock, latency=lambda: rng.choice((0.001, 0.01, 0.05, 0.4, 2.0)))
    chats = [1000 + n % 40 for n in range(400)] + [GROUP] * 30
    await clock.run(*(limiter.run(chat, calls.call("m", chat)) for chat in chats))
    flood = FloodControl()
    for _, chat, _, arrival in sorted(calls.log, key=lambda entry: entry[3]):
        assert flood.check(chat, arrival) is None, (chat, arrival)
        flood.record(chat, arrival)
    assert len(calls.log) == len(chats)


async def test_the_middleware_limits_posting_calls_only(
        clock: VirtualTime, limiter: FloodLimiter) -> None:
    bot = Bot("123456:TEST")
    seen: list[str] = []

    async def make_request(bot: Bot, method: object) -> object:
        seen.append(type(method).__name__)
        return True

    posts = [limiter(make_request, bot, SendMessage(chat_id=7, text="x"))  # type: ignore[arg-type]
             for _ in range(4)]
    others = [limiter(make_request, bot,  # type: ignore[arg-type]
                      EditMessageText(chat_id=7, message_id=1, text="y")),
              limiter(make_request, bot,  # type: ignore[arg-type]
                      AnswerCallbackQuery(callback_query_id="q"))]
    task = asyncio.ensure_future(clock.run(*posts, *others))
    await asyncio.sleep(0)
    for _ in range(20):
        await asyncio.sleep(0)
    # At time 0: three posts (the burst) and both other calls; the fourth post waits a second.
    assert seen.count("SendMessage") == 3
    assert {"EditMessageText", "AnswerCallbackQuery"} <= set(seen)
    await task
    assert seen.count("SendMessage") == 4 and clock.now >= 1.0
    await bot.session.close()


async def test_a_cancelled_caller_gives_up_its_place(
        clock: VirtualTime, limiter: FloodLimiter) -> None:
    calls = Recorder(clock)
    for n in range(30):
        await clock.run(limiter.run(1000 + n, calls.call("fill", 1000 + n)))
    waiting = asyncio.ensure_future(limiter.run(2000, calls.call("cancelled", 2000)))
    for _ in range(5):
        await asyncio.sleep(0)
    assert limiter.waiting() == 1
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert limiter.waiting() == 0
    await clock.run(limiter.run(2001, calls.call("next", 2001)))
    assert calls.starts(2001) == pytest.approx([1.0], abs=0.01)
    assert calls.starts(2000) == []
