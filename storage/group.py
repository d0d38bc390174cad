"""Group commit: many small writes from many tasks share one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from storage.uow import UnitOfWork, UnitOfWorkFactory

Item = TypeVar("Item")


class GroupCommit(Generic[Item]):
    """Collects items from concurrent callers and writes them together.

    `await add(item)` returns once the item is committed (or raises what the commit raised),
    so a caller may rely on it being stored, as with a transaction of its own. While one batch
    is being written, the next fills up: under load each commit carries many items, and when
    idle an item is written at once. Used where the cost is the commit, not the work: the
    sender's "this was delivered" and the intake's "this update is handled".
    """

    def __init__(self, uow: UnitOfWorkFactory,
                 apply: Callable[[UnitOfWork, list[Item]], Awaitable[None]]) -> None:
        self._uow = uow
        self._apply = apply
        self._waiting: list[tuple[Item, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, item: Item) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Mark a failure as seen even when the caller was cancelled and no longer waits.
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._waiting.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="group-commit")
        # shield: a caller cancelled while waiting must not cancel the batch for everyone.
        await asyncio.shield(future)

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                async with self._uow() as uow:
                    await self._apply(uow, [item for item, _ in batch])
                    await uow.commit()
            except Exception as error:  # every waiter hears of it; none is left hanging
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
