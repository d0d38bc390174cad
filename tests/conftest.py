"""Shared fixtures: database URLs for SQLite and PostgreSQL, and a running bot on the emulator."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.harness import Harness, running_bot
from storage.db import create_engine

PG_URL = os.environ.get("HUYING_TEST_PG_URL")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


async def reset_postgres(url: str) -> None:
    """Give each test an empty database."""
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'huying.db'}"
        return
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("HUYING_TEST_PG_URL is not set: CI must run the PostgreSQL tests")
        pytest.skip("HUYING_TEST_PG_URL not set")
    await reset_postgres(PG_URL)
    yield PG_URL


@pytest.fixture
async def bot(database_url: str) -> AsyncIterator[Harness]:
    """The whole program on the example deployment, talking to the local emulator."""
    async with running_bot(database_url) as harness:
        yield harness
