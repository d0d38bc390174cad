"""The unit of work: one transaction, its repositories, and a hook run after it commits."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.repositories import (
    ChatStateRepository,
    InboxRepository,
    OrganisationRepository,
    OutboxRepository,
    RequestRepository,
    ResidentRepository,
    RunRepository,
    StaffRepository,
)


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
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._after_commit = after_commit

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self.requests = RequestRepository(self.session)
        self.residents = ResidentRepository(self.session)
        self.staff = StaffRepository(self.session)
        self.organisation = OrganisationRepository(self.session)
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
        await self.session.close()

    async def commit(self) -> None:
        """End the transaction; then wake whoever waits for new outbox rows."""
        await self.session.commit()
        if self._after_commit is not None:
            self._after_commit()


UnitOfWorkFactory = Callable[[], UnitOfWork]
