"""Which of several processes on one PostgreSQL database is the one that sends.

Telegram's limits are per bot, and a limiter lives in one process: two processes draining
the outbox would each keep to 30 messages a second and together send 60. So one process
holds the sending lease, a PostgreSQL session advisory lock, and the others stand by. The
lock belongs to a database connection: if the holder dies, or its connection does, the
server releases it and a standby takes over at its next try.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

SENDER_LOCK: Final = 0x68757969  # "huyi": the advisory lock key of the sending lease
CHECK_EVERY_S: Final = 10.0


class AdvisoryLease:
    """A lease held through a session advisory lock on a connection of its own."""

    def __init__(self, engine: AsyncEngine, key: int = SENDER_LOCK,
                 check_every_s: float = CHECK_EVERY_S) -> None:
        self.engine = engine
        self.key = key
        self.check_every_s = check_every_s
        self._connection: AsyncConnection | None = None
        self._checked = 0.0

    @property
    def held(self) -> bool:
        return self._connection is not None

    async def hold(self) -> bool:
        """True while this process holds the lease; takes it when it is free."""
        if self._connection is not None:
            if time.monotonic() - self._checked < self.check_every_s:
                return True
            try:  # the lock lives as long as its connection: make sure it still does
                await self._connection.execute(select(1))
                await self._connection.commit()
                self._checked = time.monotonic()
                return True
            except Exception:
                log.warning("the sending lease's connection is gone; standing by")
                await self._drop()
                return False
        connection = await self.engine.connect()
        try:
            taken = bool((await connection.execute(
                select(func.pg_try_advisory_lock(self.key)))).scalar())
            await connection.commit()  # a session lock outlives the transaction
        except Exception:
            await connection.close()
            raise
        if not taken:
            await connection.close()
            return False
        self._connection, self._checked = connection, time.monotonic()
        log.info("this process now sends the outbox")
        return True

    async def release(self) -> None:
        if self._connection is None:
            return
        try:
            await self._connection.execute(select(func.pg_advisory_unlock(self.key)))
            await self._connection.commit()
        except Exception:  # closing the connection releases it anyway
            log.debug("unlock failed", exc_info=True)
        await self._drop()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await connection.close()
            except Exception:
                log.debug("closing the lease's connection failed", exc_info=True)
