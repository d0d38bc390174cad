"""The database tables: organisation, people, requests with their timeline, outbox, chat state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with constraint names Alembic can rely on."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Area(Base):
    """A unit of the organisation: district, town/street, community or grid."""

    __tablename__ = "areas"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Building(Base):
    """A residential building (or village part) with the QR code residents scan."""

    __tablename__ = "buildings"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    households: Mapped[int] = mapped_column(Integer, default=0)
    grid_id: Mapped[str] = mapped_column(String(64), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Staff(Base):
    """A grid worker, supervisor or department member, bound to a unit of the organisation."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    unit_kind: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[str] = mapped_column(String(64), index=True)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    invite_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Resident(Base):
    """A Telegram user who reports requests, bound to one building at a time."""

    __tablename__ = "residents"

    telegram_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(8), default="zh")
    building_code: Mapped[str | None] = mapped_column(String(64))
    bound_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class PendingMessage(Base):
    """A message an unbound resident sent: kept until they bind, then submitted."""

    __tablename__ = "pending_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(BigInteger, index=True)
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    source_update_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)


class InboxUpdate(Base):
    """A Telegram update, recorded before Telegram is told it arrived; done once handled."""

    __tablename__ = "inbox"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_inbox_status", "status", "update_id"),)


class Request(Base):
    """A resident's request (诉求); its id is the number shown as #<n>."""

    __tablename__ = "requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(BigInteger, index=True)
    # The Telegram update it came from: handling the same update again finds it, never a twin.
    source_update_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    text: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(64))
    urgency: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    # 待确认: the classifier was unsure, so the worker is asked to check the category.
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # A duplicate joined to an earlier request of the same place and kind (state merged).
    duplicate_of: Mapped[int | None] = mapped_column(Integer, index=True)
    state: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer, default=0)
    ladder: Mapped[list[Any]]
    building_code: Mapped[str] = mapped_column(String(64))
    grid_id: Mapped[str] = mapped_column(String(64), index=True)
    community_id: Mapped[str] = mapped_column(String(64), index=True)
    town_id: Mapped[str] = mapped_column(String(64), index=True)
    district_id: Mapped[str] = mapped_column(String(64))
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    first_receiver_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    rating: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    ack_due_at: Mapped[datetime | None]
    resolve_due_at: Mapped[datetime | None]
    # The clock: the current level's windows started at window_started_at; the next timer step
    # (remind or escalate) is a fact here, so a restart finds it and fires it once.
    window_started_at: Mapped[datetime | None]
    next_step_at: Mapped[datetime | None] = mapped_column(index=True)
    next_step: Mapped[str | None] = mapped_column(String(16))
    reminded: Mapped[str | None] = mapped_column(String(16))
    steps_fired: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    resident_urged_at: Mapped[datetime | None]
    extension_until: Mapped[datetime | None]
    extension_reason: Mapped[str | None] = mapped_column(Text)
    extension_by: Mapped[int | None] = mapped_column(Integer)

    attachments: Mapped[list[Attachment]] = relationship(
        order_by="Attachment.id", lazy="selectin", cascade="all, delete-orphan"
    )

    __table_args__ = (Index("ix_requests_state_level", "state", "level"),)


class Attachment(Base):
    """A photo, voice message, location or document that came with a request."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    file_id: Mapped[str | None] = mapped_column(String(256))
    extra: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class RequestEvent(Base):
    """One line of a request's timeline; rows are only ever added."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    at: Mapped[datetime]
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    state_from: Mapped[str | None] = mapped_column(String(16))
    state_to: Mapped[str | None] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_request_events_actor_at", "actor_id", "at"),)


class OutboxMessage(Base):
    """Something to tell someone, written with the change it reports, delivered by the sender."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8), default="zh")
    payload: Mapped[dict[str, Any]]
    request_id: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer, default=5)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_outbox_due", "status", "priority", "id"),
        Index("ix_outbox_chat", "chat_id", "status"),
    )


class MessageLink(Base):
    """Which request a message the bot sent is about, so a reply to it adds to that request."""

    __tablename__ = "message_links"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    request_id: Mapped[int] = mapped_column(Integer, index=True)


class DailyRun(Base):
    """A periodic job that ran for a day (the morning digest), so it never runs twice."""

    __tablename__ = "daily_runs"

    job: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    at: Mapped[datetime]


class Alarm(Base):
    """An alarm raised to supervisors (a failed audit), remembered so it is raised once."""

    __tablename__ = "alarms"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class ChatState(Base):
    """aiogram FSM state and data of one chat, kept in the database to survive restarts."""

    __tablename__ = "chat_states"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]]
