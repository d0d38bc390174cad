"""When reminders and escalations fall: windows, remind_at, quiet hours, the top of the ladder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.settings import example_config
from routing.deadlines import ESCALATE, REMIND, DeadlinePlanner
from routing.orgconfig import parse_org_config
from routing.sla import WorkCalendar
from storage.models import Request

CONFIG = parse_org_config(example_config().read_text(encoding="utf-8"), "taibaihu.yaml")
QUIET = parse_org_config(
    example_config().read_text(encoding="utf-8").replace(
        "  remind_at: 0.5", '  remind_at: 0.5\n  quiet_hours: "22:00-07:30"'),
    "taibaihu.yaml")
# 2026-11-25 is a Wednesday; 10:00 in Shanghai.
T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def planner(config=CONFIG) -> DeadlinePlanner:  # type: ignore[no-untyped-def]
    return DeadlinePlanner(config.sla, WorkCalendar(config.timezone))


def request(urgency: str = "normal", state: str = "open") -> Request:
    return Request(id=1, category="property_repair", urgency=urgency, state=state, level=0,
                   ladder=["community", "town", "district"], attachments=[])


def test_a_new_request_is_reminded_at_half_its_acknowledge_window() -> None:
    r = request()
    planner().start_windows(r, T0, acknowledged=False)
    assert r.ack_due_at == T0 + timedelta(hours=2)
    assert r.resolve_due_at == T0 + timedelta(days=1)
    assert (r.next_step, r.next_step_at) == (REMIND, T0 + timedelta(hours=1))


def test_after_the_reminder_the_next_step_is_escalation_at_the_window_end() -> None:
    r = request()
    p = planner()
    p.start_windows(r, T0, acknowledged=False)
    r.reminded = "ack"
    p.plan(r)
    assert (r.next_step, r.next_step_at) == (ESCALATE, T0 + timedelta(hours=2))


def test_accepting_moves_the_clock_to_the_resolve_window() -> None:
    r = request()
    p = planner()
    p.start_windows(r, T0, acknowledged=False)
    r.state = "accepted"
    p.plan(r)
    assert (r.next_step, r.next_step_at) == (REMIND, T0 + timedelta(hours=12))


def test_a_resolved_request_has_no_next_step() -> None:
    r = request()
    p = planner()
    p.start_windows(r, T0, acknowledged=False)
    r.state = "resolved"
    p.plan(r)
    assert r.next_step_at is None and r.next_step is None


def test_urgent_windows_are_short() -> None:
    r = request("urgent")
    planner().start_windows(r, T0, acknowledged=False)
    assert r.next_step_at == T0 + timedelta(minutes=7, seconds=30)


def test_working_day_windows_skip_the_weekend() -> None:
    friday_15 = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    r = request("low")
    planner().start_windows(r, friday_15, acknowledged=False)
    assert r.ack_due_at == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # Monday 15:00


def test_quiet_hours_hold_a_normal_step_until_morning() -> None:
    late_evening = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
    r = request()
    planner(QUIET).start_windows(r, late_evening, acknowledged=False)
    # The reminder would fall at 23:00; it waits for 07:30 the next morning.
    assert r.next_step_at == datetime(2026, 11, 25, 23, 30, tzinfo=UTC)


def test_quiet_hours_never_hold_an_urgent_step() -> None:
    late_evening = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    r = request("urgent")
    planner(QUIET).start_windows(r, late_evening, acknowledged=False)
    assert r.next_step_at == late_evening + timedelta(minutes=7, seconds=30)


def test_an_extension_gives_a_fresh_reminder_before_the_new_deadline() -> None:
    r = request(state="accepted")
    p = planner()
    p.start_windows(r, T0, acknowledged=True)
    until = T0 + timedelta(days=3)
    p.extend(r, T0 + timedelta(hours=20), until)
    assert r.resolve_due_at == until
    assert r.next_step == REMIND
    assert r.next_step_at == T0 + timedelta(hours=20) + (until - T0 - timedelta(hours=20)) / 2
