"""Who must be told what about a request: outbox rows written in the use case's transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from routing.lifecycle import LEVEL_ORDER, Level
from routing.privacy import mask_payload
from routing.views import AttachmentView, RequestView
from storage.models import OutboxMessage, Request, Staff
from storage.uow import UnitOfWork


class Notice(StrEnum):
    """The kinds of message the outbox carries; the chat layer has a text for each."""

    SUBMITTED = "submitted"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    ESCALATED_RESIDENT = "escalated_resident"
    RETURNED = "returned"
    URGED = "urged"
    TAKEN_OVER = "taken_over"
    HANDED_BACK = "handed_back"
    REASSIGNED_RESIDENT = "reassigned_resident"
    DETAIL = "detail"
    DETAIL_ADDED = "detail_added"
    WITHDRAWN = "withdrawn"
    RATED = "rated"
    REOPENED = "reopened"
    STEP = "step"
    ATTACHMENT = "attachment"
    STAFF_BOUND = "staff_bound"
    REMINDER = "reminder"
    AUDIT_FAILED = "audit_failed"
    DIGEST_SUPERVISOR = "digest_supervisor"
    DIGEST_WORKER = "digest_worker"
    EXTENSION_ASKED = "extension_asked"
    EXTENSION_DECIDED = "extension_decided"
    EXTENSION_RESIDENT = "extension_resident"
    CHASED = "chased"
    LINKED = "linked"
    LINKED_RESIDENT = "linked_resident"


class Keyboard(StrEnum):
    """Which buttons go under a message."""

    NONE = "none"
    WORKER = "worker"
    SUPERVISOR = "supervisor"
    RATING = "rating"
    RESIDENT = "resident"
    EXTENSION = "extension"
    LINKED = "linked"


class Priority:
    """Outbox order: lower goes first."""

    URGENT = 0
    ESCALATION = 1
    ROUTINE = 5
    DIGEST = 9


def priority_for(request: Request, *, escalation: bool = False) -> int:
    if request.urgency == "urgent":
        return Priority.URGENT
    return Priority.ESCALATION if escalation else Priority.ROUTINE


def masked_for(person: Staff) -> bool:
    """Supervisors above the community get phone and room numbers hidden."""
    return person.role == "supervisor" and person.unit_kind in (Level.TOWN, Level.DISTRICT)


class Notifier:
    """Writes outbox rows for residents and staff inside the current unit of work."""

    def __init__(self, uow: UnitOfWork, clock: Callable[[], datetime]) -> None:
        self.uow = uow
        self.clock = clock

    def _add(
        self,
        chat_id: int,
        language: str,
        kind: Notice,
        view: RequestView | None,
        priority: int,
        keyboard: Keyboard,
        extra: dict[str, Any],
        *,
        mask: bool = False,
    ) -> None:
        if chat_id == 0:
            return  # a resident who asked to be forgotten: their request goes on, untold
        now = self.clock()
        payload: dict[str, Any] = {"kind": kind.value, "keyboard": keyboard.value, **extra}
        if view is not None:
            payload["request"] = view.as_dict()
        if mask:
            payload = mask_payload(payload)
        self.uow.queued_messages = True
        self.uow.outbox.add(
            OutboxMessage(
                chat_id=chat_id, kind=kind.value, language=language, payload=payload,
                request_id=view.number if view else None, priority=priority,
                status="pending", attempts=0, not_before=now, created_at=now,
            )
        )

    async def resident(
        self,
        request: Request,
        kind: Notice,
        view: RequestView,
        *,
        keyboard: Keyboard = Keyboard.NONE,
        priority: int | None = None,
        **extra: Any,
    ) -> None:
        """Tell the request's resident."""
        resident = await self.uow.residents.get(request.resident_id)
        language = resident.language if resident else "zh"
        prio = priority_for(request) if priority is None else priority
        self._add(request.resident_id, language, kind, view, prio, keyboard, extra)

    def plain(self, people: Iterable[Staff], kind: Notice, priority: int, **extra: Any) -> None:
        """A notice about no single request (digests, alarms), once to each bound person."""
        for chat in {p.telegram_id for p in people if p.telegram_id is not None}:
            self._add(chat, "zh", kind, None, priority, Keyboard.NONE, extra)

    def staff(
        self,
        people: Iterable[Staff],
        kind: Notice,
        view: RequestView | None,
        *,
        keyboard: Keyboard = Keyboard.NONE,
        priority: int = Priority.ROUTINE,
        with_attachments: bool | Sequence[AttachmentView] = False,
        skip: int | None = None,
        **extra: Any,
    ) -> None:
        """Tell each bound staff member once (never the one who acted, `skip`).

        `with_attachments`: True forwards all of the request's attachments, a sequence only those.
        """
        seen: set[int] = set()
        for person in people:
            chat = person.telegram_id
            if chat is None or chat in seen or chat == skip:
                continue
            seen.add(chat)
            self._add(chat, "zh", kind, view, priority, keyboard, extra,
                      mask=masked_for(person))
            if with_attachments and view is not None:
                items = view.attachments if with_attachments is True else with_attachments
                for attachment in items:
                    self._attachment(chat, view.number, attachment, priority)

    def _attachment(self, chat: int, number: int, item: AttachmentView, priority: int) -> None:
        extra = {"attachment": {"kind": item.kind, "file_id": item.file_id, "extra": item.extra},
                 "number": number}
        self._add(chat, "zh", Notice.ATTACHMENT, None, priority, Keyboard.NONE, extra)

    async def unit_members(self, level: Level, unit_id: str) -> Sequence[Staff]:
        role = "worker" if level == Level.GRID else "supervisor"
        return [s for s in await self.uow.staff.of_unit(level.value, unit_id) if s.role == role]

    async def holders(self, request: Request) -> list[Staff]:
        """Who holds the request now; if nobody there is bound, the nearest bound level above."""
        if request.holder_id is not None:
            holder = await self.uow.staff.get(request.holder_id)
            if holder is not None and holder.active and holder.telegram_id is not None:
                return [holder]
        for rank in range(request.level, len(LEVEL_ORDER)):
            level = LEVEL_ORDER[rank]
            unit = {
                Level.GRID: request.grid_id,
                Level.COMMUNITY: request.community_id,
                Level.TOWN: request.town_id,
                Level.DISTRICT: request.district_id,
            }[level]
            bound = [s for s in await self.unit_members(level, unit) if s.telegram_id is not None]
            if bound:
                return bound
        return []

    async def first_receiver(self, request: Request) -> list[Staff]:
        if request.first_receiver_id is None:
            return []
        staff = await self.uow.staff.get(request.first_receiver_id)
        return [staff] if staff is not None and staff.active else []
