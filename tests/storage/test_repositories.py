"""Storage on SQLite and PostgreSQL: UTC round trips, outbox order, FSM state, locking reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot.fsm_storage import DatabaseStorage
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import OutboxMessage, Request, RequestEvent
from storage.uow import UnitOfWork, UnitOfWorkFactory

T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
async def uow(database_url: str) -> AsyncIterator[UnitOfWorkFactory]:
    engine = create_engine(database_url)
    await upgrade(engine)
    sessions = session_factory(engine)
    yield lambda: UnitOfWork(sessions)
    await engine.dispose()


def _request(**overrides: object) -> Request:
    values: dict[str, object] = dict(
        resident_id=1, text="电梯坏了", category="property_repair", urgency="normal",
        confidence=0.9, state="open", level=0, ladder=["community", "town", "district"],
        building_code="SY-1", grid_id="songyun-1", community_id="songyun", town_id="xuzhuang",
        district_id="taibaihu", created_at=T0, updated_at=T0, attachments=[],
        ack_due_at=T0 + timedelta(hours=2), resolve_due_at=T0 + timedelta(days=1),
    )
    values.update(overrides)
    return Request(**values)


def _outbox(chat: int, priority: int, not_before: datetime = T0) -> OutboxMessage:
    return OutboxMessage(chat_id=chat, kind="x", language="zh", payload={"kind": "x"},
                         priority=priority, status="pending", attempts=0,
                         not_before=not_before, created_at=T0)


async def test_request_numbers_increase_and_times_come_back_as_utc(
    uow: UnitOfWorkFactory,
) -> None:
    async with uow() as work:
        first = await work.requests.add(_request())
        second = await work.requests.add(_request(text="路灯不亮"))
        await work.commit()
    assert second.id == first.id + 1
    async with uow() as work:
        stored = await work.requests.get(first.id)
        assert stored is not None
        assert stored.created_at == T0 and stored.created_at.tzinfo is not None
        assert stored.ack_due_at == T0 + timedelta(hours=2)


async def test_uncommitted_work_is_rolled_back(uow: UnitOfWorkFactory) -> None:
    async with uow() as work:
        request = await work.requests.add(_request())
        number = request.id
    async with uow() as work:
        assert await work.requests.get(number) is None


async def test_timeline_keeps_every_event_in_order(uow: UnitOfWorkFactory) -> None:
    async with uow() as work:
        request = await work.requests.add(_request())
        for minute, action in enumerate(["submitted", "accepted", "resolved"]):
            await work.requests.add_event(RequestEvent(
                request_id=request.id, at=T0 + timedelta(minutes=minute), actor_kind="staff",
                actor_id="k", actor_name="陈亮", action=action, note="", level=0))
        await work.commit()
    async with uow() as work:
        events = await work.requests.timeline(request.id)
    assert [e.action for e in events] == ["submitted", "accepted", "resolved"]


async def test_outbox_gives_urgent_first_and_holds_a_waiting_chat_back(
    uow: UnitOfWorkFactory,
) -> None:
    async with uow() as work:
        work.outbox.add(_outbox(chat=1, priority=5))
        work.outbox.add(_outbox(chat=2, priority=5))
        work.outbox.add(_outbox(chat=3, priority=0))
        # chat 2 has a message waiting for a retry later: its other rows must wait too.
        work.outbox.add(_outbox(chat=2, priority=5, not_before=T0 + timedelta(minutes=5)))
        await work.commit()
    async with uow() as work:
        due = await work.outbox.claim(T0, limit=10)
    assert [m.chat_id for m in due] == [3, 1]
    assert all(m.status == "sending" for m in due)


async def test_a_claimed_message_is_not_claimed_again(uow: UnitOfWorkFactory) -> None:
    async with uow() as work:
        work.outbox.add(_outbox(chat=1, priority=5))
        work.outbox.add(_outbox(chat=1, priority=5))
        await work.commit()
    async with uow() as work:
        first = await work.outbox.claim(T0, limit=1)
        await work.commit()
    async with uow() as work:
        # The chat's second message waits while its first is being sent: order is kept.
        assert await work.outbox.claim(T0, limit=10) == []
        assert await work.outbox.release_stale_claims(T0 + timedelta(seconds=1)) == 1
        await work.commit()
    async with uow() as work:
        again = await work.outbox.claim(T0, limit=10)
    assert [m.id for m in again] == [first[0].id, first[0].id + 1], "in order, none lost"


async def test_fsm_state_survives_a_new_storage_object(uow: UnitOfWorkFactory) -> None:
    key = StorageKey(bot_id=1, chat_id=42, user_id=42)
    first = DatabaseStorage(uow)
    await first.set_state(key, "StaffForm:note")
    await first.set_data(key, {"number": 7, "action": "res"})
    restarted = DatabaseStorage(uow)  # as after a restart, or in a second process
    assert await restarted.get_state(key) == "StaffForm:note"
    assert await restarted.get_data(key) == {"number": 7, "action": "res"}
    await restarted.set_state(key, None)
    assert await first.get_state(key) is None


async def test_linked_messages_point_at_their_request(uow: UnitOfWorkFactory) -> None:
    async with uow() as work:
        request = await work.requests.add(_request())
        await work.requests.link_message(chat_id=5, message_id=10, request_id=request.id)
        await work.commit()
    async with uow() as work:
        assert await work.requests.linked_request(5, 10) == request.id
        assert await work.requests.linked_request(5, 11) is None
