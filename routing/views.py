"""Plain snapshots of requests for the chat layer and the outbox (no ORM objects leave routing)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from routing.lifecycle import LEVEL_ORDER
from routing.privacy import mask_personal
from routing.taxonomy import Taxonomy
from storage.models import Request, RequestEvent, Staff
from storage.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class AttachmentView:
    """A photo, voice, location or document of a request."""

    kind: str
    file_id: str | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RequestView:
    """What a message about a request may say of it."""

    number: int
    text: str
    category: str
    category_zh: str
    category_en: str
    urgency: str
    state: str
    level: int
    level_kind: str
    building_code: str
    building: str
    grid: str
    community: str
    town: str
    holder: str
    holder_is_person: bool
    first_receiver: str
    created_at: str
    ack_due_at: str | None
    resolve_due_at: str | None
    rating: str | None
    attachments: tuple[AttachmentView, ...] = ()
    needs_review: bool = False
    duplicate_of: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestView:
        values = dict(data)
        values["attachments"] = tuple(AttachmentView(**a) for a in values.get("attachments", ()))
        return cls(**values)

    @property
    def address(self) -> str:
        return f"{self.community}{self.building}"

    def masked(self) -> RequestView:
        """The same request with phone and room numbers hidden."""
        return replace(self, text=mask_personal(self.text))


@dataclass(frozen=True, slots=True)
class EventView:
    """One line of a timeline."""

    at: str
    actor: str
    action: str
    note: str


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def area_name(uow: UnitOfWork, area_id: str) -> str:
    area = await uow.organisation.area(area_id)
    return area.name if area else area_id


async def holder_name(uow: UnitOfWork, request: Request) -> str:
    """The named holder, or the unit holding the request at its level."""
    if request.holder_id is not None:
        staff = await uow.staff.get(request.holder_id)
        if staff is not None:
            return staff.name
    level = LEVEL_ORDER[request.level]
    unit_id = {
        "grid": request.grid_id,
        "community": request.community_id,
        "town": request.town_id,
        "district": request.district_id,
    }[level]
    return await area_name(uow, unit_id)


async def request_view(uow: UnitOfWork, request: Request, taxonomy: Taxonomy) -> RequestView:
    """Snapshot a stored request with the names a reader needs."""
    building = await uow.organisation.building(request.building_code)
    first: Staff | None = (
        await uow.staff.get(request.first_receiver_id) if request.first_receiver_id else None
    )
    return RequestView(
        number=request.id,
        text=request.text,
        category=request.category,
        category_zh=taxonomy.zh(request.category),
        category_en=taxonomy.get(request.category).en,
        urgency=request.urgency,
        state=request.state,
        level=request.level,
        level_kind=LEVEL_ORDER[request.level].value,
        building_code=request.building_code,
        building=building.name if building else request.building_code,
        grid=await area_name(uow, request.grid_id),
        community=await area_name(uow, request.community_id),
        town=await area_name(uow, request.town_id),
        holder=await holder_name(uow, request),
        holder_is_person=request.holder_id is not None,
        first_receiver=first.name if first else "",
        created_at=request.created_at.isoformat(),
        ack_due_at=_iso(request.ack_due_at),
        resolve_due_at=_iso(request.resolve_due_at),
        rating=request.rating,
        attachments=tuple(
            AttachmentView(kind=a.kind, file_id=a.file_id, extra=dict(a.extra))
            for a in request.attachments
        ),
        needs_review=request.needs_review,
        duplicate_of=request.duplicate_of,
    )


def event_views(events: list[RequestEvent] | tuple[RequestEvent, ...]) -> list[EventView]:
    return [
        EventView(at=e.at.isoformat(), actor=e.actor_name, action=e.action, note=e.note)
        for e in events
    ]
