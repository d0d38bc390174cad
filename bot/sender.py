"""The outbox sender: delivers what use cases queued, in priority order, and records the result."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import Message

from handlers.render import Rendered, Renderer
from storage.models import OutboxMessage
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 300
IDLE_WAKEUP_S = 5.0
STALE_CLAIM_S = 120


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
    ) -> None:
        self.stale_claim_s = stale_claim_s
        self.bot = bot
        self.uow = uow
        self.renderer = renderer
        self.clock = clock
        self.batch = batch
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Called after a commit that may have queued messages."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Deliver until stopped; sleep until woken or the next retry is due."""
        await self.recover()
        while not self._stopping:
            self._wake.clear()
            try:
                sent = await self.drain_once()
            except Exception:
                log.exception("outbox pass failed; retrying shortly")
                sent = 0
            if sent:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=await self._idle_for())
            except TimeoutError:
                pass

    async def _idle_for(self) -> float:
        async with self.uow() as uow:
            due = await uow.outbox.next_wakeup()
        if due is None:
            return IDLE_WAKEUP_S
        return max(0.05, min(IDLE_WAKEUP_S, (due - self.clock()).total_seconds()))

    async def recover(self) -> int:
        """At start: messages a dead sender had claimed but not recorded go back to the queue.

        A crash between Telegram accepting a message and our recording it can repeat that one
        message (at most one per chat, since a chat's messages go one at a time).
        """
        async with self.uow() as uow:
            released = await uow.outbox.release_stale_claims(
                self.clock() - timedelta(seconds=self.stale_claim_s))
            await uow.session.commit()
        return released

    async def drain_once(self) -> int:
        """Send one batch of due messages; returns how many were delivered."""
        async with self.uow() as uow:
            rows = list(await uow.outbox.claim(self.clock(), self.batch))
            await uow.session.commit()
        delivered = 0
        blocked: set[int] = set()
        for row in rows:
            if row.chat_id in blocked:
                # Keep each chat in order: after a failure its later messages wait their turn.
                await self._settle(row.id, "pending", count_attempt=False)
                continue
            if await self._deliver(row):
                delivered += 1
            else:
                blocked.add(row.chat_id)
        return delivered

    async def _deliver(self, row: OutboxMessage) -> bool:
        try:
            rendered = self.renderer.notice(row.payload, row.language)
            message = await self._send(row.chat_id, rendered)
        except TelegramRetryAfter as error:
            await self._settle(row.id, "pending", error=str(error),
                               delay=float(error.retry_after), count_attempt=False)
            return False
        except (TelegramForbiddenError, TelegramNotFound) as error:
            await self._settle(row.id, "undeliverable", error=str(error))
            return True
        except TelegramBadRequest as error:
            gone = "chat not found" in str(error).lower()
            await self._settle(row.id, "undeliverable" if gone else "failed", error=str(error))
            log.warning("outbox %s rejected by Telegram: %s", row.id, error)
            return True
        except (TelegramNetworkError, TelegramServerError, OSError) as error:
            delay = min(MAX_BACKOFF_S, 2 ** min(row.attempts, 10))
            await self._settle(row.id, "pending", error=str(error), delay=delay)
            return False
        await self._settle(row.id, "sent", message=message)
        return True

    async def _send(self, chat_id: int, item: Rendered) -> Message:
        if item.method == "photo" and item.file_id:
            return await self.bot.send_photo(chat_id, item.file_id, caption=item.text)
        if item.method == "voice" and item.file_id:
            return await self.bot.send_voice(chat_id, item.file_id, caption=item.text)
        if item.method == "document" and item.file_id:
            return await self.bot.send_document(chat_id, item.file_id, caption=item.text)
        if item.method == "location" and item.latitude is not None and item.longitude is not None:
            return await self.bot.send_location(chat_id, item.latitude, item.longitude)
        return await self.bot.send_message(chat_id, item.text, reply_markup=item.markup)

    async def _settle(
        self,
        row_id: int,
        status: str,
        *,
        error: str | None = None,
        delay: float = 0.0,
        message: Message | None = None,
        count_attempt: bool = True,
    ) -> None:
        async with self.uow() as uow:
            row = await uow.outbox.get(row_id)
            if row is None:
                return
            now = self.clock()
            row.status = status
            row.attempts += 1 if count_attempt else 0
            row.last_error = error if error is not None else row.last_error
            row.claimed_at = None
            if status == "pending":
                row.not_before = now + timedelta(seconds=delay)
            if message is not None:
                row.sent_at = now
                row.telegram_message_id = message.message_id
                if row.request_id is not None:
                    await uow.requests.link_message(row.chat_id, message.message_id,
                                                    row.request_id)
            await uow.session.commit()
