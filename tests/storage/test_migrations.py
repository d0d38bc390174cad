"""Every migration goes up, down and up again, and the newest schema matches the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from storage.db import create_engine
from storage.migrate import alembic_config, downgrade, upgrade
from storage.models import Base


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


async def test_each_revision_goes_up_down_and_up_again(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        for revision in _revisions():
            previous = _down_of(revision)
            await upgrade(engine, revision)
            await downgrade(engine, previous)
            await upgrade(engine, revision)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"requests", "request_events", "outbox", "staff", "chat_states"} <= tables
    finally:
        await engine.dispose()


async def test_newest_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)

        def diff(connection: Connection) -> list[object]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


def _down_of(revision: str) -> str:
    script = ScriptDirectory.from_config(alembic_config())
    down = script.get_revision(revision).down_revision
    if down is None:
        return "base"
    assert isinstance(down, str), "merge revisions need their own stairway step"
    return down


@pytest.mark.parametrize("revision", _revisions())
def test_revision_ids_are_short_and_ordered(revision: str) -> None:
    assert revision.isdigit() and len(revision) == 4
