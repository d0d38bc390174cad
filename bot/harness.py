"""Emulator + bot in one process: used by `huying demo` and the end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.app import App, build_app
from bot.clock import SteppingClock
from bot.emulator import BotApiEmulator
from bot.emulator_client import EmulatorClient
from bot.settings import Settings, example_config

AFTERNOON = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 14:00 in Asia/Shanghai


@dataclass
class Harness:
    """A running bot wired to a local emulator, and a client to play its users."""

    app: App
    emulator: BotApiEmulator
    client: EmulatorClient
    polling: asyncio.Task[None]
    clock: Callable[[], datetime]

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until the bot has taken every update and the outbox is empty."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if await self.client.pending_updates() == 0 and await self._quiet():
                await asyncio.sleep(0.05)
                if await self._quiet():
                    return
            await asyncio.sleep(0.02)
        raise AssertionError("the bot did not settle in time")

    async def _quiet(self) -> bool:
        """Nothing recorded but unhandled, nothing queued or being sent."""
        async with self.app.uow() as uow:
            busy = (await uow.inbox.count_pending() + await uow.outbox.count("pending")
                    + await uow.outbox.count("sending"))
        return busy == 0


@contextlib.asynccontextmanager
async def running_bot(
    database_url: str,
    *,
    config: Path | None = None,
    clock: Callable[[], datetime] | None = None,
    **settings: Any,
) -> AsyncIterator[Harness]:
    """Start the emulator and the bot against it; stop both on exit.

    Unless told otherwise the bot's clock starts on a Wednesday afternoon in Shanghai, so what
    the tests and the demo see does not depend on when they run.
    """
    clock = clock or SteppingClock(AFTERNOON)
    emulator = BotApiEmulator()
    url = await emulator.start()
    app = await build_app(
        Settings(telegram_token=SecretStr(emulator.token), telegram_api_url=url,
                 database_url=database_url, config=config or example_config(), **settings),
        clock=clock,
    )
    await app.start_background()
    polling = asyncio.create_task(app.intake.run_polling())
    client = EmulatorClient(url)
    try:
        yield Harness(app=app, emulator=emulator, client=client, polling=polling, clock=clock)
    finally:
        await app.intake.stop()
        polling.cancel()  # the long poll would otherwise wait out its timeout
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await polling
        await client.close()
        await app.close()
        await emulator.stop()
