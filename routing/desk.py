"""The use cases: what residents, workers and supervisors can do, each in one transaction."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, ParamSpec

from routing.classifier import Classifier, KeywordSet
from routing.deadlines import DeadlinePlanner
from routing.keywords import build_keywords
from routing.lifecycle import (
    ACTIVE,
    LEVEL_ORDER,
    TERMINAL,
    Action,
    Level,
    Placement,
    Refusal,
    Role,
    State,
    check,
    next_level,
    previous_level,
    supervises,
)
from routing.notices import Keyboard, Notice, Notifier, Priority, masked_for, priority_for
from routing.orgconfig import OrgConfig
from routing.privacy import mask_personal
from routing.similarity import similarity
from routing.sla import Duration, WorkCalendar
from routing.taxonomy import Taxonomy, Urgency
from routing.views import EventView, RequestView, area_name, event_views, request_view
from storage.models import Attachment, PendingMessage, Request, RequestEvent, Resident, Staff
from storage.uow import UnitOfWork, UnitOfWorkFactory

Clock = Callable[[], datetime]
MAX_NOTE = 1000
# Flood control per resident: past FLOOD_MAX_REQUESTS new requests in the window, messages join
# the latest request; past FLOOD_MAX_MESSAGES, they are refused with an explanation.
FLOOD_WINDOW = timedelta(minutes=10)
ROLES_KEPT_S = 10.0  # how long Desk.roles trusts an answer; use cases re-check posts anyway
ROLES_KEPT_MAX = 10_000
FLOOD_MAX_REQUESTS = 5
FLOOD_MAX_MESSAGES = 30
RATINGS = ("satisfied", "basic", "dissatisfied")


@dataclass(frozen=True, slots=True)
class Person:
    """Who is acting, as the chat layer knows them."""

    telegram_id: int
    name: str = ""
    language: str = "zh"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who a timeline line is by: a staff member, a resident or the system's clock."""

    kind: str
    key: str | None
    name: str

    @classmethod
    def of(cls, staff: Staff) -> Actor:
        return cls("staff", staff.key, staff.name)


SYSTEM = Actor("system", None, "系统")


@dataclass(frozen=True, slots=True)
class Incoming:
    """What a resident sent: text and any photo, voice, location or document."""

    text: str
    attachments: tuple[tuple[str, str | None, dict[str, Any]], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.text.strip() and not self.attachments

    def as_payload(self) -> dict[str, Any]:
        return {"text": self.text, "attachments": [list(a) for a in self.attachments]}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Incoming:
        items = tuple((a[0], a[1], dict(a[2])) for a in payload.get("attachments", []))
        return cls(text=str(payload.get("text", "")), attachments=items)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of a use case: the request as it now is, or why nothing changed."""

    view: RequestView | None = None
    refusal: Refusal | None = None
    state: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.refusal is None


@dataclass(frozen=True, slots=True)
class BindOutcome:
    """Where a resident is now bound, and the kept messages submitted on binding."""

    refusal: Refusal | None
    building: str = ""
    community: str = ""
    worker: str = ""
    submitted: tuple[RequestView, ...] = ()


@dataclass(frozen=True, slots=True)
class Choice:
    """An option for a picker button (a community, building or grid)."""

    id: str
    label: str


class Refused(Exception):
    """Raised inside a use case to end it with a refusal; nothing is committed."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.refusal)
        self.outcome = outcome


P = ParamSpec("P")


def refusable(
    method: Callable[P, Awaitable[Outcome]],
) -> Callable[P, Awaitable[Outcome]]:
    """A use case that may end with `raise Refused(...)`: the refusal becomes its outcome."""

    @functools.wraps(method)
    async def run(*args: P.args, **kwargs: P.kwargs) -> Outcome:
        try:
            return await method(*args, **kwargs)
        except Refused as refused:
            return refused.outcome

    return run


def _refused(refusal: Refusal, request: Request | None = None, **info: Any) -> Outcome:
    return Outcome(refusal=refusal, state=request.state if request else None, info=info)


class Desk:
    """Entry point of the domain: the chat layer calls one method per user action."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        config: OrgConfig,
        classifier: Classifier,
        calendar: WorkCalendar,
        clock: Clock,
    ) -> None:
        self.uow = uow
        self.config = config
        self.taxonomy: Taxonomy = config.taxonomy()
        self.classifier = classifier
        self.calendar = calendar
        self.clock = clock
        self.planner = DeadlinePlanner(config.sla, calendar)
        self._roles_seen: dict[int, tuple[float, list[Role]]] = {}

    @property
    def classifier_keywords(self) -> KeywordSet:
        """The keywords the classifier runs on (for suggestions learned from corrections)."""
        return build_keywords(self.config)

    def category_labels(self, lang: str) -> list[tuple[str, str]]:
        """(id, name) of every category, for the correction buttons."""
        return [(c.id, c.zh if lang == "zh" else c.en or c.id) for c in self.taxonomy.categories]

    # ----- who is who -------------------------------------------------------------------

    async def roles(self, telegram_id: int) -> list[Role]:
        """The posts this Telegram account holds (none for a resident).

        Asked for every message and button, to choose between the staff and resident
        handlers, so an answer is kept for a few seconds. Nothing is authorised by it: every
        use case checks the caller's post again inside its own transaction.
        """
        now = time.monotonic()
        seen = self._roles_seen.get(telegram_id)
        if seen is not None and now - seen[0] < ROLES_KEPT_S:
            return list(seen[1])
        async with self.uow().reading() as uow:
            roles = _roles(await uow.staff.by_telegram_id(telegram_id))
        if len(self._roles_seen) >= ROLES_KEPT_MAX:
            self._roles_seen.clear()
        self._roles_seen[telegram_id] = (now, roles)
        return list(roles)

    async def bind_staff(self, person: Person, token: str) -> Outcome:
        """Bind a Telegram account to the staff entry of a one-time invite."""
        async with self.uow() as uow:
            staff = await uow.staff.by_invite(token)
            if staff is None:
                return _refused(Refusal.NOT_FOUND)
            staff.telegram_id = person.telegram_id
            staff.invite_token = None
            unit = await area_name(uow, staff.unit_id) if staff.unit_kind != "department" else ""
            await uow.commit()
            self._roles_seen.pop(person.telegram_id, None)
            return Outcome(info={"name": staff.name, "role": staff.role, "unit": unit or
                                 staff.unit_id})

    # ----- residents --------------------------------------------------------------------

    async def communities(self) -> list[Choice]:
        async with self.uow().reading() as uow:
            return [Choice(a.id, a.name) for a in await uow.organisation.of_kind("community")]

    async def buildings(self, community_id: str) -> list[Choice]:
        async with self.uow().reading() as uow:
            grids = await uow.organisation.children(community_id, "grid")
            rows = await uow.organisation.buildings_of_grids([g.id for g in grids])
            return [Choice(b.code, b.name) for b in rows]

    async def resident_building(self, telegram_id: int) -> str | None:
        async with self.uow().reading() as uow:
            resident = await uow.residents.get(telegram_id)
            if resident is None or resident.building_code is None:
                return None
            building = await uow.organisation.building(resident.building_code)
            if building is None or not building.active:
                return None
            grid = await uow.organisation.area(building.grid_id)
            community = await area_name(uow, grid.parent_id) if grid and grid.parent_id else ""
            return f"{community}{building.name}"

    async def bind(self, person: Person, code: str) -> BindOutcome:
        """Bind a resident to a building by its code; submit what they sent before binding."""
        async with self.uow() as uow:
            building = await uow.organisation.building(code.strip())
            if building is None or not building.active:
                return BindOutcome(refusal=Refusal.UNKNOWN_BUILDING)
            resident = await self._resident(uow, person)
            resident.building_code = building.code
            resident.bound_at = self.clock()
            grid = await uow.organisation.area(building.grid_id)
            community = await area_name(uow, grid.parent_id) if grid and grid.parent_id else ""
            workers = [s for s in await uow.staff.of_unit("grid", building.grid_id)
                       if s.role == "worker"]
            submitted = []
            for kept in await uow.residents.take_pending(person.telegram_id):
                _, view = await self._create(uow, resident, Incoming.from_payload(kept.payload),
                                             kept.source_update_id)
                submitted.append(view)
            await uow.commit()
            return BindOutcome(
                refusal=None, building=building.name, community=community,
                worker="、".join(w.name for w in workers), submitted=tuple(submitted),
            )

    async def submit(self, person: Person, incoming: Incoming,
                     update_id: int | None = None, *, replay_possible: bool = True) -> Outcome:
        """A resident's message becomes a routed request (or is kept until they bind).

        `update_id` makes it idempotent: the same Telegram update handled again (a redelivery,
        or a replay after a crash) finds what it created the first time. The intake says
        `replay_possible=False` for an update it recorded a moment ago, which cannot have
        created anything yet, and so spares two lookups.
        """
        if incoming.empty:
            return _refused(Refusal.EMPTY)
        async with self.uow() as uow:
            if update_id is not None and replay_possible:
                existing = await uow.requests.by_update(update_id)
                if existing is not None:
                    view = await request_view(uow, existing, self.taxonomy)
                    return Outcome(view=view, state=existing.state, info={"replayed": True})
                if await uow.residents.pending_from_update(update_id) is not None:
                    return _refused(Refusal.NOT_BOUND)
            resident = await self._resident(uow, person)
            building = (
                await uow.organisation.building(resident.building_code)
                if resident.building_code else None
            )
            if building is None or not building.active:
                await uow.residents.keep_pending(
                    PendingMessage(resident_id=person.telegram_id, payload=incoming.as_payload(),
                                   created_at=self.clock(), source_update_id=update_id)
                )
                await uow.commit()
                return _refused(Refusal.NOT_BOUND)
            submitted, messages = await uow.requests.resident_activity(
                person.telegram_id, self.clock() - FLOOD_WINDOW)
            if messages >= FLOOD_MAX_MESSAGES:
                return _refused(Refusal.TOO_FAST)
            if submitted >= FLOOD_MAX_REQUESTS:
                latest = await uow.requests.latest_active_of(person.telegram_id)
                if latest is not None:
                    # Someone writing many messages at once is mostly telling one story: it
                    # joins their latest request instead of flooding their worker.
                    view = await self._append(uow, latest, person, incoming)
                    await uow.commit()
                    return Outcome(view=view, state=latest.state,
                                   info={"merged_into": latest.id})
            request, view = await self._create(uow, resident, incoming, update_id)
            await uow.commit()
            return Outcome(view=view, state=request.state)

    async def add_detail(self, person: Person, number: int, incoming: Incoming) -> Outcome:
        """A resident's reply to a message about their request adds to that request."""
        async with self.uow() as uow:
            request = await uow.requests.get(number, for_update=True)
            if request is None or request.resident_id != person.telegram_id:
                return _refused(Refusal.NOT_FOUND)
            if request.state not in ACTIVE:
                return _refused(Refusal.WRONG_STATE, request)
            view = await self._append(uow, request, person, incoming)
            await uow.commit()
            return Outcome(view=view, state=request.state)

    async def _append(self, uow: UnitOfWork, request: Request, person: Person,
                      incoming: Incoming) -> RequestView:
        """Add a resident's words and attachments to a request and tell who works on it."""
        now = self.clock()
        if incoming.text:
            request.text = f"{request.text}\n[补充] {incoming.text}".strip()
        for kind, file_id, extra in incoming.attachments:
            request.attachments.append(
                Attachment(kind=kind, file_id=file_id, extra=extra, created_at=now)
            )
        request.updated_at = now
        await self.event(uow, request, "resident", str(person.telegram_id), person.name,
                          "detail", incoming.text or _describe(incoming))
        await uow.session.flush()
        view = await request_view(uow, request, self.taxonomy)
        notify = Notifier(uow, self.clock)
        people = await notify.holders(request) + await notify.first_receiver(request)
        added = view.attachments[len(view.attachments) - len(incoming.attachments):]
        notify.staff(people, Notice.DETAIL, view, priority=priority_for(request),
                     with_attachments=added, detail=incoming.text,
                     detail_attachments=len(incoming.attachments))
        return view

    async def linked_request(self, chat_id: int, message_id: int) -> int | None:
        async with self.uow().reading() as uow:
            return await uow.requests.linked_request(chat_id, message_id)

    async def withdraw(self, person: Person, number: int) -> Outcome:
        async with self.uow() as uow:
            request = await uow.requests.get(number, for_update=True)
            if request is None or request.resident_id != person.telegram_id:
                return _refused(Refusal.NOT_FOUND)
            if request.state not in ACTIVE:
                return _refused(Refusal.WRONG_STATE, request)
            notify = Notifier(uow, self.clock)
            holders = await notify.holders(request)
            await self.move(uow, request, State.WITHDRAWN, "resident", str(person.telegram_id),
                             person.name, "withdrawn", "")
            request.closed_at = self.clock()
            view = await request_view(uow, request, self.taxonomy)
            notify.staff(holders + await notify.first_receiver(request), Notice.WITHDRAWN, view)
            await uow.commit()
            return Outcome(view=view, state=request.state)

    async def rate(self, person: Person, number: int, rating: str, reason: str = "") -> Outcome:
        """满意/基本满意 closes the request; 不满意 (with a reason) reopens it to its holder."""
        if rating not in RATINGS:
            return _refused(Refusal.WRONG_STATE)
        async with self.uow() as uow:
            request = await uow.requests.get(number, for_update=True)
            if request is None or request.resident_id != person.telegram_id:
                return _refused(Refusal.NOT_FOUND)
            if request.state != State.RESOLVED:
                return _refused(Refusal.ALREADY_DONE if request.state == State.CLOSED
                                else Refusal.WRONG_STATE, request)
            notify = Notifier(uow, self.clock)
            now = self.clock()
            if rating == "dissatisfied":
                target = State.ACCEPTED if request.holder_id else State.OPEN
                await self.move(uow, request, target, "resident", str(person.telegram_id),
                                 person.name, "reopened", reason[:MAX_NOTE])
                request.resolved_at = None
                self._fresh_windows(request, now, acknowledged=target == State.ACCEPTED)
                view = await request_view(uow, request, self.taxonomy)
                holders = await notify.holders(request)
                prio = priority_for(request, escalation=True)
                notify.staff(holders, Notice.REOPENED, view, keyboard=_staff_keyboard(request),
                             priority=prio, reason=reason)
                notify.staff(_others(await notify.first_receiver(request), holders),
                             Notice.REOPENED, view, priority=prio, reason=reason)
            else:
                request.rating = rating
                request.closed_at = now
                await self.move(uow, request, State.CLOSED, "resident", str(person.telegram_id),
                                 person.name, "rated", rating)
                view = await request_view(uow, request, self.taxonomy)
                people = await notify.holders(request) + await notify.first_receiver(request)
                notify.staff(people, Notice.RATED, view, rating=rating)
            await uow.commit()
            return Outcome(view=view, state=request.state)

    async def my_data(self, telegram_id: int) -> dict[str, Any]:
        """/mydata: everything stored about a resident."""
        async with self.uow() as uow:
            resident = await uow.residents.get(telegram_id)
            requests = await uow.requests.of_resident(telegram_id, limit=1000)
            place = None
            if resident is not None and resident.building_code:
                building = await uow.organisation.building(resident.building_code)
                place = building.name if building else resident.building_code
            return {
                "telegram_id": telegram_id,
                "name": resident.name if resident else "",
                "language": resident.language if resident else "",
                "building": place,
                "bound_at": resident.bound_at.isoformat() if resident and resident.bound_at
                else None,
                "pending": await uow.residents.count_pending(telegram_id),
                "requests": [(r.id, r.state, r.created_at.isoformat()) for r in requests],
            }

    async def forget(self, person: Person) -> int:
        """/forgetme: remove a resident's personal data; their requests stay, anonymised."""
        async with self.uow() as uow:
            count = await uow.residents.forget(person.telegram_id, mask_personal)
            await uow.commit()
            return count

    async def undelivered(self, telegram_id: int) -> list[dict[str, Any]]:
        """/undelivered: messages no one could receive, for supervisors (their area's)."""
        async with self.uow() as uow:
            staff = [s for s in await uow.staff.by_telegram_id(telegram_id)
                     if s.role == "supervisor"]
            rows = []
            for message in await uow.outbox.undeliverable(limit=200):
                request = (await uow.requests.get(message.request_id)
                           if message.request_id else None)
                visible = any(
                    s.unit_kind == "district" or (request is not None and supervises(
                        Role(s.id, s.role, s.unit_kind, s.unit_id), _placement(request)))
                    for s in staff)
                if visible:
                    rows.append({"chat_id": message.chat_id, "kind": message.kind,
                                 "number": message.request_id, "error": message.last_error or "",
                                 "at": message.created_at.isoformat()})
            return rows[:30]

    async def my_requests(self, telegram_id: int) -> list[RequestView]:
        async with self.uow() as uow:
            rows = await uow.requests.of_resident(telegram_id)
            return [await request_view(uow, r, self.taxonomy) for r in rows]

    # ----- staff ------------------------------------------------------------------------

    async def may(self, telegram_id: int, action: Action, number: int) -> Outcome:
        """Check, without changing anything, that this account may take this action now."""
        async with self.uow() as uow:
            request = await uow.requests.get(number)
            if request is None:
                return _refused(Refusal.NOT_FOUND)
            if action == Action.RATE or action == Action.WITHDRAW:
                ok = request.resident_id == telegram_id and request.state in (
                    {State.RESOLVED} if action == Action.RATE else ACTIVE)
                if request.resident_id != telegram_id:
                    return _refused(Refusal.NOT_FOUND)
                return Outcome(state=request.state) if ok else _refused(
                    Refusal.ALREADY_DONE if request.state in TERMINAL else Refusal.WRONG_STATE,
                    request)
            roles = _roles(await uow.staff.by_telegram_id(telegram_id))
            _, refusal = check(action, roles, _placement(request))
            if refusal is None and action == Action.ESCALATE and next_level(
                    request.ladder, request.level) is None:
                refusal = Refusal.TOP_OF_LADDER
            if refusal is None and action == Action.HAND_BACK and request.level == 0:
                refusal = Refusal.BOTTOM_OF_LADDER
            if refusal is not None:
                return _refused(refusal, request)
            return Outcome(view=await request_view(uow, request, self.taxonomy),
                           state=request.state)

    @refusable
    async def accept(self, person: Person, number: int) -> Outcome:
        """受理: the holder takes the request on; the resident hears who has it."""
        async with self.uow() as uow:
            request, staff, role = await self._acting(uow, person, Action.ACCEPT, number)
            request.holder_id = staff.id
            if request.first_receiver_id is None:
                request.first_receiver_id = staff.id
            request.accepted_at = self.clock()
            await self.move(uow, request, State.ACCEPTED, "staff", staff.key, staff.name,
                             "accepted", "")
            view = await request_view(uow, request, self.taxonomy)
            notify = Notifier(uow, self.clock)
            await notify.resident(request, Notice.ACCEPTED, view, who=staff.name)
            notify.staff(await notify.first_receiver(request), Notice.STEP, view,
                         skip=person.telegram_id, step="accepted", who=staff.name)
            await uow.commit()
            return Outcome(view=view, state=request.state)

    @refusable
    async def resolve(self, person: Person, number: int, note: str) -> Outcome:
        """办结 with a note of what was done; the resident is asked to rate it."""
        note = note.strip()[:MAX_NOTE]
        if not note:
            return _refused(Refusal.EMPTY)
        async with self.uow() as uow:
            request, staff, role = await self._acting(uow, person, Action.RESOLVE, number)
            now = self.clock()
            request.holder_id = request.holder_id or staff.id
            request.resolved_at = now
            request.accepted_at = request.accepted_at or now
            await self.move(uow, request, State.RESOLVED, "staff", staff.key, staff.name,
                             "resolved", note)
            view = await request_view(uow, request, self.taxonomy)
            notify = Notifier(uow, self.clock)
            await notify.resident(request, Notice.RESOLVED, view, keyboard=Keyboard.RATING,
                                  note=note, who=staff.name)
            notify.staff(await notify.first_receiver(request), Notice.STEP, view,
                         skip=person.telegram_id, step="resolved", who=staff.name, note=note)
            for duplicate in await uow.requests.linked_to(request.id):
                if duplicate.state != State.MERGED:
                    continue
                # Every neighbour who reported it hears that it is done, and rates it.
                duplicate.holder_id, duplicate.resolved_at = request.holder_id, now
                await self.move(uow, duplicate, State.RESOLVED, "staff", staff.key, staff.name,
                                "resolved", note)
                await notify.resident(
                    duplicate, Notice.RESOLVED,
                    await request_view(uow, duplicate, self.taxonomy),
                    keyboard=Keyboard.RATING, note=note, who=staff.name)
            await uow.commit()
            return Outcome(view=view, state=request.state)

    @refusable
    async def escalate(self, person: Person, number: int, reason: str) -> Outcome:
        """上报: the request climbs a rung of its ladder; that rung's supervisors are alerted."""
        reason = reason.strip()[:MAX_NOTE]
        if not reason:
            return _refused(Refusal.EMPTY)
        async with self.uow() as uow:
            request, staff, role = await self._acting(uow, person, Action.ESCALATE, number)
            target = next_level(request.ladder, request.level)
            if target is None:
                return _refused(Refusal.TOP_OF_LADDER, request)
            await self.raise_to(uow, request, target, Actor.of(staff), "escalated", reason,
                                Notice.ESCALATED, skip=person.telegram_id)
            view = await request_view(uow, request, self.taxonomy)
            await uow.commit()
            return Outcome(view=view, state=request.state)

    @refusable
    async def return_request(self, person: Person, number: int, reason: str) -> Outcome:
        """退回: a worker says the request is not their grid's; the community re-routes it."""
        reason = reason.strip()[:MAX_NOTE]
        if not reason:
            return _refused(Refusal.EMPTY)
        async with self.uow() as uow:
            request, staff, role = await self._acting(uow, person, Action.RETURN, number)
            target = next_level(request.ladder, 0) or Level.COMMUNITY.rank
            await self.raise_to(uow, request, target, Actor.of(staff), "returned", reason,
                                Notice.RETURNED, skip=person.telegram_id)
            view = await request_view(uow, request, self.taxonomy)
            await uow.commit()
            return Outcome(view=view, state=request.state)

    @refusable
    async def take_over(self, person: Person, number: int) -> Outcome:
        """接管: a supervisor holds the request personally."""
        async with self.uow() as uow:
            request, staff, role = await self._acting(uow, person, Action.TAKE_OVER, number)
            if request.holder_id == staff.id and request.state == State.ACCEPTED:
                return _refused(Refusal.ALREADY_DONE, request)
            notify = Notifier(uow, self.clock)
            before = await notify.holders(request)
            request.holder_id = staff.id
            request.level = max(request.level, Level(role.unit_kind).rank)
            request.accepted_at = self.clock()
            # Whoever takes a request over gets a full resolve window of their own.
            self._fresh_windows(request, self.clock(), acknowledged=True)
            await self.move(uow, request, State.ACCEPTED, "staff", staff.key, staff.name,
                             "taken_over", "")
            view = await request_view(uow, request, self.taxonomy)
            await notify.resident(request, Notice.ACCEPTED, view, who=staff.name)
            notify.staff(before + await notify.first_receiver(request), Notice.TAKEN_OVER, view,
                         skip=person.telegram_id, who=staff.name)
            await uow.commit()
            return Outcome(view=view, state=request.state)

    @refusable
    async def urge(self, person: Person, number: int, instruction: str,
                   deadline: Duration | None = None) -> Outcome:
        """督办: a supervisor presses whoever works on the request, with an instruction and
        optionally a new deadline to resolve it by."""
        instruction = instruction.strip()[:MAX_NOTE]
        if not instruction:
            return _refused(Refusal.EMPTY)
        async with self.uow() as uow:
            request, staff, role = await self._acting(uow, person, Action.URGE, number)
            note = instruction
            if deadline is not None:
                self.planner.extend(request, self.clock(),
                                    self.calendar.add(self.clock(), deadline))
                uow.step_planned(request.next_step_at)
                note = f"{instruction}（限{deadline.zh()}内办结）"
            await self.event(uow, request, "staff", staff.key, staff.name, "urged", note)
            view = await request_view(uow, request, self.taxonomy)
            notify = Notifier(uow, self.clock)
            holders = await notify.holders(request)
            notify.staff(holders, Notice.URGED, view, keyboard=_staff_keyboard(request),
                         priority=Priority.ESCALATION, skip=person.telegram_id,
                         who=staff.name, note=note)
            # The first receiver follows up (首接负责) but, unless they hold it, cannot act.
            notify.staff(_others(await notify.first_receiver(request), holders), Notice.URGED,
                         view, priority=Priority.ESCALATION, skip=person.telegram_id,
                         who=staff.name, note=note)
            await uow.commit()
            return Outcome(view=view, state=request.state)

    @refusable
    async def hand_back(self, person: Person, number: int, instruction: str) -> Outcome:
        """退回下级: the request goes one rung down with the supervisor's instruction."""
        instruction = instruction.strip()[:MAX_NOTE]
        if not instruction:
            return _refused(Refusal.EMPTY)
        async with self.uow() as uow:
            request, staff, role = await self._acting(uow, person, Action.HAND_BACK, number)
            if request.level == 0:
                return _refused(Refusal.BOTTOM_OF_LADDER, request)
            request.level = previous_level(request.ladder, request.level)
            request.holder_id = None
            if request.level == 0 and request.first_receiver_id is not None:
                first = await uow.staff.get(request.first_receiver_id)
                if first is not None and first.active and first.unit_id == request.grid_id:
                    request.holder_id = first.id
            self._fresh_windows(request, self.clock(), acknowledged=False)
            await self.move(uow, request, State.OPEN, "staff", staff.key, staff.name,
                             "handed_back", instruction)
            view = await request_view(uow, request, self.taxonomy)
            notify = Notifier(uow, self.clock)
            notify.staff(await notify.holders(request), Notice.HANDED_BACK, view,
                         keyboard=_staff_keyboard(request), priority=Priority.ESCALATION,
                         with_attachments=True, skip=person.telegram_id, who=staff.name,
                         note=instruction)
            await uow.commit()
            return Outcome(view=view, state=request.state)

    @refusable
    async def ask_extension(self, person: Person, number: int, extra: Duration,
                            reason: str) -> Outcome:
        """延期: the holder asks for more time; the level above approves or refuses."""
        reason = reason.strip()[:MAX_NOTE]
        if not reason:
            return _refused(Refusal.EMPTY)
        async with self.uow() as uow:
            request, staff, role = await self._acting(uow, person, Action.EXTEND, number)
            base = max(request.resolve_due_at or self.clock(), self.clock())
            request.extension_until = self.calendar.add(base, extra)
            request.extension_reason = reason
            request.extension_by = staff.id
            await self.event(uow, request, "staff", staff.key, staff.name, "extension_asked",
                             f"{extra.zh()}：{reason}")
            view = await request_view(uow, request, self.taxonomy)
            notify = Notifier(uow, self.clock)
            approvers = await self._approvers(uow, request, notify)
            notify.staff(approvers, Notice.EXTENSION_ASKED, view, keyboard=Keyboard.EXTENSION,
                         priority=Priority.ESCALATION, skip=person.telegram_id, who=staff.name,
                         note=reason, until=request.extension_until.isoformat(),
                         extra=extra.zh())
            await uow.commit()
            return Outcome(view=view, state=request.state,
                           info={"until": request.extension_until.isoformat()})

    @refusable
    async def decide_extension(self, person: Person, number: int, approve: bool) -> Outcome:
        """A supervisor above approves or refuses a pending 延期."""
        async with self.uow() as uow:
            request, staff, role = await self._acting(uow, person, Action.DECIDE, number)
            if request.extension_until is None or request.extension_by is None:
                return _refused(Refusal.NO_PENDING_EXTENSION, request)
            if request.extension_by == role.staff_id:
                return _refused(Refusal.OWN_EXTENSION, request)
            asker = await uow.staff.get(request.extension_by)
            assert staff is not None
            until = request.extension_until
            if approve:
                self.planner.extend(request, self.clock(), until)
                uow.step_planned(request.next_step_at)
            request.extension_until = None
            request.extension_by = None
            await self.event(uow, request, "staff", staff.key, staff.name,
                             "extension_approved" if approve else "extension_refused",
                             request.extension_reason or "")
            view = await request_view(uow, request, self.taxonomy)
            notify = Notifier(uow, self.clock)
            notify.staff([asker] if asker else [], Notice.EXTENSION_DECIDED, view,
                         priority=Priority.ESCALATION, who=staff.name, approved=approve,
                         until=until.isoformat())
            if approve:
                await notify.resident(request, Notice.EXTENSION_RESIDENT, view,
                                      until=until.isoformat())
            await uow.commit()
            return Outcome(view=view, state=request.state, info={"approved": approve})

    async def chase(self, person: Person, number: int) -> Outcome:
        """催办: a resident whose request is overdue presses once per window."""
        async with self.uow() as uow:
            request = await uow.requests.get(number, for_update=True)
            if request is None or request.resident_id != person.telegram_id:
                return _refused(Refusal.NOT_FOUND)
            if request.state not in ACTIVE:
                return _refused(Refusal.WRONG_STATE, request)
            now = self.clock()
            due = request.ack_due_at if request.state == State.OPEN else request.resolve_due_at
            if due is None or due > now:
                return _refused(Refusal.NOT_OVERDUE, request, due=due.isoformat() if due else "")
            started = request.window_started_at
            if request.resident_urged_at is not None and (
                    started is None or request.resident_urged_at >= started):
                return _refused(Refusal.ONCE_PER_WINDOW, request)
            request.resident_urged_at = now
            await self.event(uow, request, "resident", str(person.telegram_id), person.name,
                             "chased", "")
            view = await request_view(uow, request, self.taxonomy)
            notify = Notifier(uow, self.clock)
            notify.staff(await notify.holders(request), Notice.CHASED, view,
                         keyboard=_staff_keyboard(request), priority=Priority.ESCALATION,
                         above=False)
            notify.staff(await self._approvers(uow, request, notify), Notice.CHASED, view,
                         priority=Priority.ESCALATION, above=True)
            await uow.commit()
            return Outcome(view=view, state=request.state)

    async def _approvers(self, uow: UnitOfWork, request: Request,
                         notify: Notifier) -> list[Staff]:
        """The supervisors one rung above the request's level (the top level at the top)."""
        above = next_level(request.ladder, request.level)
        rank = above if above is not None else request.level
        level = LEVEL_ORDER[rank]
        if level == Level.GRID:
            return []
        unit = _placement(request).unit_at(level)
        return [s for s in await notify.unit_members(level, unit) if s.telegram_id is not None]

    async def grids_for_reassign(self, telegram_id: int, number: int) -> list[Choice]:
        """The grids a supervisor may send this request to."""
        async with self.uow() as uow:
            request = await uow.requests.get(number)
            if request is None:
                return []
            roles = [r for r in _roles(await uow.staff.by_telegram_id(telegram_id))
                     if supervises(r, _placement(request))]
            if not roles:
                return []
            grids = await self._grids_under(uow, roles)
            return [Choice(g.id, g.name) for g in grids]

    @refusable
    async def reassign(self, person: Person, number: int, grid_id: str) -> Outcome:
        """转派: a supervisor sends the request to the right grid in their area."""
        async with self.uow() as uow:
            request, staff, role = await self._acting(uow, person, Action.REASSIGN, number)
            roles = _roles(await uow.staff.by_telegram_id(person.telegram_id))
            allowed = {g.id for g in await self._grids_under(
                uow, [r for r in roles if supervises(r, _placement(request))])}
            if grid_id not in allowed:
                return _refused(Refusal.NOT_YOURS, request)
            if request.level == 0 and request.grid_id == grid_id:
                return _refused(Refusal.ALREADY_DONE, request)  # a double tap, or a stale picker
            grid = await uow.organisation.area(grid_id)
            community = await uow.organisation.area(grid.parent_id or "") if grid else None
            if grid is None or community is None:
                return _refused(Refusal.NOT_FOUND, request)
            request.grid_id, request.community_id = grid.id, community.id
            request.town_id = community.parent_id or request.town_id
            request.level = 0
            workers = [s for s in await uow.staff.of_unit("grid", grid.id) if s.role == "worker"]
            request.holder_id = workers[0].id if workers else None
            request.first_receiver_id = request.holder_id
            self._fresh_windows(request, self.clock(), acknowledged=False)
            await self.move(uow, request, State.OPEN, "staff", staff.key, staff.name,
                             "reassigned", grid.name)
            view = await request_view(uow, request, self.taxonomy)
            notify = Notifier(uow, self.clock)
            notify.staff(await notify.holders(request), Notice.ASSIGNED, view,
                         keyboard=Keyboard.WORKER, priority=priority_for(request),
                         with_attachments=True)
            await notify.resident(request, Notice.REASSIGNED_RESIDENT, view)
            await uow.commit()
            return Outcome(view=view, state=request.state)

    async def tasks(self, telegram_id: int) -> list[RequestView]:
        """/tasks: what a grid worker (or a supervisor personally) holds."""
        async with self.uow() as uow:
            staff = await uow.staff.by_telegram_id(telegram_id)
            grid_ids = [s.unit_id for s in staff if s.role == "worker"]
            seen: dict[int, Request] = {}
            for s in staff:
                for r in await uow.requests.held_by_worker(s.id, grid_ids):
                    seen[r.id] = r
            return [await request_view(uow, r, self.taxonomy) for r in sorted(
                seen.values(), key=lambda r: r.id)]

    async def area_requests(self, telegram_id: int, *, overdue: bool) -> list[RequestView]:
        """/open and /overdue: the active requests inside a supervisor's areas."""
        async with self.uow() as uow:
            staff = [s for s in await uow.staff.by_telegram_id(telegram_id)
                     if s.role in ("supervisor", "worker")]
            seen: dict[int, Request] = {}
            for s in staff:
                rows = await uow.requests.in_area(
                    s.unit_kind, s.unit_id, overdue_at=self.clock() if overdue else None)
                for r in rows:
                    seen[r.id] = r
            views = [await request_view(uow, r, self.taxonomy) for r in sorted(
                seen.values(), key=lambda r: (-r.level, r.id))]
            return [v.masked() for v in views] if _only_above_community(staff) else views

    async def show(self, telegram_id: int,
                   number: int) -> tuple[RequestView, list[EventView]] | None:
        """A request with its timeline, for its resident or staff who may see it."""
        async with self.uow() as uow:
            request = await uow.requests.get(number)
            if request is None:
                return None
            if request.resident_id != telegram_id:
                roles = _roles(await uow.staff.by_telegram_id(telegram_id))
                place = _placement(request)
                first = request.first_receiver_id
                if not any(supervises(r, place) or r.staff_id in (request.holder_id, first)
                           or (r.role == "worker" and r.unit_id == request.grid_id)
                           for r in roles):
                    return None
            events = event_views(list(await uow.requests.timeline(number)))
            view = await request_view(uow, request, self.taxonomy)
            if request.resident_id != telegram_id and _only_above_community(
                    await uow.staff.by_telegram_id(telegram_id)):
                view = view.masked()
                events = [replace(e, note=mask_personal(e.note)) for e in events]
            return view, events

    # ----- internals --------------------------------------------------------------------

    async def _resident(self, uow: UnitOfWork, person: Person) -> Resident:
        resident = await uow.residents.get(person.telegram_id)
        if resident is None:
            resident = await uow.residents.add(Resident(
                telegram_id=person.telegram_id, name=person.name, language=person.language,
                building_code=None, bound_at=None, created_at=self.clock()))
        else:
            resident.name = person.name or resident.name
            resident.language = person.language
        return resident

    async def _create(self, uow: UnitOfWork, resident: Resident, incoming: Incoming,
                      update_id: int | None = None) -> tuple[Request, RequestView]:
        """Store, classify and route a request, and queue who must hear of it.

        Returns the request and its view as it was queued (nothing changes it after that).
        """
        assert resident.building_code is not None
        building = await uow.organisation.building(resident.building_code)
        assert building is not None
        grid = await uow.organisation.area(building.grid_id)
        community = await uow.organisation.area(grid.parent_id or "") if grid else None
        town = await uow.organisation.area(community.parent_id or "") if community else None
        now = self.clock()
        verdict = self.classifier.classify(incoming.text)
        workers = [s for s in await uow.staff.of_unit("grid", building.grid_id)
                   if s.role == "worker"]
        holder = next((w for w in workers if w.telegram_id is not None), None) or (
            workers[0] if workers else None)
        request = Request(
            resident_id=resident.telegram_id, source_update_id=update_id,
            text=incoming.text.strip(),
            category=verdict.category, urgency=verdict.urgency.value,
            confidence=verdict.confidence, state=State.OPEN.value, level=0,
            ladder=list(self.config.sla.escalation), building_code=building.code,
            grid_id=building.grid_id, community_id=community.id if community else "",
            town_id=town.id if town else "", district_id=self.config.district.id,
            holder_id=holder.id if holder else None,
            first_receiver_id=holder.id if holder else None,
            created_at=now, updated_at=now, attachments=[],
        )
        request.needs_review = verdict.needs_review
        self._fresh_windows(request, now, acknowledged=False)
        uow.step_planned(request.next_step_at)
        for kind, file_id, extra in incoming.attachments:
            request.attachments.append(
                Attachment(kind=kind, file_id=file_id, extra=extra, created_at=now))
        await uow.requests.add(request)
        original = await self._duplicate_target(uow, request)
        await self.event(uow, request, "resident", str(resident.telegram_id), resident.name,
                          "submitted", "", state_from=None)
        by_model = verdict.urgent_by_model
        await self.event(uow, request, "system", None, "", "classified",
                          f"{verdict.category}/{verdict.urgency.value} "
                          f"{verdict.confidence:.2f} {' '.join(verdict.matched)}".strip()
                          + (f" 模型判紧急{by_model:.2f}" if by_model is not None else ""))
        if original is not None:
            return request, await self._link(uow, request, original)
        view = await request_view(uow, request, self.taxonomy)
        notify = Notifier(uow, self.clock)
        await notify.resident(request, Notice.SUBMITTED, view, keyboard=Keyboard.RESIDENT)
        # An alarm raised by the urgency model alone says so: the worker can tell a false one
        # quickly, and their correction becomes training data.
        notify.staff(await notify.holders(request), Notice.ASSIGNED, view,
                     keyboard=Keyboard.WORKER, priority=priority_for(request),
                     with_attachments=True, model_alarm=by_model is not None)
        return request, view

    async def _duplicate_target(self, uow: UnitOfWork, request: Request) -> Request | None:
        """An open request of the same grid and category that this one repeats, if any.

        Urgent reports are never folded into another: each must reach someone at once.
        """
        if request.urgency == Urgency.URGENT or not request.text:
            return None
        linking = self.config.linking
        now = self.clock()
        since = now - (self.calendar.add(now, linking.window) - now)
        best, score = None, 0.0
        for number, text in await uow.requests.duplicate_candidates(
                request.grid_id, request.category, since, request.id):
            alike = similarity(request.text, text)
            if alike > score:
                best, score = number, alike
        if best is None or score < linking.similarity:
            return None
        return await uow.requests.get(best, attachments=False)  # _link reads none of them

    async def _link(self, uow: UnitOfWork, request: Request, original: Request) -> RequestView:
        """Join a duplicate to the original: one worker's job, every reporter answered.

        Returns the duplicate's view, as its messages show it."""
        request.duplicate_of = original.id
        await self.move(uow, request, State.MERGED, "system", None, SYSTEM.name, "linked",
                        f"#{original.id}")
        linked = await uow.requests.count_linked_to(original.id)
        view = await request_view(uow, request, self.taxonomy)
        notify = Notifier(uow, self.clock)
        await notify.resident(request, Notice.LINKED_RESIDENT, view, keyboard=Keyboard.RESIDENT,
                              original=original.id)
        people = await notify.holders(original) + await notify.first_receiver(original)
        notify.staff(people, Notice.LINKED, view, keyboard=Keyboard.LINKED,
                     priority=priority_for(original), with_attachments=True,
                     original=original.id, reporters=linked + 1)
        return view

    @refusable
    async def unlink(self, person: Person, number: int) -> Outcome:
        """拆分: a linked report turns out to be its own problem; it becomes a request again."""
        async with self.uow() as uow:
            request, staff, role = await self._acting(uow, person, Action.UNLINK, number)
            original = request.duplicate_of
            request.duplicate_of = None
            self._fresh_windows(request, self.clock(), acknowledged=False)
            await self.move(uow, request, State.OPEN, "staff", staff.key, staff.name,
                            "unlinked", f"#{original}")
            view = await request_view(uow, request, self.taxonomy)
            notify = Notifier(uow, self.clock)
            notify.staff(await notify.holders(request), Notice.ASSIGNED, view,
                         keyboard=Keyboard.WORKER, priority=priority_for(request))
            await notify.resident(request, Notice.SUBMITTED, view, keyboard=Keyboard.RESIDENT)
            await uow.commit()
            return Outcome(view=view, state=request.state)

    @refusable
    async def correct(self, person: Person, number: int, category: str | None = None,
                      urgency: str | None = None) -> Outcome:
        """A worker or supervisor corrects the category or urgency; the timeline keeps both."""
        if category is not None and category not in self.taxonomy:
            return _refused(Refusal.NOT_FOUND)
        if urgency is not None and urgency not in set(Urgency):
            return _refused(Refusal.NOT_FOUND)
        async with self.uow() as uow:
            request, staff, role = await self._acting(uow, person, Action.CORRECT, number)
            new_category = category or request.category
            new_urgency = urgency or request.urgency
            if (new_category, new_urgency) == (request.category, request.urgency):
                return _refused(Refusal.ALREADY_DONE, request)
            note = (f"{request.category}/{request.urgency} → {new_category}/{new_urgency}")
            urgency_changed = new_urgency != request.urgency
            request.category, request.urgency = new_category, new_urgency
            request.needs_review = False
            if urgency_changed and request.state in ACTIVE:
                # The windows follow the urgency: an urgent request gets urgent deadlines now.
                self._fresh_windows(request, self.clock(),
                                    acknowledged=request.state == State.ACCEPTED)
                uow.step_planned(request.next_step_at)
            await self.event(uow, request, "staff", staff.key, staff.name, "corrected", note)
            view = await request_view(uow, request, self.taxonomy)
            await uow.commit()
            return Outcome(view=view, state=request.state)

    async def _acting(self, uow: UnitOfWork, person: Person, action: Action,
                      number: int) -> tuple[Request, Staff, Role]:
        """The request, locked, and the staff post allowed to act on it; else refuse."""
        request, role, refusal = await self._authorised(uow, person, action, number)
        if refusal is not None or request is None or role is None:
            raise Refused(_refused(refusal or Refusal.NOT_FOUND, request))
        staff = await uow.staff.get(role.staff_id)
        assert staff is not None
        return request, staff, role

    async def _authorised(
        self, uow: UnitOfWork, person: Person, action: Action, number: int
    ) -> tuple[Request | None, Role | None, Refusal | None]:
        request = await uow.requests.get(number, for_update=True)
        if request is None:
            return None, None, Refusal.NOT_FOUND
        roles = _roles(await uow.staff.by_telegram_id(person.telegram_id))
        role, refusal = check(action, roles, _placement(request))
        return request, role, refusal

    async def raise_to(
        self, uow: UnitOfWork, request: Request, target: int, actor: Actor, action: str,
        reason: str, notice: Notice, *, skip: int | None = None, **extra: Any,
    ) -> None:
        """Move a request up to rung `target` and alert that level (shared with the clockwork)."""
        notify = Notifier(uow, self.clock)
        before = await notify.holders(request)
        request.level = target
        request.holder_id = None
        self._fresh_windows(request, self.clock(), acknowledged=False)
        await self.move(uow, request, State.OPEN, actor.kind, actor.key, actor.name, action,
                         reason)
        view = await request_view(uow, request, self.taxonomy)
        timeline = [asdict(e) for e in event_views(list(await uow.requests.timeline(request.id)))]
        notify.staff(await notify.holders(request), notice, view, keyboard=Keyboard.SUPERVISOR,
                     priority=priority_for(request, escalation=True), with_attachments=True,
                     skip=skip, who=actor.name, note=reason, timeline=timeline, **extra)
        notify.staff(before + await notify.first_receiver(request), Notice.STEP, view,
                     skip=skip, step=action, who=actor.name, note=reason)
        await notify.resident(request, Notice.ESCALATED_RESIDENT, view)

    def _fresh_windows(self, request: Request, now: datetime, *, acknowledged: bool) -> None:
        """Each level (and each reopening) gets new acknowledge and resolve deadlines."""
        self.planner.start_windows(request, now, acknowledged=acknowledged)

    async def move(
        self, uow: UnitOfWork, request: Request, target: State, actor_kind: str,
        actor_id: str | None, actor_name: str, action: str, note: str,
    ) -> None:
        before = request.state
        request.state = target.value
        request.updated_at = self.clock()
        self.planner.plan(request)
        uow.step_planned(request.next_step_at)
        await self.event(uow, request, actor_kind, actor_id, actor_name, action, note,
                          state_from=before)

    async def event(
        self, uow: UnitOfWork, request: Request, actor_kind: str, actor_id: str | None,
        actor_name: str, action: str, note: str, *, state_from: str | None = "",
    ) -> None:
        await uow.requests.add_event(RequestEvent(
            request_id=request.id, at=self.clock(), actor_kind=actor_kind, actor_id=actor_id,
            actor_name=actor_name, action=action, note=note,
            state_from=request.state if state_from == "" else state_from,
            state_to=request.state, level=request.level,
        ))

    async def _grids_under(self, uow: UnitOfWork, roles: Sequence[Role]) -> list[Any]:
        areas = [a for a in await uow.organisation.areas() if a.active]
        parent = {a.id: a.parent_id for a in areas}

        def inside(area_id: str, root: str) -> bool:
            while area_id:
                if area_id == root:
                    return True
                area_id = parent.get(area_id) or ""
            return False

        return sorted(
            (a for a in areas if a.kind == "grid"
             and any(inside(a.id, r.unit_id) for r in roles)),
            key=lambda a: a.position,
        )


def _roles(staff: Sequence[Staff]) -> list[Role]:
    return [Role(s.id, s.role, s.unit_kind, s.unit_id) for s in staff]


def _placement(request: Request) -> Placement:
    return Placement(
        state=State(request.state), level=request.level, holder_id=request.holder_id,
        grid_id=request.grid_id, community_id=request.community_id, town_id=request.town_id,
        district_id=request.district_id,
    )


def _only_above_community(staff: Sequence[Staff]) -> bool:
    """A viewer whose every post is above the community sees personal numbers masked."""
    return bool(staff) and all(masked_for(s) for s in staff)


def _others(people: Sequence[Staff], exclude: Sequence[Staff]) -> list[Staff]:
    ids = {p.id for p in exclude}
    return [p for p in people if p.id not in ids]


def _staff_keyboard(request: Request) -> Keyboard:
    return Keyboard.WORKER if request.level == 0 else Keyboard.SUPERVISOR


def _describe(incoming: Incoming) -> str:
    return "、".join(kind for kind, _, _ in incoming.attachments)


LEVEL_NAMES = {level.rank: level.value for level in LEVEL_ORDER}
