"""Who may do what to a request, and where the ladder goes: pure rules, no database."""

from __future__ import annotations

import pytest

from routing.lifecycle import (
    Action,
    Placement,
    Refusal,
    Role,
    State,
    check,
    next_level,
    previous_level,
)

WORKER = Role(1, "worker", "grid", "songyun-1")
OTHER_WORKER = Role(2, "worker", "grid", "songyun-2")
COMMUNITY = Role(3, "supervisor", "community", "songyun")
OTHER_COMMUNITY = Role(4, "supervisor", "community", "mingde")
TOWN = Role(5, "supervisor", "town", "xuzhuang")
DISTRICT = Role(6, "supervisor", "district", "taibaihu")
LADDER = ["community", "town", "district"]


def place(state: State = State.OPEN, level: int = 0, holder: int | None = 1) -> Placement:
    return Placement(state=state, level=level, holder_id=holder, grid_id="songyun-1",
                     community_id="songyun", town_id="xuzhuang", district_id="taibaihu")


def test_the_grid_worker_may_accept_an_open_request() -> None:
    role, refusal = check(Action.ACCEPT, [WORKER], place())
    assert role == WORKER and refusal is None


def test_a_worker_of_another_grid_may_not() -> None:
    assert check(Action.ACCEPT, [OTHER_WORKER], place()) == (None, Refusal.NOT_YOURS)


def test_accepting_twice_is_already_done() -> None:
    assert check(Action.ACCEPT, [WORKER], place(State.ACCEPTED))[1] == Refusal.ALREADY_DONE


@pytest.mark.parametrize("boss", [COMMUNITY, TOWN, DISTRICT])
def test_every_supervisor_above_the_grid_may_act(boss: Role) -> None:
    assert check(Action.RESOLVE, [boss], place())[0] == boss
    assert check(Action.TAKE_OVER, [boss], place())[0] == boss


def test_a_supervisor_of_another_community_may_not() -> None:
    assert check(Action.TAKE_OVER, [OTHER_COMMUNITY], place()) == (None, Refusal.NOT_YOURS)


def test_workers_may_not_use_supervisor_actions() -> None:
    for action in (Action.URGE, Action.TAKE_OVER, Action.HAND_BACK, Action.REASSIGN):
        assert check(action, [WORKER], place())[1] == Refusal.NOT_YOURS


def test_once_escalated_the_grid_worker_is_told_it_went_up() -> None:
    escalated = place(level=1, holder=None)
    assert check(Action.RESOLVE, [WORKER], escalated) == (None, Refusal.ESCALATED_AWAY)
    assert check(Action.ACCEPT, [COMMUNITY], escalated)[0] == COMMUNITY


def test_a_named_holder_wins_over_the_unit() -> None:
    held = place(State.ACCEPTED, level=1, holder=COMMUNITY.staff_id)
    other = Role(9, "supervisor", "community", "songyun")
    # Another supervisor of the same community still supervises the grid.
    assert check(Action.RESOLVE, [other], held)[0] == other
    assert check(Action.RESOLVE, [WORKER], held)[1] == Refusal.ESCALATED_AWAY


def test_return_is_only_for_the_grid_level_holder() -> None:
    assert check(Action.RETURN, [WORKER], place())[0] == WORKER
    assert check(Action.RETURN, [COMMUNITY], place())[1] == Refusal.NOT_YOURS


@pytest.mark.parametrize("state", [State.CLOSED, State.WITHDRAWN, State.DECLINED, State.MERGED])
def test_nothing_is_done_to_a_finished_request(state: State) -> None:
    for action in (Action.ACCEPT, Action.RESOLVE, Action.ESCALATE, Action.TAKE_OVER):
        assert check(action, [WORKER, COMMUNITY], place(state))[0] is None


def test_only_a_resolved_request_can_be_rated() -> None:
    assert check(Action.RATE, [WORKER], place(State.ACCEPTED))[1] == Refusal.WRONG_STATE


def test_the_ladder_climbs_grid_community_town_district_then_stops() -> None:
    assert [next_level(LADDER, n) for n in range(4)] == [1, 2, 3, None]


def test_a_ladder_may_skip_a_rung() -> None:
    assert next_level(["community", "district"], 1) == 3
    assert previous_level(["community", "district"], 3) == 1
    assert previous_level(LADDER, 1) == 0
