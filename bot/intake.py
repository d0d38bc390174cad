"""Durable intake: an update is recorded before Telegram is told it arrived, then handled.

aiogram's own polling confirms updates to Telegram (by moving the offset) before its handlers
finish, so a crash in between loses a resident's message. Here the offset moves only after the
updates are committed to the inbox table; anything recorded but not finished is handled at the
next start. Handling is idempotent where it creates things (a request remembers its update id),
so a redelivered or replayed update changes nothing twice.

Several processes on one PostgreSQL database (behind one webhook address) all record what
they receive, but only the one holding the lease (storage/lease.py) handles updates: every
reply then goes through one limiter. A standby announces what it recorded with a NOTIFY that
the leader hears; a new leader starts with whatever is pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramConflictError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import Update

from storage.group import GroupCommit
from storage.lease import INBOX_CHANNEL, AdvisoryLease
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)
POLL_TIMEOUT_S = 25
MAX_BACKOFF_S = 30
STANDBY_CHECK_S = 1.0  # how often a standby looks whether it leads now (polling mode)
READ_PAGE = 200  # pending updates read at a time


class DurableIntake:
    """Records updates in the inbox, confirms them, and feeds them to the dispatcher in order."""

    def __init__(self, bot: Bot, dispatcher: Dispatcher, uow: UnitOfWorkFactory,
                 clock: Callable[[], datetime], lease: AdvisoryLease | None = None) -> None:
        self.bot = bot
        self.dispatcher = dispatcher
        self.uow = uow
        self.clock = clock
        self.lease = lease
        if lease is not None:
            lease.listen(INBOX_CHANNEL, self._announced)
        self._stopping = asyncio.Event()
        self._turns = _Turns()  # one user's updates one at a time, in order
        self._in_flight: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._reading = asyncio.Lock()  # announcements are read in the order they came
        # Many handled updates are marked done in one commit: under a burst, one commit per
        # update would be a large share of the work. Until it commits, an update stays
        # pending, and a crash in between has it handled again (which changes nothing twice).
        self._finished: GroupCommit[tuple[int, datetime, str | None]] = GroupCommit(
            uow, lambda work, handled: work.inbox.finish_many(handled))

    async def record(self, updates: list[dict[str, Any]]) -> int:
        """Commit updates to the inbox, then start handling them; returns how many were new.

        A redelivered update (already recorded) is neither recorded nor handled again.
        """
        now = self.clock()
        here = self.leading
        async with self.uow() as uow:
            new = await uow.inbox.record([
                {"update_id": u["update_id"], "payload": u, "status": "pending", "attempts": 0,
                 "received_at": now} for u in updates])
            if new and not here:  # the leader hears of them when this commits
                await uow.inbox.announce(INBOX_CHANNEL, sorted(new))
            await uow.session.commit()
        if here:
            for payload in updates:
                if payload["update_id"] in new:
                    self._start(payload["update_id"], payload, first=True)
        return len(new)

    @property
    def leading(self) -> bool:
        """Whether this process handles updates: the only one does; of several, the leader."""
        return self.lease is None or self.lease.held

    async def dispatch_pending(self) -> int:
        """Start handling every recorded, unfinished update not already being handled.

        Run when this process starts to lead (what a previous run or leader left unfinished,
        what standbys recorded meanwhile) and regularly as a safety net. A standby does nothing.
        """
        if not self.leading:
            return 0
        async with self.uow().reading() as uow:
            waiting = [i for i in await uow.inbox.pending_ids() if i not in self._in_flight]
        return await self._dispatch(waiting)

    async def _dispatch(self, update_ids: list[int]) -> int:
        started = 0
        async with self._reading:
            for start in range(0, len(update_ids), READ_PAGE):
                async with self.uow().reading() as uow:
                    rows = [(r.update_id, r.payload) for r in
                            await uow.inbox.pending_of(update_ids[start:start + READ_PAGE])]
                started += sum(self._start(update_id, payload) for update_id, payload in rows)
        return started

    def _announced(self, payload: str) -> None:
        """A standby recorded these updates (a NOTIFY heard on the lease's connection)."""
        ids = [int(part) for part in payload.split(",") if part.strip().isdigit()]
        task = asyncio.create_task(self._dispatch_announced(ids))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch_announced(self, update_ids: list[int]) -> None:
        try:
            await self._dispatch(update_ids)
        except Exception:  # the safety sweep finds them
            log.exception("could not read announced updates %s", update_ids[:10])

    def _start(self, update_id: int, payload: dict[str, Any], first: bool = False) -> bool:
        """Handle an update in the background. `first`: it was recorded just now, so nothing
        can have been made from it yet and handlers may skip their replay checks."""
        if update_id in self._in_flight:
            return False
        self._in_flight.add(update_id)
        task = asyncio.create_task(self._handle(update_id, payload, first))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _handle(self, update_id: int, payload: dict[str, Any], first: bool) -> None:
        error: str | None = None
        try:
            async with self._turns.of(_sender_of(payload)):
                update = Update.model_validate(payload, context={"bot": self.bot})
                await self.dispatcher.feed_update(self.bot, update, first_delivery=first)
        except Exception as exc:  # the errors router already answered the user politely
            log.exception("update %s failed", update_id)
            error = repr(exc)[:500]
        try:
            await self._finished.add((update_id, self.clock(), error))
        finally:
            # Only now: until `done` is committed another pass would see it pending.
            self._in_flight.discard(update_id)

    async def run_polling(self) -> None:
        """Long-poll Telegram; the offset that confirms updates moves only after recording."""
        await self.dispatch_pending()  # what a previous run recorded but did not finish
        offset: int | None = None
        failures = 0
        allowed = self.dispatcher.resolve_used_update_types()
        while not self._stopping.is_set():
            if not self.leading:  # another process polls; this one takes over if it goes
                await self._sleep(STANDBY_CHECK_S)
                continue
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=POLL_TIMEOUT_S, allowed_updates=allowed,
                    request_timeout=POLL_TIMEOUT_S + 10)
                failures = 0
            except TelegramRetryAfter as error:
                await self._sleep(error.retry_after)
                continue
            except TelegramConflictError:  # a leader that lost its lease still polls
                log.warning("another process is polling; waiting for it to stop")
                await self._sleep(POLL_TIMEOUT_S / 5)
                continue
            except (TelegramNetworkError, TelegramServerError, OSError) as error:
                failures += 1
                delay = min(MAX_BACKOFF_S, 2 ** failures)
                log.warning("getUpdates failed (%s); retrying in %s s", error, delay)
                await self._sleep(delay)
                continue
            if not updates:
                continue
            await self.record([u.model_dump(mode="json", exclude_none=True, by_alias=True)
                               for u in updates])
            offset = updates[-1].update_id + 1

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop polling and let updates being handled finish (they stay pending if not)."""
        self._stopping.set()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)

    async def purge(self, keep: timedelta = timedelta(days=7)) -> int:
        async with self.uow() as uow:
            removed = await uow.inbox.purge_done(self.clock() - keep)
            await uow.session.commit()
        return removed


class _Turns:
    """Each user's turn: their updates are handled one at a time, in the order they started
    waiting (asyncio.Lock is FIFO-fair). A user's lock goes when none of theirs waits, so a
    long run does not keep one for everyone who ever wrote."""

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def of(self, user: int) -> AsyncIterator[None]:
        lock, waiting = self._locks.get(user, (asyncio.Lock(), 0))
        self._locks[user] = (lock, waiting + 1)
        try:
            async with lock:
                yield
        finally:
            lock, waiting = self._locks[user]
            if waiting == 1:
                del self._locks[user]
            else:
                self._locks[user] = (lock, waiting - 1)

    def __len__(self) -> int:
        return len(self._locks)


def _sender_of(payload: dict[str, Any]) -> int:
    """The user an update comes from (0 when it has none)."""
    for key in ("message", "edited_message", "callback_query", "my_chat_member"):
        part = payload.get(key)
        if isinstance(part, dict):
            who = part.get("from") or {}
            if isinstance(who, dict) and "id" in who:
                return int(who["id"])
    return 0
