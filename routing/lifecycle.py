"""A request's states, the actions on it, and who may take which action when (pure rules)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    """Where a request is in its life."""

    OPEN = "open"
    ACCEPTED = "accepted"
    RESOLVED = "resolved"
    CLOSED = "closed"
    DECLINED = "declined"
    MERGED = "merged"
    WITHDRAWN = "withdrawn"


ACTIVE = frozenset({State.OPEN, State.ACCEPTED})
TERMINAL = frozenset({State.CLOSED, State.DECLINED, State.MERGED, State.WITHDRAWN})


class Action(StrEnum):
    """What staff or residents do to a request; the short values travel in callback data."""

    ACCEPT = "acc"
    RESOLVE = "res"
    ESCALATE = "esc"
    RETURN = "ret"
    URGE = "urg"
    TAKE_OVER = "take"
    HAND_BACK = "back"
    REASSIGN = "reas"
    WITHDRAW = "wd"
    RATE = "rate"
    DETAIL = "det"
    SHOW = "show"
    EXTEND = "ext"
    DECIDE = "dec"
    CHASE = "chase"
    CORRECT = "fix"
    UNLINK = "unl"


class Level(StrEnum):
    """The rungs of the ladder, from the grid up; their rank is the request's level."""

    GRID = "grid"
    COMMUNITY = "community"
    TOWN = "town"
    DISTRICT = "district"

    @property
    def rank(self) -> int:
        return LEVEL_ORDER.index(self)


LEVEL_ORDER = (Level.GRID, Level.COMMUNITY, Level.TOWN, Level.DISTRICT)

ALLOWED_FROM: dict[Action, frozenset[State]] = {
    Action.ACCEPT: frozenset({State.OPEN}),
    Action.RESOLVE: ACTIVE,
    Action.ESCALATE: ACTIVE,
    Action.RETURN: ACTIVE,
    Action.URGE: ACTIVE,
    Action.TAKE_OVER: ACTIVE,
    Action.HAND_BACK: ACTIVE,
    Action.REASSIGN: ACTIVE,
    Action.WITHDRAW: ACTIVE,
    Action.RATE: frozenset({State.RESOLVED}),
    Action.DETAIL: ACTIVE | {State.RESOLVED},
    Action.SHOW: frozenset(State),
    Action.EXTEND: ACTIVE,
    Action.DECIDE: ACTIVE,
    Action.CHASE: ACTIVE,
    Action.CORRECT: ACTIVE | {State.RESOLVED, State.MERGED},
    Action.UNLINK: frozenset({State.MERGED}),
}

SUPERVISOR_ONLY = frozenset(
    {Action.URGE, Action.TAKE_OVER, Action.HAND_BACK, Action.REASSIGN, Action.DECIDE}
)
HOLDER_ACTIONS = frozenset({Action.ACCEPT, Action.RESOLVE, Action.ESCALATE, Action.RETURN})


@dataclass(frozen=True, slots=True)
class Role:
    """One post a staff member holds: worker of a grid, supervisor of an area, member of a dept."""

    staff_id: int
    role: str  # worker | supervisor | department
    unit_kind: str  # grid | community | town | district | department
    unit_id: str


@dataclass(frozen=True, slots=True)
class Placement:
    """What the rules need to know of a request: its place, level, holder and state."""

    state: State
    level: int
    holder_id: int | None
    grid_id: str
    community_id: str
    town_id: str
    district_id: str

    def unit_at(self, level: Level) -> str:
        return {
            Level.GRID: self.grid_id,
            Level.COMMUNITY: self.community_id,
            Level.TOWN: self.town_id,
            Level.DISTRICT: self.district_id,
        }[level]


class Refusal(StrEnum):
    """Why an action was refused; the chat layer words each one politely."""

    NOT_FOUND = "not_found"
    NOT_YOURS = "not_yours"
    WRONG_STATE = "wrong_state"
    ALREADY_DONE = "already_done"
    ESCALATED_AWAY = "escalated_away"
    TOP_OF_LADDER = "top_of_ladder"
    BOTTOM_OF_LADDER = "bottom_of_ladder"
    NOT_BOUND = "not_bound"
    UNKNOWN_BUILDING = "unknown_building"
    EMPTY = "empty"
    NOT_OVERDUE = "not_overdue"
    TOO_FAST = "too_fast"
    ONCE_PER_WINDOW = "once_per_window"
    NO_PENDING_EXTENSION = "no_pending_extension"
    OWN_EXTENSION = "own_extension"


def supervises(role: Role, place: Placement) -> bool:
    """Whether a supervisor post covers the request's grid."""
    if role.role != "supervisor" or role.unit_kind not in Level.__members__.values():
        return False
    level = Level(role.unit_kind)
    return level != Level.GRID and place.unit_at(level) == role.unit_id


def holds(role: Role, place: Placement) -> bool:
    """Whether this post holds the request now (by name, or as the unit at its level)."""
    if place.holder_id is not None:
        return place.holder_id == role.staff_id
    level = LEVEL_ORDER[place.level]
    if level == Level.GRID:
        return role.role == "worker" and role.unit_kind == "grid" and role.unit_id == place.grid_id
    return role.role == "supervisor" and role.unit_kind == level and role.unit_id == place.unit_at(
        level
    )


def check(
    action: Action, roles: Iterable[Role], place: Placement
) -> tuple[Role | None, Refusal | None]:
    """The post under which `action` is allowed, or why it is not."""
    roles = list(roles)
    if place.state not in ALLOWED_FROM[action]:
        done = action == Action.ACCEPT and place.state in ACTIVE | {State.RESOLVED}
        return None, Refusal.ALREADY_DONE if done else Refusal.WRONG_STATE
    holder = next((r for r in roles if holds(r, place)), None)
    boss = next((r for r in roles if supervises(r, place)), None)
    if action in SUPERVISOR_ONLY:
        return (boss, None) if boss else (None, Refusal.NOT_YOURS)
    if action == Action.RETURN:
        ok = holder is not None and place.level == 0
        return (holder, None) if ok else (None, Refusal.NOT_YOURS)
    if holder or boss:
        return holder or boss, None
    worker_of_grid = any(
        r.role == "worker" and r.unit_kind == "grid" and r.unit_id == place.grid_id for r in roles
    )
    return None, Refusal.ESCALATED_AWAY if worker_of_grid else Refusal.NOT_YOURS


def next_level(ladder: Iterable[str], level: int) -> int | None:
    """The next rung above `level` on a request's ladder, or None at the top."""
    ranks = sorted(Level(step).rank for step in ladder)
    return next((rank for rank in ranks if rank > level), None)


def previous_level(ladder: Iterable[str], level: int) -> int:
    """The rung below `level` on the ladder (the grid at the bottom)."""
    ranks = sorted((Level(step).rank for step in ladder), reverse=True)
    return next((rank for rank in ranks if rank < level), 0)
