"""Repositories: they add and query rows; only the unit of work commits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload

from storage.models import (
    Alarm,
    Area,
    Attachment,
    Base,
    Building,
    ChatState,
    DailyRun,
    InboxUpdate,
    MessageLink,
    OutboxMessage,
    PendingMessage,
    Request,
    RequestEvent,
    Resident,
    Staff,
)

ACTIVE_STATES = ("open", "accepted")
UNIT_COLUMN = {
    "grid": Request.grid_id,
    "community": Request.community_id,
    "town": Request.town_id,
    "district": Request.district_id,
}

# The statements every new request runs, built once: building one costs as much CPU as
# executing it, and a statement object keeps its cache key (see bench/intake.py).
_DUPLICATE_CANDIDATES = (
    select(Request.id, Request.text)
    .where(Request.grid_id == bindparam("grid"), Request.category == bindparam("category"),
           Request.state.in_(ACTIVE_STATES), Request.duplicate_of.is_(None),
           Request.created_at >= bindparam("since"), Request.id != bindparam("exclude"))
    .order_by(Request.id)
    .limit(50)
)
_COUNT_LINKED = select(func.count()).where(Request.duplicate_of == bindparam("original"))
_RESIDENT_ACTIVITY = (
    select(RequestEvent.action, func.count())
    .where(RequestEvent.actor_id == bindparam("actor"), RequestEvent.at >= bindparam("since"),
           RequestEvent.action.in_(("submitted", "detail")))
    .group_by(RequestEvent.action)
)
_STAFF_OF_UNIT = (
    select(Staff)
    .where(Staff.unit_kind == bindparam("kind"), Staff.unit_id == bindparam("unit"),
           Staff.active.is_(True))
    .order_by(Staff.id)
)


class RequestRepository:
    """Requests, their attachments, timelines and the messages that point at them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, request: Request) -> Request:
        self.session.add(request)
        await self.session.flush()
        return request

    async def get(self, request_id: int, *, for_update: bool = False,
                  attachments: bool = True) -> Request | None:
        """`attachments=False` when the caller does not look at them: they are otherwise
        loaded with the request (a second statement); touching them then raises."""
        query = select(Request).where(Request.id == request_id)
        if not attachments:
            query = query.options(raiseload(Request.attachments))
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def duplicate_candidates(self, grid_id: str, category: str, since: datetime,
                                   exclude: int) -> Sequence[tuple[int, str]]:
        """(number, text) of the open requests of the same grid and category since `since`
        that others may join; only what comparing needs, so the whole rows are not loaded."""
        rows = await self.session.execute(_DUPLICATE_CANDIDATES, {
            "grid": grid_id, "category": category, "since": since, "exclude": exclude})
        return [(number, text) for number, text in rows]

    async def linked_to(self, original_id: int) -> Sequence[Request]:
        query = select(Request).where(Request.duplicate_of == original_id).order_by(Request.id)
        return (await self.session.execute(query)).scalars().all()

    async def count_linked_to(self, original_id: int) -> int:
        """How many requests are linked to `original_id` (without loading them)."""
        result = await self.session.execute(_COUNT_LINKED, {"original": original_id})
        return int(result.scalar_one())

    async def corrections(self) -> Sequence[tuple[str, str]]:
        """(request text, correction note) for every recorded category correction."""
        query = (
            select(Request.text, RequestEvent.note)
            .join(RequestEvent, RequestEvent.request_id == Request.id)
            .where(RequestEvent.action == "corrected")
            .order_by(RequestEvent.id)
        )
        return [(text, note) for text, note in await self.session.execute(query)]

    async def by_update(self, update_id: int) -> Request | None:
        query = select(Request).where(Request.source_update_id == update_id)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def resident_activity(self, resident_id: int, since: datetime) -> tuple[int, int]:
        """(requests submitted, messages sent) by a resident since `since`, for flood control."""
        rows = await self.session.execute(
            _RESIDENT_ACTIVITY, {"actor": str(resident_id), "since": since})
        counts: dict[str, int] = {action: n for action, n in rows}
        return counts.get("submitted", 0), sum(counts.values())

    async def latest_active_of(self, resident_id: int) -> Request | None:
        query = (
            select(Request)
            .where(Request.resident_id == resident_id, Request.state.in_(ACTIVE_STATES))
            .order_by(Request.id.desc())
            .limit(1)
            .with_for_update()
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def add_event(self, event: RequestEvent) -> None:
        self.session.add(event)

    async def add_attachment(self, attachment: Attachment) -> None:
        self.session.add(attachment)

    async def timeline(self, request_id: int) -> Sequence[RequestEvent]:
        query = (
            select(RequestEvent)
            .where(RequestEvent.request_id == request_id)
            .order_by(RequestEvent.at, RequestEvent.id)
        )
        return (await self.session.execute(query)).scalars().all()

    async def of_resident(self, resident_id: int, limit: int = 20) -> Sequence[Request]:
        query = (
            select(Request)
            .where(Request.resident_id == resident_id)
            .order_by(Request.id.desc())
            .limit(limit)
        )
        return (await self.session.execute(query)).scalars().all()

    async def held_by_worker(self, staff_id: int, grid_ids: Sequence[str]) -> Sequence[Request]:
        """Active requests a grid worker holds: their grid's at grid level, or theirs by name."""
        query = (
            select(Request)
            .where(
                Request.state.in_(ACTIVE_STATES),
                or_(
                    Request.holder_id == staff_id,
                    and_(Request.level == 0, Request.grid_id.in_(grid_ids)),
                ),
            )
            .order_by(Request.id)
        )
        return (await self.session.execute(query)).scalars().all()

    async def in_area(
        self,
        unit_kind: str,
        unit_id: str,
        *,
        states: Sequence[str] = ACTIVE_STATES,
        overdue_at: datetime | None = None,
        limit: int = 50,
    ) -> Sequence[Request]:
        """Requests inside an area, optionally only those past a deadline at `overdue_at`."""
        query = select(Request).where(
            UNIT_COLUMN[unit_kind] == unit_id, Request.state.in_(states)
        )
        if overdue_at is not None:
            query = query.where(
                or_(
                    and_(Request.state == "open", Request.ack_due_at < overdue_at),
                    Request.resolve_due_at < overdue_at,
                )
            )
        query = query.order_by(Request.level.desc(), Request.id).limit(limit)
        return (await self.session.execute(query)).scalars().all()

    async def due_steps(self, now: datetime, limit: int) -> Sequence[Request]:
        """Requests whose next step is due, locked; rows another process holds are skipped."""
        query = (
            select(Request)
            .where(Request.next_step_at <= now)
            .order_by(Request.next_step_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.execute(query)).scalars().all()

    async def next_step_at(self) -> datetime | None:
        query = select(func.min(Request.next_step_at))
        return (await self.session.execute(query)).scalar_one_or_none()

    async def without_future_step(self, before: datetime) -> Sequence[Request]:
        """Active requests with no pending step, or with one overdue since before `before`."""
        query = (
            select(Request)
            .where(
                Request.state.in_(ACTIVE_STATES),
                or_(Request.next_step_at.is_(None), Request.next_step_at < before),
            )
            .order_by(Request.id)
        )
        return (await self.session.execute(query)).scalars().all()

    async def count_in_area(
        self, unit_kind: str, unit_id: str, column: str, since: datetime
    ) -> int:
        """How many requests of an area had `column` (a timestamp) set since `since`."""
        stamp = getattr(Request, column)
        query = select(func.count()).where(UNIT_COLUMN[unit_kind] == unit_id, stamp >= since)
        return int((await self.session.execute(query)).scalar_one())

    async def escalated_in_area(self, unit_kind: str, unit_id: str, since: datetime) -> int:
        query = (
            select(func.count(func.distinct(RequestEvent.request_id)))
            .join(Request, Request.id == RequestEvent.request_id)
            .where(
                UNIT_COLUMN[unit_kind] == unit_id,
                RequestEvent.at >= since,
                RequestEvent.action.in_(("escalated", "auto_escalated")),
            )
        )
        return int((await self.session.execute(query)).scalar_one())

    async def link_message(self, chat_id: int, message_id: int, request_id: int) -> None:
        await self.link_messages([(chat_id, message_id, request_id)])

    async def link_messages(self, links: Sequence[tuple[int, int, int]]) -> None:
        """Remember which request each (chat, message) the bot sent is about."""
        if not links:
            return
        statement = _insert_for(self.session)(MessageLink).values([
            {"chat_id": chat, "message_id": message, "request_id": request}
            for chat, message, request in links])
        await self.session.execute(statement.on_conflict_do_nothing(
            index_elements=["chat_id", "message_id"]))

    async def linked_request(self, chat_id: int, message_id: int) -> int | None:
        query = select(MessageLink.request_id).where(
            MessageLink.chat_id == chat_id, MessageLink.message_id == message_id
        )
        return (await self.session.execute(query)).scalar_one_or_none()


class ResidentRepository:
    """Residents and the messages they sent before binding to a building."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, telegram_id: int) -> Resident | None:
        return await self.session.get(Resident, telegram_id)

    async def add(self, resident: Resident) -> Resident:
        self.session.add(resident)
        await self.session.flush()
        return resident

    async def keep_pending(self, message: PendingMessage) -> None:
        self.session.add(message)

    async def pending_from_update(self, update_id: int) -> PendingMessage | None:
        query = select(PendingMessage).where(PendingMessage.source_update_id == update_id)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def take_pending(self, resident_id: int) -> Sequence[PendingMessage]:
        query = (
            select(PendingMessage)
            .where(PendingMessage.resident_id == resident_id)
            .order_by(PendingMessage.id)
        )
        rows = (await self.session.execute(query)).scalars().all()
        await self.session.execute(
            delete(PendingMessage).where(PendingMessage.resident_id == resident_id)
        )
        return rows

    async def count_pending(self, resident_id: int) -> int:
        query = select(func.count()).where(PendingMessage.resident_id == resident_id)
        return int((await self.session.execute(query)).scalar_one())

    async def forget(self, resident_id: int, scrub: Callable[[str], str]) -> int:
        """Delete a resident's personal data; keep their requests for the record, anonymised.

        Returns how many requests were anonymised.
        """
        requests = (await self.session.execute(
            select(Request).where(Request.resident_id == resident_id))).scalars().all()
        for request in requests:
            request.resident_id = 0
            request.text = scrub(request.text)
        events = (await self.session.execute(select(RequestEvent).where(
            RequestEvent.actor_kind == "resident",
            RequestEvent.actor_id == str(resident_id)))).scalars().all()
        for event in events:
            event.actor_id, event.actor_name, event.note = None, "居民", scrub(event.note)
        await self.session.execute(
            delete(PendingMessage).where(PendingMessage.resident_id == resident_id))
        await self.session.execute(delete(MessageLink).where(MessageLink.chat_id == resident_id))
        await self.session.execute(
            delete(ChatState).where(ChatState.key.like(f"%:{resident_id}:{resident_id}%")))
        pending = (await self.session.execute(select(OutboxMessage).where(
            OutboxMessage.chat_id == resident_id,
            OutboxMessage.status.in_(("pending", "sending"))))).scalars().all()
        for message in pending:
            message.status, message.last_error = "cancelled", "resident asked to be forgotten"
        resident = await self.session.get(Resident, resident_id)
        if resident is not None:
            await self.session.delete(resident)
        return len(requests)


class StaffRepository:
    """Workers, supervisors and department members."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, staff_id: int) -> Staff | None:
        return await self.session.get(Staff, staff_id)

    async def by_telegram_id(self, telegram_id: int) -> Sequence[Staff]:
        query = select(Staff).where(Staff.telegram_id == telegram_id, Staff.active.is_(True))
        return (await self.session.execute(query)).scalars().all()

    async def by_key(self, key: str) -> Staff | None:
        query = select(Staff).where(Staff.key == key)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def by_invite(self, token: str) -> Staff | None:
        query = select(Staff).where(Staff.invite_token == token, Staff.active.is_(True))
        return (await self.session.execute(query)).scalar_one_or_none()

    async def of_unit(self, unit_kind: str, unit_id: str) -> Sequence[Staff]:
        result = await self.session.execute(_STAFF_OF_UNIT, {"kind": unit_kind, "unit": unit_id})
        return result.scalars().all()

    async def all(self) -> Sequence[Staff]:
        return (await self.session.execute(select(Staff).order_by(Staff.id))).scalars().all()

    async def add(self, staff: Staff) -> Staff:
        self.session.add(staff)
        await self.session.flush()
        return staff


class OrgCache:
    """Areas and buildings held in memory between reloads of the organisation file.

    They change only when the file is synced at start, yet every request reads several of
    their names; reading them once per process takes a third of the queries off each request.
    """

    def __init__(self) -> None:
        self.areas: dict[str, Area] | None = None
        self.buildings: dict[str, Building] | None = None

    def clear(self) -> None:
        self.areas = self.buildings = None


class OrganisationRepository:
    """Areas and buildings as last loaded from the organisation file."""

    def __init__(self, session: AsyncSession, cache: OrgCache | None = None) -> None:
        self.session = session
        self.cache = cache

    async def areas(self) -> Sequence[Area]:
        return (await self.session.execute(select(Area))).scalars().all()

    async def area(self, area_id: str) -> Area | None:
        if self.cache is None:
            return await self.session.get(Area, area_id)
        if self.cache.areas is None:
            rows = (await self.session.execute(select(Area))).scalars().all()
            self.cache.areas = {a.id: a for a in rows}
        return self.cache.areas.get(area_id)

    async def children(self, parent_id: str, kind: str) -> Sequence[Area]:
        query = (
            select(Area)
            .where(Area.parent_id == parent_id, Area.kind == kind, Area.active.is_(True))
            .order_by(Area.position)
        )
        return (await self.session.execute(query)).scalars().all()

    async def of_kind(self, kind: str) -> Sequence[Area]:
        query = (select(Area).where(Area.kind == kind, Area.active.is_(True))
                 .order_by(Area.position))
        return (await self.session.execute(query)).scalars().all()

    async def buildings(self) -> Sequence[Building]:
        return (await self.session.execute(select(Building))).scalars().all()

    async def building(self, code: str) -> Building | None:
        if self.cache is None:
            return await self.session.get(Building, code.upper())
        if self.cache.buildings is None:
            rows = (await self.session.execute(select(Building))).scalars().all()
            self.cache.buildings = {b.code: b for b in rows}
        return self.cache.buildings.get(code.upper())

    async def buildings_of_grids(self, grid_ids: Sequence[str]) -> Sequence[Building]:
        query = (
            select(Building)
            .where(Building.grid_id.in_(grid_ids), Building.active.is_(True))
            .order_by(Building.position)
        )
        return (await self.session.execute(query)).scalars().all()

    def add(self, row: Area | Building) -> None:
        self.session.add(row)


class OutboxRepository:
    """Messages waiting to be delivered, and what became of them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, message: OutboxMessage) -> None:
        self.session.add(message)

    async def mark_sent(self, sent: Sequence[tuple[int, int, datetime]]) -> None:
        """Record deliveries, each (outbox id, Telegram message id, when), in one statement."""
        await _update_each(
            self.session, OutboxMessage, "id",
            {"status": "sent", "sent_at": bindparam("at"), "claimed_at": None,
             "telegram_message_id": bindparam("message")},
            [{"key": key, "message": message, "at": at} for key, message, at in sent])

    async def claim(self, now: datetime, limit: int) -> Sequence[OutboxMessage]:
        """Take the next due messages for this sender; another process skips them."""
        waiting = select(OutboxMessage.chat_id).where(
            OutboxMessage.status.in_(("pending", "sending")),
            or_(OutboxMessage.not_before > now, OutboxMessage.status == "sending"),
        )
        query = (
            select(OutboxMessage)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.not_before <= now,
                OutboxMessage.chat_id.not_in(waiting),
            )
            .order_by(OutboxMessage.priority, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = (await self.session.execute(query)).scalars().all()
        for row in rows:
            row.status = "sending"
            row.claimed_at = now
        return rows

    async def release_stale_claims(self, older_than: datetime) -> int:
        """Claims of a sender that died mid-send go back to the queue."""
        query = select(OutboxMessage).where(
            OutboxMessage.status == "sending", OutboxMessage.claimed_at < older_than
        )
        rows = (await self.session.execute(query)).scalars().all()
        for row in rows:
            row.status = "pending"
        return len(rows)

    async def get(self, message_id: int) -> OutboxMessage | None:
        return await self.session.get(OutboxMessage, message_id)

    async def next_wakeup(self) -> datetime | None:
        query = select(func.min(OutboxMessage.not_before)).where(OutboxMessage.status == "pending")
        return (await self.session.execute(query)).scalar_one_or_none()

    async def count(self, status: str) -> int:
        query = select(func.count()).where(OutboxMessage.status == status)
        return int((await self.session.execute(query)).scalar_one())

    async def purge_finished(self, before: datetime) -> int:
        """Forget delivered (or given-up) messages older than `before`; they hold personal text."""
        result = await self.session.execute(delete(OutboxMessage).where(
            OutboxMessage.status.in_(("sent", "failed", "cancelled", "undeliverable")),
            OutboxMessage.created_at < before))
        return int(getattr(result, "rowcount", 0) or 0)

    async def undeliverable(self, limit: int = 50) -> Sequence[OutboxMessage]:
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.status == "undeliverable")
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
        return (await self.session.execute(query)).scalars().all()


class RunRepository:
    """Daily jobs that ran, and alarms already raised."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def has_run(self, job: str, day: str) -> bool:
        return await self.session.get(DailyRun, (job, day)) is not None

    async def mark_run(self, job: str, day: str, at: datetime) -> None:
        self.session.add(DailyRun(job=job, day=day, at=at))
        await self.session.flush()  # a second process's insert fails here, not later

    async def alarm(self, key: str) -> Alarm | None:
        return await self.session.get(Alarm, key)

    async def set_alarm(self, key: str, fingerprint: str | None, at: datetime) -> None:
        row = await self.session.get(Alarm, key)
        if fingerprint is None:
            if row is not None:
                await self.session.delete(row)
            return
        if row is None:
            self.session.add(Alarm(key=key, fingerprint=fingerprint, at=at))
        else:
            row.fingerprint, row.at = fingerprint, at


ANNOUNCE_CHUNK = 500  # update ids of up to 12 digits and a comma: 6,500 bytes


class InboxRepository:
    """Telegram updates as they arrived, until they are handled."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, rows: Sequence[dict[str, Any]]) -> set[int]:
        """Insert updates; one already recorded (a redelivery) is left as it is.

        Returns the ids that are new, so that only those are handled.
        """
        if not rows:
            return set()
        statement = _insert_for(self.session)(InboxUpdate).values(list(rows))
        statement = statement.on_conflict_do_nothing(index_elements=["update_id"])
        result = await self.session.execute(statement.returning(InboxUpdate.update_id))
        return set(result.scalars().all())

    async def pending_ids(self) -> list[int]:
        """Every recorded update not yet handled, oldest first."""
        query = (
            select(InboxUpdate.update_id)
            .where(InboxUpdate.status == "pending")
            .order_by(InboxUpdate.update_id)
        )
        return list((await self.session.execute(query)).scalars().all())

    async def pending_of(self, update_ids: Sequence[int]) -> Sequence[InboxUpdate]:
        """Those of these updates that are still to be handled, oldest first."""
        query = (
            select(InboxUpdate)
            .where(InboxUpdate.update_id.in_(update_ids), InboxUpdate.status == "pending")
            .order_by(InboxUpdate.update_id)
        )
        return (await self.session.execute(query)).scalars().all()

    async def announce(self, channel: str, update_ids: Sequence[int]) -> None:
        """PostgreSQL: tell whoever listens on `channel`, when this transaction commits, which
        updates were recorded. A NOTIFY payload holds under 8,000 bytes: long lists are cut."""
        for start in range(0, len(update_ids), ANNOUNCE_CHUNK):
            payload = ",".join(map(str, update_ids[start:start + ANNOUNCE_CHUNK]))
            await self.session.execute(select(func.pg_notify(channel, payload)))

    async def count_pending(self) -> int:
        query = select(func.count()).where(InboxUpdate.status == "pending")
        return int((await self.session.execute(query)).scalar_one())

    async def finish_many(self, handled: Sequence[tuple[int, datetime, str | None]]) -> None:
        """Mark updates handled ("done", or "failed" with the error) in one statement."""
        await _update_each(
            self.session, InboxUpdate, "update_id",
            {"status": bindparam("new_status"), "finished_at": bindparam("at"),
             "last_error": bindparam("error")},
            [{"key": update_id, "new_status": "failed" if error else "done", "at": at,
              "error": error} for update_id, at, error in handled])

    async def purge_done(self, before: datetime) -> int:
        result = await self.session.execute(
            delete(InboxUpdate).where(InboxUpdate.status == "done",
                                      InboxUpdate.finished_at < before))
        return int(getattr(result, "rowcount", 0) or 0)


class ChatStateRepository:
    """Conversation state of each chat for aiogram's FSM."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: str) -> ChatState | None:
        return await self.session.get(ChatState, key)

    async def put(self, key: str, *, state: Any = ..., data: Any = ...) -> None:
        row = await self.session.get(ChatState, key)
        if row is None:
            row = ChatState(key=key, state=None, data={})
            self.session.add(row)
        if state is not ...:
            row.state = state
        if data is not ...:
            row.data = dict(data)


def _insert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT DO NOTHING (SQLite and PostgreSQL)."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    return pg_insert if dialect == "postgresql" else sqlite_insert


async def _update_each(session: AsyncSession, model: type[Base], key: str,
                       values: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """One UPDATE … WHERE <key> = :key, run for every row (executemany), counting an attempt.

    For rows written in batches (GroupCommit): one statement instead of a load and a flush
    per row. `values` may refer to each row's own parameters with bindparam().
    """
    if not rows:
        return
    table = cast(Table, model.__table__)
    statement = (
        update(table)
        .where(table.c[key] == bindparam("key"))
        .values(**values, attempts=table.c.attempts + 1)
    )
    await session.execute(statement, rows)
