"""Which of several processes on one PostgreSQL database is the one that leads.

Telegram's limits are per bot, and a limiter lives in one process: two processes sending
would each keep to 30 messages a second and together send 60. So one process holds the
lease, a PostgreSQL session advisory lock, and does everything that talks to Telegram: it
handles the updates, keeps time and sends. The others record the webhook calls they receive
and tell the leader of them (NOTIFY, heard on the lease's own connection), and stand by. The
lock belongs to a database connection: if the leader dies, or its connection does, the server
releases it and a standby takes over at its next try.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

SENDER_LOCK: Final = 0x68757969  # "huyi": the advisory lock key of the sending lease
CHECK_EVERY_S: Final = 10.0
INBOX_CHANNEL: Final = "huying_inbox"  # NOTIFY payload: update ids a standby recorded


class AdvisoryLease:
    """A lease held through a session advisory lock on a connection of its own."""

    def __init__(self, engine: AsyncEngine, key: int = SENDER_LOCK,
                 check_every_s: float = CHECK_EVERY_S) -> None:
        self.engine = engine
        self.key = key
        self.check_every_s = check_every_s
        self._connection: AsyncConnection | None = None
        self._checked = 0.0
        self._listeners: dict[str, Callable[[str], None]] = {}

    def listen(self, channel: str, callback: Callable[[str], None]) -> None:
        """While this process holds the lease, call `callback(payload)` on each NOTIFY.

        A standby hears nothing: what it misses, the new leader reads from the database when
        it takes over.
        """
        self._listeners[channel] = callback

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
        try:
            await self._attach_listeners(connection)
        except Exception:
            await connection.close()  # closing the connection releases the lock
            raise
        self._connection, self._checked = connection, time.monotonic()
        log.info("this process now leads: it handles updates, keeps time and sends")
        return True

    async def _attach_listeners(self, connection: AsyncConnection) -> None:
        driver: Any = (await connection.get_raw_connection()).driver_connection
        for channel, callback in self._listeners.items():
            await driver.add_listener(
                channel, lambda _conn, _pid, _channel, payload, react=callback: react(payload))

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
