"""Writes shared by many tasks (GroupCommit), and reads beside SQLite's one writer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from storage.db import create_engine, is_sqlite, session_factory
from storage.group import GroupCommit
from storage.migrate import upgrade
from storage.models import InboxUpdate, OutboxMessage
from storage.uow import UnitOfWork, UnitOfWorkFactory, WriterGate

T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)


class Counted:
    """A unit-of-work factory over one engine that counts commits."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url)
        self.commits = 0
        self.gate = WriterGate() if is_sqlite(database_url) else None

        @event.listens_for(self.engine.sync_engine, "commit")
        def _count(_connection: object) -> None:
            self.commits += 1

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(session_factory(self.engine), gate=self.gate)


@pytest.fixture
async def counted(database_url: str) -> AsyncIterator[Counted]:
    factory = Counted(database_url)
    await upgrade(factory.engine)
    yield factory
    await factory.engine.dispose()


async def _inbox(uow: UnitOfWorkFactory, ids: range) -> None:
    async with uow() as work:
        new = await work.inbox.record([
            {"update_id": i, "payload": {"update_id": i}, "status": "pending", "attempts": 0,
             "received_at": T0} for i in ids])
        await work.commit()
    assert new == set(ids)


async def test_many_callers_share_few_commits_and_each_waits_for_its_own(
    counted: Counted,
) -> None:
    await _inbox(counted, range(1, 51))
    finished: GroupCommit[tuple[int, datetime, str | None]] = GroupCommit(
        counted, lambda work, rows: work.inbox.finish_many(rows))
    before = counted.commits
    await asyncio.gather(*(finished.add((i, T0, None)) for i in range(1, 51)))
    assert counted.commits - before <= 3, "fifty rows, a handful of commits"
    async with counted() as work:
        statuses = (await work.session.execute(select(InboxUpdate.status))).scalars().all()
    assert statuses == ["done"] * 50


async def test_a_failed_batch_fails_every_caller_in_it(counted: Counted) -> None:
    async def broken(_work: UnitOfWork, _rows: list[int]) -> None:
        raise RuntimeError("disk full")

    group: GroupCommit[int] = GroupCommit(counted, broken)
    results = await asyncio.gather(*(group.add(i) for i in range(5)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)


async def test_a_cancelled_caller_does_not_cancel_the_others(counted: Counted) -> None:
    await _inbox(counted, range(1, 4))
    finished: GroupCommit[tuple[int, datetime, str | None]] = GroupCommit(
        counted, lambda work, rows: work.inbox.finish_many(rows))
    tasks = [asyncio.create_task(finished.add((i, T0, None))) for i in range(1, 4)]
    await asyncio.sleep(0)
    tasks[0].cancel()
    await asyncio.gather(*tasks[1:])
    async with counted() as work:
        done = (await work.session.execute(
            select(InboxUpdate.update_id).where(InboxUpdate.status == "done"))).scalars().all()
    assert set(done) >= {2, 3}


async def test_a_redelivered_update_is_not_recorded_as_new(counted: Counted) -> None:
    await _inbox(counted, range(1, 3))
    async with counted() as work:
        new = await work.inbox.record([
            {"update_id": i, "payload": {"update_id": i}, "status": "pending", "attempts": 0,
             "received_at": T0} for i in (2, 3)])
        await work.commit()
    assert new == {3}


async def test_mark_sent_records_each_row_and_counts_the_attempt(counted: Counted) -> None:
    async with counted() as work:
        rows = [OutboxMessage(chat_id=chat, kind="notice", language="zh", payload={},
                              priority=1, status="sending", attempts=0, not_before=T0,
                              created_at=T0) for chat in (7, 8)]
        for row in rows:
            work.outbox.add(row)
        await work.session.flush()
        ids = [row.id for row in rows]
        await work.commit()
    async with counted() as work:
        await work.outbox.mark_sent([(ids[0], 501, T0), (ids[1], 502, T0)])
        await work.requests.link_messages([(7, 501, 1), (7, 501, 1)])  # twice: kept once
        await work.commit()
    async with counted() as work:
        sent = [await work.outbox.get(i) for i in ids]
        assert [(m.status, m.telegram_message_id, m.attempts, m.claimed_at)
                for m in sent if m] == [("sent", 501, 1, None), ("sent", 502, 1, None)]
        assert await work.requests.linked_request(7, 501) == 1


async def test_a_reader_does_not_wait_for_the_writer(counted: Counted) -> None:
    if counted.gate is None:
        pytest.skip("only SQLite queues its writers")
    async with counted() as writer:
        await writer.inbox.record([{"update_id": 9, "payload": {}, "status": "pending",
                                    "attempts": 0, "received_at": T0}])
        # The writer holds SQLite's write lock and the queue; a reader still gets through,
        # and sees the last committed state, not the writer's unfinished row.
        async with asyncio.timeout(5), counted().reading() as reader:
            assert await reader.inbox.count_pending() == 0
        await writer.commit()
