"""The unit of work: one transaction, its repositories, and a hook run after it commits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import READ_ONLY
from storage.repositories import (
    ChatStateRepository,
    InboxRepository,
    OrganisationRepository,
    OrgCache,
    OutboxRepository,
    RequestRepository,
    ResidentRepository,
    RunRepository,
    StaffRepository,
)


class WriterGate:
    """Lets one unit of work at a time at a SQLite database, in arrival order.

    SQLite has one writer; transactions that meet its lock wait in its busy handler, which
    sleeps in growing steps. Queuing them here instead costs nothing and keeps latency flat.
    Re-entrant within a task, so a unit of work opened inside another cannot deadlock.
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[object] | None = None
        self._depth = 0

    async def acquire(self) -> None:
        task = asyncio.current_task()
        if task is not None and task is self._owner:
            self._depth += 1
            return
        await self._lock.acquire()
        self._owner, self._depth = task, 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()


class UnitOfWork:
    """Everything a use case changes commits together, or nothing does."""

    session: AsyncSession
    requests: RequestRepository
    residents: ResidentRepository
    staff: StaffRepository
    organisation: OrganisationRepository
    outbox: OutboxRepository
    chat_states: ChatStateRepository
    runs: RunRepository
    inbox: InboxRepository

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        after_commit: Callable[[UnitOfWork], None] | None = None,
        gate: WriterGate | None = None,
        cache: OrgCache | None = None,
    ) -> None:
        self._sessions = sessions
        self._after_commit = after_commit
        self._gate = gate
        self._cache = cache
        self._reading = False

    def reading(self) -> UnitOfWork:
        """Make this a read-only unit of work: on SQLite it does not queue behind writers.

        SQLite in WAL mode lets readers run beside the one writer, each on its own snapshot,
        so a lookup (a chat's state, someone's roles) need not wait for the writer's turn.
        It must not write: it would take the write lock outside the queue.
        """
        self._reading = True
        return self

    async def __aenter__(self) -> UnitOfWork:
        gate = None if self._reading else self._gate
        if gate is not None:
            await gate.acquire()
        self.session = self._sessions()
        if self._reading:
            await self.session.connection(execution_options=_read_options(self.session))
        # What this transaction did that others must react to once it commits.
        self.queued_messages = False
        self.earliest_step: datetime | None = None
        self.requests = RequestRepository(self.session)
        self.residents = ResidentRepository(self.session)
        self.staff = StaffRepository(self.session)
        self.organisation = OrganisationRepository(self.session, self._cache)
        self.outbox = OutboxRepository(self.session)
        self.chat_states = ChatStateRepository(self.session)
        self.runs = RunRepository(self.session)
        self.inbox = InboxRepository(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed, but, unlike rollback(), leaves the
        # loaded objects readable: use cases return snapshots built from them.
        try:
            await self.session.close()
        finally:
            if self._gate is not None and not self._reading:
                self._gate.release()

    async def commit(self) -> None:
        """End the transaction; then tell the sender and the timers what it changed."""
        await self.session.commit()
        if self._after_commit is not None:
            self._after_commit(self)

    def step_planned(self, at: datetime | None) -> None:
        """A request's next timer step was set; the timers may need to wake earlier."""
        if at is not None and (self.earliest_step is None or at < self.earliest_step):
            self.earliest_step = at


UnitOfWorkFactory = Callable[[], "UnitOfWork"]

_READING: dict[str, object] = {READ_ONLY: True}
# On PostgreSQL a reading unit of work runs without BEGIN and ROLLBACK, two round trips of
# the four a one-lookup read costs (the FSM state of every update, someone's roles). Under
# READ COMMITTED, PostgreSQL's default, each statement of a transaction takes a snapshot of
# its own anyway, so the reads see what they saw inside one; and reading() must not write.
_READING_PG: dict[str, object] = {READ_ONLY: True, "isolation_level": "AUTOCOMMIT"}


def _read_options(session: AsyncSession) -> dict[str, object]:
    bind = session.bind
    return _READING_PG if bind is not None and bind.dialect.name == "postgresql" else _READING
