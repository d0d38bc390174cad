"""Shared fixtures: database URLs for SQLite and PostgreSQL, and a running bot on the emulator."""

from __future__ import annotations

import glob
import os
import subprocess
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path

import pytest

from bot.harness import Harness, running_bot
from storage.db import empty_postgres_schema

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@cache
def postgres_url() -> str | None:
    """HUYING_TEST_PG_URL, or a throwaway server started here when PostgreSQL is installed."""
    url = os.environ.get("HUYING_TEST_PG_URL")
    if url or not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return url
    started = subprocess.run(["bash", str(ROOT / ".ci" / "start-postgres")],
                             capture_output=True, text=True, timeout=300)
    return started.stdout.strip() if started.returncode == 0 else None


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'huying.db'}"
        return
    url = postgres_url()
    if not url:
        if os.environ.get("CI"):
            pytest.fail("no PostgreSQL for the tests: CI must run them (see .ci/run)")
        pytest.skip("no PostgreSQL: set HUYING_TEST_PG_URL or install postgresql")
    await empty_postgres_schema(url)
    yield url


@pytest.fixture
async def bot(database_url: str) -> AsyncIterator[Harness]:
    """The whole program on the example deployment, talking to the local emulator."""
    async with running_bot(database_url) as harness:
        yield harness
