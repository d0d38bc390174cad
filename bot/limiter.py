"""One limiter for every Bot API call, so the bot as a whole keeps Telegram's flood limits.

Telegram counts a call when it arrives; the bot only knows when it sent the call and when the
answer came back. The limiter therefore assumes the worst: a call may have arrived at any
moment between the two. A window counts a call from the moment it is let through until the
window's length after its answer, and a chat's token bucket charges the call at its answer
time while refilling only from the next call's start. Whatever the network delay, and however
a stalled event loop bunches calls together on their way, the sequence Telegram sees then
keeps the limits. The price is the round trip: at 10 ms a call the bot reaches about 29.7 of
Telegram's 30 messages a second.

Posting calls wait, in order per chat, until their chat and the bot as a whole may post again;
calls waiting for the global limit go in order of priority (see ``send_priority``), so an
urgent notification passes a backlog of routine ones. Other calls (edits, callback answers,
getUpdates) pass straight through.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
ChatKey = int | str

# The Bot API methods that post a message and so count towards Telegram's limits; an album
# (sendMediaGroup) counts once.
COUNTED_METHODS = frozenset({
    "sendMessage", "sendPhoto", "sendVoice", "sendDocument", "sendLocation", "sendMediaGroup",
    "copyMessage", "forwardMessage",
})
# Calls made outside the sender (replies in handlers) answer someone who is waiting.
INTERACTIVE_PRIORITY = 0
# A little slack on every answer time, so rounding never puts a call on the wrong side.
MARGIN_S = 0.005
SWEEP_EVERY = 1000
# Calls that may go at once after a quiet spell before the global pace applies.
PACE_BURST = 5


@dataclass(frozen=True, slots=True)
class FloodLimits:
    """Telegram's limits on posting messages; the emulator enforces the same numbers."""

    global_calls: int = 30  # in any sliding window of global_window_s, over all chats
    global_window_s: float = 1.0
    private_burst: int = 3  # a private chat's token bucket: capacity ...
    private_per_s: float = 1.0  # ... refilled at this rate
    group_calls: int = 20  # in any sliding window of group_window_s, per group
    group_window_s: float = 60.0


TELEGRAM_LIMITS = FloodLimits()


def is_private(chat_id: ChatKey) -> bool:
    """Private chats have positive ids; groups, supergroups and channels negative or @names."""
    return isinstance(chat_id, int) and chat_id > 0


def chat_key(value: object) -> ChatKey | None:
    """A call's chat_id as the limiter keys it: an int when it is one, else the @username."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    with contextlib.suppress(ValueError):
        return int(text)
    return text


_priority: ContextVar[int] = ContextVar("huying_send_priority", default=INTERACTIVE_PRIORITY)


@contextlib.contextmanager
def send_priority(priority: int) -> Iterator[None]:
    """Calls made inside this block wait for the global limit at this priority (lower first)."""
    token = _priority.set(priority)
    try:
        yield
    finally:
        _priority.reset(token)


class _Window:
    """A sliding window that counts a call from its start until the window after its answer."""

    def __init__(self, capacity: int, window_s: float) -> None:
        self.capacity = capacity
        self.window_s = window_s
        self.in_flight = 0
        self.answered: deque[float] = deque()

    def delay(self, now: float) -> float | None:
        """Seconds until one more call may start; None while only an answer can free a slot."""
        while self.answered and self.answered[0] <= now - self.window_s:
            self.answered.popleft()
        over = self.in_flight + len(self.answered) - self.capacity
        if over < 0:
            return 0.0
        if over >= len(self.answered):
            return None
        return self.answered[over] + self.window_s - now

    def start(self) -> None:
        self.in_flight += 1

    def finish(self, now: float) -> None:
        self.in_flight -= 1
        self.answered.append(now + MARGIN_S)

    def idle(self, now: float) -> bool:
        return self.in_flight == 0 and self.delay(now) == 0.0 and not self.answered


class _Bucket:
    """A token bucket kept on the safe side: charged at answers, refilled from starts.

    Telegram's bucket (capacity b, rate r) accepts calls arriving at a_1 <= ... <= a_n iff,
    for all i <= j, j - i + 1 <= b + r * (a_j - a_i). Call j only knows a_j >= s_j (its start)
    and a_i <= e_i (the earlier answers), so it waits until s_j >= e_i + (j - i + 1 - b) / r
    for every i; `earliest` keeps that maximum, updated after each answer.
    """

    def __init__(self, burst: int, per_s: float) -> None:
        self.burst = burst
        self.per_s = per_s
        self.earliest = -math.inf

    def delay(self, now: float) -> float:
        wait = self.earliest - now
        # Within a burst a call need not wait at all; a call that must wait keeps a margin.
        return wait + MARGIN_S if wait > 0 else 0.0

    def finish(self, now: float) -> None:
        self.earliest = max(self.earliest + 1 / self.per_s, now + (2 - self.burst) / self.per_s)

    def idle(self, now: float) -> bool:
        # Once this far behind, the old bound can no longer decide anything.
        return self.earliest <= now - (self.burst - 1) / self.per_s


class _Pace:
    """Spreads calls evenly over the window (GCRA), allowing a short burst after a pause.

    The window alone would let a backlog out in bursts of 30 at the top of each second, and
    an urgent call arriving just after one would wait for the next second; spread out, it
    waits a thirtieth of a second. Pacing on a schedule rather than on the last call keeps a
    late wake-up from slowing every call after it.
    """

    def __init__(self, interval_s: float, burst: int) -> None:
        self.interval_s = interval_s
        self.tolerance_s = (burst - 1) * interval_s
        self.due = -math.inf  # when the next call would be on schedule

    def delay(self, now: float) -> float:
        return max(0.0, self.due - self.tolerance_s - now)

    def start(self, now: float) -> None:
        self.due = max(self.due, now) + self.interval_s


@dataclass
class _Chat:
    """One chat's lane: its calls go one at a time, in the order they asked."""

    lock: asyncio.Lock
    bucket: _Bucket | None
    window: _Window | None
    blocked_until: float = -math.inf
    users: int = 0

    def delay(self, now: float) -> float:
        waits = [self.blocked_until - now]
        if self.bucket is not None:
            waits.append(self.bucket.delay(now))
        if self.window is not None:
            # Only this lane posts to the chat, so nothing of it is in flight here.
            waits.append(self.window.delay(now) or 0.0)
        return max(0.0, *waits)

    def start(self) -> None:
        if self.window is not None:
            self.window.start()

    def finish(self, now: float) -> None:
        if self.bucket is not None:
            self.bucket.finish(now)
        if self.window is not None:
            self.window.finish(now)

    def idle(self, now: float) -> bool:
        return (self.users == 0 and self.blocked_until <= now
                and (self.bucket is None or self.bucket.idle(now))
                and (self.window is None or self.window.idle(now)))


@dataclass(order=True)
class _Ticket:
    """A call waiting for the global limit: lower priority first, then first come."""

    priority: int
    serial: int
    turn: asyncio.Event = field(compare=False, default_factory=asyncio.Event)


class FloodLimiter(BaseRequestMiddleware):
    """Makes every posting call wait until Telegram's limits allow it (aiogram middleware)."""

    def __init__(self, limits: FloodLimits = TELEGRAM_LIMITS, *, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self._global = _Window(limits.global_calls, limits.global_window_s)
        self._pace = _Pace(limits.global_window_s / limits.global_calls, PACE_BURST)
        self._chats: dict[ChatKey, _Chat] = {}
        self._queue: list[_Ticket] = []
        self._serial = itertools.count()
        self._answered = asyncio.Event()
        self._calls = 0

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """Let a call through aiogram's session once the limits allow it."""
        chat = chat_key(getattr(method, "chat_id", None))
        if method.__api_method__ not in COUNTED_METHODS or chat is None:
            return await make_request(bot, method)
        return await self.run(chat, lambda: make_request(bot, method))

    async def run(self, chat_id: ChatKey, call: Callable[[], Awaitable[T]],
                  priority: int | None = None) -> T:
        """Make one posting call to a chat when the limits allow it; a 429 pauses the chat."""
        lane = self._lane(chat_id)
        lane.users += 1
        try:
            async with lane.lock:
                while (delay := lane.delay(self._clock())) > 0:
                    await self._sleep(delay)
                await self._admit(_priority.get() if priority is None else priority)
                lane.start()
                try:
                    return await call()
                except TelegramRetryAfter as error:
                    # Telegram names no limit; pausing the chat for exactly that long is safe
                    # because the global window already counts every call, 429s included.
                    lane.blocked_until = max(lane.blocked_until,
                                             self._clock() + error.retry_after)
                    raise
                finally:
                    now = self._clock()
                    self._global.finish(now)
                    lane.finish(now)
                    self._answered.set()
                    self._answered = asyncio.Event()
        finally:
            lane.users -= 1
            self._forget_idle_chats(chat_id)

    def waiting(self) -> int:
        """How many calls wait for the global limit right now."""
        return len(self._queue)

    def _forget_idle_chats(self, chat_id: ChatKey) -> None:
        """Drop the state of chats whose past can no longer delay anything."""
        now = self._clock()
        self._calls += 1
        if self._calls % SWEEP_EVERY == 0:
            for key in [key for key, lane in self._chats.items() if lane.idle(now)]:
                del self._chats[key]
        else:
            lane = self._chats.get(chat_id)
            if lane is not None and lane.idle(now):
                del self._chats[chat_id]

    def _lane(self, chat_id: ChatKey) -> _Chat:
        lane = self._chats.get(chat_id)
        if lane is None:
            limits = self.limits
            private = is_private(chat_id)
            lane = _Chat(
                lock=asyncio.Lock(),
                bucket=_Bucket(limits.private_burst, limits.private_per_s) if private else None,
                window=None if private else _Window(limits.group_calls, limits.group_window_s),
            )
            self._chats[chat_id] = lane
        return lane

    async def _admit(self, priority: int) -> None:
        """Wait for a place in the global window, taking turns by priority."""
        ticket = _Ticket(priority, next(self._serial))
        heapq.heappush(self._queue, ticket)
        try:
            while True:
                if self._queue[0] is not ticket:
                    ticket.turn.clear()
                    await ticket.turn.wait()
                    continue
                now = self._clock()
                delay = self._global.delay(now)
                if delay is not None:
                    delay = max(delay, self._pace.delay(now))
                if delay == 0.0:
                    heapq.heappop(self._queue)
                    self._global.start()
                    self._pace.start(now)
                    self._pass_turn()
                    return
                await self._pause(delay, self._answered)
        except BaseException:
            if ticket in self._queue:
                self._queue.remove(ticket)
                heapq.heapify(self._queue)
                self._pass_turn()
            raise

    def _pass_turn(self) -> None:
        if self._queue:
            self._queue[0].turn.set()

    async def _pause(self, delay: float | None, answered: asyncio.Event) -> None:
        """Sleep for `delay` (None: for ever) or until an answer frees a slot."""
        waits: list[asyncio.Future[object]] = [asyncio.ensure_future(answered.wait())]
        if delay is not None:
            waits.append(asyncio.ensure_future(self._sleep(delay)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
