"""The outbox sender: delivers what use cases queued, most urgent first, and records the result.

```
 outbox (pending) ──claim, by priority──▶ one lane per chat ──FloodLimiter──▶ Telegram
        ▲                                   │ a chat's rows one at a time, in order
        └── 429: after retry_after ◀────────┤ sent / undeliverable / failed: recorded
            5xx, network: after backoff ◀───┘
```

Many chats are served at once so that the bot reaches Telegram's 30 messages a second, but
only as many as keep about a second's worth of messages waiting at the limiter: an urgent row
queued behind thousands of routine ones is claimed at the next free lane and passes them at
the limiter. A chat has at most one row claimed at a time, so the rows of one chat go out in
order and a crash between sending and recording repeats at most one message per chat.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import Message

from bot.limiter import send_priority
from handlers.render import Rendered, Renderer
from storage.group import GroupCommit
from storage.lease import AdvisoryLease
from storage.models import OutboxMessage
from storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 300
IDLE_WAKEUP_S = 5.0
BUSY_WAKEUP_S = 0.5
STALE_CLAIM_S = 120
LEASE_RETRY_S = 5.0  # how often a standby process tries to take over sending
# About a second of messages at 30/s: enough chats to keep the limiter busy, few enough that
# an urgent row waits at most that long for its chat's earlier message to clear.
MAX_ACTIVE_CHATS = 30
REQUEST_TIMEOUT_S = 10
STOP_GRACE_S = 3.0
MAX_MESSAGE_LENGTH = 4096
# Payload key: how many parts of a long text are already delivered, so a retry sends the rest.
PARTS_SENT = "_parts_sent"
TRANSIENT_ERRORS = (TelegramNetworkError, TelegramServerError, ClientDecodeError, OSError,
                    TimeoutError)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's length limits."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """Cut a text into messages of at most `limit`, at line ends (within a line only if it
    alone is too long); blank parts, which Telegram would refuse, are left out."""
    if utf16_len(text) <= limit:
        return [text]
    parts: list[str] = []
    lines: list[str] = []
    size = 0
    for line in text.split("\n"):
        for piece in _cut_line(line, limit):
            cost = utf16_len(piece) + (1 if lines else 0)
            if lines and size + cost > limit:
                parts.append("\n".join(lines))
                lines, size, cost = [], 0, utf16_len(piece)
            lines.append(piece)
            size += cost
    parts.append("\n".join(lines))
    return [part for part in parts if part.strip()]


def _cut_line(line: str, limit: int) -> list[str]:
    """A line as pieces of at most `limit` UTF-16 units, never splitting a character."""
    pieces: list[str] = []
    start = size = 0
    for index, char in enumerate(line):
        width = 2 if ord(char) > 0xFFFF else 1
        if size + width > limit:
            pieces.append(line[start:index])
            start, size = index, 0
        size += width
    pieces.append(line[start:])
    return pieces


@dataclass(frozen=True, slots=True)
class _Job:
    """What the sender needs of one claimed outbox row."""

    id: int
    chat_id: int
    payload: dict[str, Any]
    language: str
    priority: int
    attempts: int
    request_id: int | None

    @classmethod
    def of(cls, row: OutboxMessage) -> _Job:
        return cls(id=row.id, chat_id=row.chat_id, payload=dict(row.payload),
                   language=row.language, priority=row.priority, attempts=row.attempts,
                   request_id=row.request_id)


@dataclass
class _Lane:
    """One chat being served: its claimed rows, sent one after another by one task."""

    jobs: deque[_Job] = field(default_factory=deque)
    task: asyncio.Task[int] | None = None


class OutboxSender:
    """Drains the outbox; a failed delivery waits and is retried, never dropped silently."""

    def __init__(
        self,
        bot: Bot,
        uow: UnitOfWorkFactory,
        renderer: Renderer,
        clock: Callable[[], datetime],
        batch: int = 20,
        stale_claim_s: float = STALE_CLAIM_S,
        *,
        max_chats: int = MAX_ACTIVE_CHATS,
        request_timeout: int = REQUEST_TIMEOUT_S,
        max_backoff_s: float = MAX_BACKOFF_S,
        lease: AdvisoryLease | None = None,
    ) -> None:
        self.stale_claim_s = stale_claim_s
        self.bot = bot
        self.uow = uow
        self.renderer = renderer
        self.clock = clock
        self.batch = batch
        self.max_chats = max_chats
        self.request_timeout = request_timeout
        self.max_backoff_s = max_backoff_s
        self.lease = lease
        # Run each time this process starts to lead (several processes: see storage/lease).
        self.on_lead: list[Callable[[], Awaitable[object]]] = []
        self._wake = asyncio.Event()
        self._stopping = False
        self._lanes: dict[int, _Lane] = {}
        # Deliveries to many chats are recorded in one commit (see GroupCommit).
        self._delivered: GroupCommit[tuple[_Job, int, datetime]] = GroupCommit(
            uow, _record_delivered)

    def wake(self) -> None:
        """Called after a commit that may have queued messages."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the messages being sent, put the rest back, and end run()."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Deliver until stopped; sleep until woken, a chat is free, or a retry is due.

        With a lease (several processes on PostgreSQL), only the process holding it sends;
        the others wait to take over.
        """
        leading = False
        try:
            while not self._stopping:
                if not await self._lead(leading):
                    leading = False
                    await self._stand_by(LEASE_RETRY_S)
                    continue
                if not leading:
                    leading = True
                    await self.recover()
                    await self._took_the_lead()
                self._wake.clear()
                try:
                    await self._fill()
                    timeout = await self._idle_for()
                except Exception:
                    log.exception("outbox pass failed; retrying shortly")
                    timeout = BUSY_WAKEUP_S
                if self._stopping:
                    break
                await self._pause(timeout)
        finally:
            await self._finish_lanes()
            if self.lease is not None:
                await self.lease.release()

    async def _took_the_lead(self) -> None:
        for hook in self.on_lead:
            try:
                await hook()
            except Exception:  # each has a safety sweep of its own
                log.exception("starting to lead: %s failed", hook)

    async def _lead(self, leading: bool) -> bool:
        if self.lease is None:
            return True
        try:
            return await self.lease.hold()
        except Exception:
            log.exception("cannot reach the database for the sending lease")
            if leading:
                await self._finish_lanes()
            return False

    async def _stand_by(self, seconds: float) -> None:
        """Wait before trying for the lease again; wake-ups only end it when stopping."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._stopping and (left := deadline - loop.time()) > 0:
            self._wake.clear()
            await self._pause(left)

    async def _pause(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=timeout)
        except TimeoutError:
            pass

    async def recover(self) -> int:
        """At start: messages a dead sender had claimed but not recorded go back to the queue.

        A crash between Telegram accepting a message and our recording it can repeat that one
        message (at most one per chat, since a chat has one message claimed at a time).
        """
        async with self.uow() as uow:
            released = await uow.outbox.release_stale_claims(
                self.clock() - timedelta(seconds=self.stale_claim_s))
            await uow.session.commit()
        return released

    async def drain_once(self) -> int:
        """Send one batch of due messages (chats at once, each in order); returns how many
        were settled for good (sent, or recorded as undeliverable or failed)."""
        jobs = await self._claim(self.batch)
        chats = {job.chat_id for job in jobs}
        self._serve(jobs)
        tasks = [lane.task for chat, lane in self._lanes.items()
                 if chat in chats and lane.task is not None]
        return sum(await asyncio.gather(*tasks))

    # ----- claiming -----------------------------------------------------------------------

    async def _fill(self) -> None:
        """Claim due rows, most urgent first, until enough chats are being served."""
        while not self._stopping and (room := self.max_chats - len(self._lanes)) > 0:
            jobs = await self._claim(min(self.batch, room))
            if not jobs:
                return
            self._serve(jobs)

    async def _claim(self, limit: int) -> list[_Job]:
        """Claim up to `limit` rows, keeping only the first of each chat."""
        async with self.uow() as uow:
            rows = list(await uow.outbox.claim(self.clock(), limit))
            jobs: list[_Job] = []
            chats: set[int] = set()
            for row in rows:
                if row.chat_id in chats:
                    # One row per chat at a time keeps a chat in order, and leaves its later
                    # rows to a later claim, where an urgent one may go before them.
                    row.status, row.claimed_at = "pending", None
                    continue
                chats.add(row.chat_id)
                jobs.append(_Job.of(row))
            await uow.session.commit()
        return jobs

    def _serve(self, jobs: list[_Job]) -> None:
        for job in jobs:
            lane = self._lanes.get(job.chat_id)
            if lane is not None:  # its task is finishing the chat's previous row
                lane.jobs.append(job)
                continue
            lane = _Lane(deque([job]))
            self._lanes[job.chat_id] = lane
            lane.task = asyncio.create_task(self._drain_chat(job.chat_id, lane),
                                            name=f"outbox-chat-{job.chat_id}")

    async def _idle_for(self) -> float:
        if len(self._lanes) >= self.max_chats:
            return IDLE_WAKEUP_S  # a lane that finishes wakes us
        async with self.uow().reading() as uow:
            due = await uow.outbox.next_wakeup()
        if due is None:
            return IDLE_WAKEUP_S
        wait = (due - self.clock()).total_seconds()
        if wait <= 0:
            # Due but not claimable: its chat is busy or waits for an earlier row's retry.
            return BUSY_WAKEUP_S
        return max(0.05, min(IDLE_WAKEUP_S, wait))

    # ----- one chat -----------------------------------------------------------------------

    async def _drain_chat(self, chat_id: int, lane: _Lane) -> int:
        """Send a chat's claimed rows in order; after a failure the rest wait their turn."""
        settled = 0
        try:
            while lane.jobs and not self._stopping:
                done = await self._deliver(lane.jobs[0])
                lane.jobs.popleft()
                if not done:
                    break
                settled += 1
        except Exception:
            log.exception("outbox: delivery to chat %s interrupted; its rows go back", chat_id)
        finally:
            try:
                # Rows not settled (a failure, a stop, a cancellation) go back to the queue.
                while lane.jobs:
                    jobs = list(lane.jobs)
                    lane.jobs.clear()
                    await self._release(jobs)
            except Exception:
                log.exception("outbox: rows of chat %s stay claimed until the next start",
                              chat_id)
            finally:
                del self._lanes[chat_id]
                self._wake.set()
        return settled

    async def _finish_lanes(self) -> None:
        """On stop: let messages being sent finish for a moment, then put the rest back."""
        tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=STOP_GRACE_S)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _deliver(self, job: _Job) -> bool:
        """Send one row; True when it is settled for good, False when it waits for a retry."""
        try:
            rendered = self.renderer.notice(job.payload, job.language)
            with send_priority(job.priority):
                message = await self._send(job, rendered)
        except TelegramRetryAfter as error:
            await self._settle(job, "pending", error=str(error),
                               delay=float(error.retry_after), count_attempt=False)
            return False
        except (TelegramForbiddenError, TelegramNotFound) as error:
            await self._settle(job, "undeliverable", error=str(error))
            log.info("outbox %s undeliverable to chat %s: %s", job.id, job.chat_id, error)
            return True
        except TelegramBadRequest as error:
            gone = "chat not found" in str(error).lower()
            await self._settle(job, "undeliverable" if gone else "failed", error=str(error))
            log.warning("outbox %s rejected by Telegram: %s", job.id, error)
            return True
        except (*TRANSIENT_ERRORS, TelegramAPIError) as error:
            if not isinstance(error, TRANSIENT_ERRORS):
                log.error("outbox %s: unexpected answer, will retry: %s", job.id, error)
            delay = min(self.max_backoff_s, 2 ** min(job.attempts, 16))
            await self._settle(job, "pending", error=str(error) or type(error).__name__,
                               delay=delay)
            return False
        except Exception as error:
            # A bug (say, in rendering) would fail the same way on every retry.
            log.exception("outbox %s cannot be sent", job.id)
            await self._settle(job, "failed", error=repr(error))
            return True
        # Recorded before this chat's next message is sent: a crash can repeat at most one.
        await self._delivered.add((job, message.message_id, self.clock()))
        return True

    async def _send(self, job: _Job, item: Rendered) -> Message:
        chat_id, timeout = job.chat_id, self.request_timeout
        if item.method == "photo" and item.file_id:
            return await self.bot.send_photo(chat_id, item.file_id, caption=item.text,
                                             request_timeout=timeout)
        if item.method == "voice" and item.file_id:
            return await self.bot.send_voice(chat_id, item.file_id, caption=item.text,
                                             request_timeout=timeout)
        if item.method == "document" and item.file_id:
            return await self.bot.send_document(chat_id, item.file_id, caption=item.text,
                                                request_timeout=timeout)
        if item.method == "location" and item.latitude is not None and item.longitude is not None:
            return await self.bot.send_location(chat_id, item.latitude, item.longitude,
                                                request_timeout=timeout)
        parts = split_text(item.text)
        already = int(job.payload.get(PARTS_SENT, 0))
        for index, part in enumerate(parts[:-1]):
            if index >= already:
                sent = await self.bot.send_message(chat_id, part, request_timeout=timeout)
                await self._record_part(job, index + 1, sent)
        return await self.bot.send_message(chat_id, parts[-1], reply_markup=item.markup,
                                           request_timeout=timeout)

    # ----- recording ----------------------------------------------------------------------

    async def _record_part(self, job: _Job, parts_sent: int, message: Message) -> None:
        """Remember a delivered part of a long text, so a retry does not send it again."""
        async with self.uow() as uow:
            row = await uow.outbox.get(job.id)
            if row is None:
                return
            row.payload = {**row.payload, PARTS_SENT: parts_sent}
            if row.request_id is not None:
                await uow.requests.link_message(row.chat_id, message.message_id, row.request_id)
            await uow.session.commit()

    async def _release(self, jobs: list[_Job]) -> None:
        """Claimed rows that were not tried go back to the queue as they were."""
        async with self.uow() as uow:
            for job in jobs:
                row = await uow.outbox.get(job.id)
                if row is not None and row.status == "sending":
                    row.status, row.claimed_at = "pending", None
            await uow.session.commit()

    async def _settle(
        self,
        job: _Job,
        status: str,
        *,
        error: str | None = None,
        delay: float = 0.0,
        count_attempt: bool = True,
    ) -> None:
        """Record a delivery that failed: to retry later, or for good."""
        async with self.uow() as uow:
            row = await uow.outbox.get(job.id)
            if row is None:
                return
            now = self.clock()
            row.status = status
            row.attempts += 1 if count_attempt else 0
            row.last_error = error if error is not None else row.last_error
            row.claimed_at = None
            if status == "pending":
                row.not_before = now + timedelta(seconds=delay)
            await uow.session.commit()
        if status == "pending" and delay > 0:
            # Be there when the retry is due rather than at the next poll.
            asyncio.get_running_loop().call_later(delay, self._wake.set)


async def _record_delivered(uow: UnitOfWork, sent: list[tuple[_Job, int, datetime]]) -> None:
    """Mark rows sent and link each message to its request, so replies to it find it."""
    await uow.outbox.mark_sent([(job.id, message_id, at) for job, message_id, at in sent])
    await uow.requests.link_messages([(job.chat_id, message_id, job.request_id)
                                      for job, message_id, _ in sent
                                      if job.request_id is not None])
