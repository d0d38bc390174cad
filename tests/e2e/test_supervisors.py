"""Supervisors at community, town and district level act on escalated and returned requests:
接管, 督办, 交回, 办结, 上报, 转派, and see the open and overdue requests of their own area."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.emulator_client import JsonDict
from bot.harness import Harness, running_bot
from tests.e2e.helpers import (
    CHEN_LIANG,
    CHEN_YAN,
    LI_HAOYANG,
    LIU_MIN,
    MA_JIAN,
    SUN_LI,
    WANG_QIANG,
    ZHAO_LEI,
    Submitted,
    accept,
    add_staff,
    bind_resident,
    bot_texts,
    button_data,
    count_containing,
    forge,
    has_button,
    labels,
    last_id,
    message_by_id,
    number_in,
    press,
    press_with_note,
    request_snapshot,
    resolve,
    staff_id,
    submit,
    urge,
    wait_for_edit,
)

RESIDENT = 5201
MINGDE_RESIDENT = 5202
REASON = "电梯维保单位不配合，需要社区协调"
SUPERVISOR_ONLY = ("接管", "督办", "交回", "转派")


async def escalate(bot: Harness, holder: int, message: JsonDict, reason: str,
                   receiver: int) -> JsonDict:
    """The holder presses 上报 and writes why; returns the alert the next level receives."""
    number = number_in(message)
    after = await last_id(bot.client, receiver)
    await press_with_note(bot, holder, message, "上报", reason, prompt="需要上级协调的原因",
                          done=f"已上报 #{number}")
    return await bot.client.wait_for_message(
        receiver, lambda m: f"#{number} 已上报至" in (m.get("text") or ""), after=after)


async def escalated_request(bot: Harness) -> tuple[Submitted, JsonDict]:
    """陈亮's resident reports a broken lift; 陈亮 escalates it to 刘敏's community."""
    await add_staff(bot, CHEN_LIANG, LIU_MIN, ZHAO_LEI, SUN_LI, WANG_QIANG, MA_JIAN, CHEN_YAN)
    await bind_resident(bot, RESIDENT)
    submitted = await submit(bot, RESIDENT, "1号楼电梯坏了两天了，老人上下楼很不方便")
    alert = await escalate(bot, CHEN_LIANG, submitted.task, REASON, LIU_MIN)
    return submitted, alert


async def test_a_workers_escalation_alerts_the_community_with_the_timeline_and_buttons(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG, LIU_MIN, SUN_LI)
    await bind_resident(bot, RESIDENT)
    submitted = await submit(bot, RESIDENT, "1号楼电梯坏了两天了，老人上下楼很不方便")
    n = submitted.number
    resident_before = await last_id(c, RESIDENT)

    alert = await escalate(bot, CHEN_LIANG, submitted.task, REASON, LIU_MIN)

    text = alert["text"]
    assert "颂运水庭社区" in text and "陈亮" in text and REASON in text
    timeline = text.split("办理记录")[1]
    assert "提交" in timeline and f"陈亮 上报：{REASON}" in timeline
    for label in ("接管", "督办", "交回", "办结", "上报"):
        assert has_button(alert, label), (label, labels(alert))
    told = await c.wait_for_message(RESIDENT, f"#{n} 已转交", after=resident_before)
    assert "协调办理" in told["text"] and "继续跟进" in told["text"]
    done = await c.wait_for_message(CHEN_LIANG, f"已上报 #{n}")
    assert "颂运水庭社区" in done["text"]
    await bot.settle()
    task = await message_by_id(c, CHEN_LIANG, submitted.task["message_id"])
    assert not labels(task)  # the grid-level buttons no longer apply
    assert await bot_texts(c, SUN_LI) == []
    snapshot = await request_snapshot(bot, n)
    assert (snapshot["state"], snapshot["level"]) == ("open", 1)


async def test_a_supervisor_who_takes_over_and_resolves_gets_the_resident_to_rate(
        bot: Harness) -> None:
    c = bot.client
    submitted, alert = await escalated_request(bot)
    n = submitted.number
    resident_before = await last_id(c, RESIDENT)
    worker_before = await last_id(c, CHEN_LIANG)

    answer = await press(bot, LIU_MIN, alert, "接管")

    assert f"您已接管 #{n}" in answer["text"]
    await c.wait_for_message(RESIDENT, f"#{n} 已由刘敏受理", after=resident_before)
    await c.wait_for_message(CHEN_LIANG, f"刘敏已接管诉求 #{n}", after=worker_before)
    assert (await request_snapshot(bot, n))["holder_id"] == await staff_id(bot, LIU_MIN)

    alert = await message_by_id(c, LIU_MIN, alert["message_id"])
    rating = await resolve(bot, LIU_MIN, alert, RESIDENT, "已约维保单位明早更换电梯主板")
    assert "更换电梯主板" in rating["text"] and "刘敏" in rating["text"]
    step = await c.wait_for_message(CHEN_LIANG, f"您首接的诉求 #{n}：刘敏办结",
                                    after=worker_before)  # 首接负责: told of every step
    assert "更换电梯主板" in step["text"]
    assert has_button(rating, "满意") and has_button(rating, "不满意")
    await press(bot, RESIDENT, rating, "😊 满意")
    await c.wait_for_message(CHEN_LIANG, f"#{n} 的评价：满意", after=worker_before)
    assert (await request_snapshot(bot, n))["state"] == "closed"


async def test_a_supervisor_who_took_over_is_offered_only_buttons_that_work(
        bot: Harness) -> None:
    c = bot.client
    submitted, alert = await escalated_request(bot)
    await press(bot, LIU_MIN, alert, "接管")
    await c.wait_for_message(RESIDENT, f"#{submitted.number} 已由刘敏受理")
    await bot.settle()

    alert = await message_by_id(c, LIU_MIN, alert["message_id"])
    assert has_button(alert, "办结")
    refused = []
    for label in labels(alert):
        if "退回" in label:
            answer = await press(bot, LIU_MIN, alert, label)
            if "不归您办理" in answer["text"]:
                refused.append(label)
    assert refused == []


async def test_a_supervisors_urging_reaches_the_worker_with_the_instruction(
        bot: Harness) -> None:
    c = bot.client
    submitted, alert = await escalated_request(bot)
    n = submitted.number
    worker_before = await last_id(c, CHEN_LIANG)
    instruction = "请今天下午前再联系一次维保单位，结果报我"

    await urge(bot, LIU_MIN, alert, "不改期限", instruction, n)

    urged = await c.wait_for_message(CHEN_LIANG, f"刘敏督办诉求 #{n}", after=worker_before)
    assert instruction in urged["text"]
    events = (await request_snapshot(bot, n))["events"]
    assert ("urged", "刘敏", instruction) in events


async def test_urging_with_a_new_deadline_moves_the_clock(bot: Harness) -> None:
    c = bot.client
    submitted, alert = await escalated_request(bot)
    n = submitted.number
    async with bot.app.uow() as uow:
        before = await uow.requests.get(n)
        assert before is not None and before.resolve_due_at is not None
        old_due = before.resolve_due_at
    worker_before = await last_id(c, CHEN_LIANG)

    await urge(bot, LIU_MIN, alert, "限2小时", "两小时内给居民答复", n)

    urged = await c.wait_for_message(CHEN_LIANG, f"刘敏督办诉求 #{n}", after=worker_before)
    assert "限2小时内办结" in urged["text"]
    async with bot.app.uow() as uow:
        after = await uow.requests.get(n)
        assert after is not None and after.resolve_due_at is not None
        assert after.resolve_due_at < old_due
        assert after.next_step_at is not None and after.next_step_at < after.resolve_due_at


async def test_an_urged_worker_is_not_offered_supervisor_only_buttons(bot: Harness) -> None:
    c = bot.client
    submitted, alert = await escalated_request(bot)
    n = submitted.number
    worker_before = await last_id(c, CHEN_LIANG)

    await urge(bot, LIU_MIN, alert, "不改期限", "请尽快处理", n)

    urged = await c.wait_for_message(CHEN_LIANG, f"刘敏督办诉求 #{n}", after=worker_before)
    offered = [label for label in labels(urged) if any(s in label for s in SUPERVISOR_ONLY)]
    assert offered == [], offered


async def test_a_supervisors_hand_back_puts_the_request_back_with_the_grid_worker(
        bot: Harness) -> None:
    c = bot.client
    submitted, alert = await escalated_request(bot)
    n = submitted.number
    worker_before = await last_id(c, CHEN_LIANG)
    resident_before = await last_id(c, RESIDENT)
    instruction = "请网格员先上门查看电梯情况"

    done = await press_with_note(bot, LIU_MIN, alert, "交回", instruction,
                                 prompt="请写交回办理的要求", done=f"已交回 #{n}")

    assert "陈亮" in done["text"]
    back = await c.wait_for_message(CHEN_LIANG, f"刘敏将诉求 #{n} 交回办理", after=worker_before)
    assert instruction in back["text"]
    for label in ("受理", "办结", "上报"):
        assert has_button(back, label), (label, labels(back))
    snapshot = await request_snapshot(bot, n)
    assert (snapshot["state"], snapshot["level"]) == ("open", 0)
    assert snapshot["holder_id"] == await staff_id(bot, CHEN_LIANG)
    await accept(bot, CHEN_LIANG, back, RESIDENT)
    await c.wait_for_message(RESIDENT, f"#{n} 已由陈亮受理", after=resident_before)


async def test_escalation_climbs_to_the_town_then_the_district_and_stops_at_the_top(
        bot: Harness) -> None:
    c = bot.client
    submitted, community_alert = await escalated_request(bot)
    n = submitted.number
    worker_before = await last_id(c, CHEN_LIANG)
    resident_before = await last_id(c, RESIDENT)

    town_alert = await escalate(bot, LIU_MIN, community_alert, "维保合同纠纷，社区协调不了",
                                WANG_QIANG)
    assert "许庄街道" in town_alert["text"] and "刘敏" in town_alert["text"]
    assert REASON in town_alert["text"]  # the whole timeline travels up
    step = await c.wait_for_message(CHEN_LIANG, f"您首接的诉求 #{n}", after=worker_before)
    assert "刘敏" in step["text"] and "维保合同纠纷" in step["text"]
    await c.wait_for_message(RESIDENT, "许庄街道", after=resident_before)

    district_alert = await escalate(bot, WANG_QIANG, town_alert, "需要区里协调住建部门",
                                    CHEN_YAN)
    assert "太白湖新区" in district_alert["text"]
    assert (await request_snapshot(bot, n))["level"] == 3
    await bot.settle()
    before = await request_snapshot(bot, n)
    yan_before = await last_id(c, CHEN_YAN)

    answer = await press(bot, CHEN_YAN, district_alert, "上报")

    assert "最高一级" in answer["text"] and answer["show_alert"]
    await bot.settle()
    assert await bot_texts(c, CHEN_YAN, after=yan_before) == []  # not asked for a reason
    assert await request_snapshot(bot, n) == before
    assert await bot_texts(c, MA_JIAN) == []  # 石桥镇 is not on this request's ladder


async def test_a_workers_return_lets_the_community_reassign_to_the_right_grid(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG, ZHAO_LEI, LIU_MIN, LI_HAOYANG)
    await bind_resident(bot, RESIDENT)
    submitted = await submit(bot, RESIDENT, "3号楼楼道灯坏了，晚上看不见")
    n = submitted.number

    await press_with_note(bot, CHEN_LIANG, submitted.task, "退回", "3号楼属于第二网格",
                          prompt="不属于您的网格", done=f"已退回 #{n}")
    returned = await c.wait_for_message(LIU_MIN, f"陈亮退回了诉求 #{n}")
    assert "3号楼属于第二网格" in returned["text"] and has_button(returned, "转派")

    liu_before = await last_id(c, LIU_MIN)
    resident_before = await last_id(c, RESIDENT)
    await press(bot, LIU_MIN, returned, "转派")
    picker = await c.wait_for_message(LIU_MIN, f"要转派到的网格（诉求 #{n}）", after=liu_before)
    assert labels(picker) == ["颂运水庭第一网格", "颂运水庭第二网格"]  # only her own grids
    await press(bot, LIU_MIN, picker, "第二网格")

    await wait_for_edit(c, LIU_MIN, picker["message_id"], f"已转派 #{n} 至颂运水庭第二网格")
    task = await c.wait_for_message(ZHAO_LEI, f"#{n}")
    assert has_button(task, "受理") and "楼道灯" in task["text"]
    told = await c.wait_for_message(RESIDENT, f"#{n} 已转给", after=resident_before)
    assert "颂运水庭第二网格" in told["text"] and "赵磊" in told["text"]
    snapshot = await request_snapshot(bot, n)
    assert (snapshot["grid_id"], snapshot["level"], snapshot["state"]) == ("songyun-2", 0, "open")
    assert snapshot["holder_id"] == await staff_id(bot, ZHAO_LEI)
    await accept(bot, ZHAO_LEI, task, RESIDENT)
    await c.wait_for_message(RESIDENT, f"#{n} 已由赵磊受理", after=resident_before)
    await bot.settle()
    assert await bot_texts(c, LI_HAOYANG) == []


async def test_a_double_tap_on_the_grid_picker_reassigns_once(bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG, ZHAO_LEI, LIU_MIN)
    await bind_resident(bot, RESIDENT)
    submitted = await submit(bot, RESIDENT, "3号楼楼道灯坏了，晚上看不见")
    n = submitted.number
    await press_with_note(bot, CHEN_LIANG, submitted.task, "退回", "3号楼属于第二网格",
                          prompt="不属于您的网格", done=f"已退回 #{n}")
    returned = await c.wait_for_message(LIU_MIN, f"陈亮退回了诉求 #{n}")
    await press(bot, LIU_MIN, returned, "转派")
    picker = await c.wait_for_message(LIU_MIN, f"要转派到的网格（诉求 #{n}）")
    data = button_data(picker, "第二网格")

    first = await c.callback(LIU_MIN, picker["message_id"], data)
    second = await c.callback(LIU_MIN, picker["message_id"], data)
    answers = [(await c.callback_answer(q))["text"] for q in (first, second)]

    await c.wait_for_message(ZHAO_LEI, f"#{n}")
    await bot.settle()
    assert await count_containing(c, ZHAO_LEI, f"新诉求 #{n}") == 1, answers
    assert await count_containing(c, RESIDENT, f"#{n} 已转给") == 1, answers
    events = (await request_snapshot(bot, n))["events"]
    assert [e[0] for e in events].count("reassigned") == 1


async def test_a_supervisor_of_another_community_pressing_take_over_is_refused(
        bot: Harness) -> None:
    c = bot.client
    submitted, alert = await escalated_request(bot)
    n = submitted.number
    await bot.settle()
    before = await request_snapshot(bot, n)
    resident_before = await last_id(c, RESIDENT)
    await c.send(SUN_LI, "/open")
    own = await c.wait_for_message(SUN_LI, "辖区")

    answer = await forge(bot, SUN_LI, own["message_id"], button_data(alert, "接管"))

    assert "不归您办理" in answer["text"] and answer["show_alert"]
    for label in ("督办", "交回", "办结", "上报", "转派"):
        answer = await forge(bot, SUN_LI, own["message_id"], button_data(alert, label))
        assert "不归您办理" in answer["text"], (label, answer)
    await bot.settle()
    assert await request_snapshot(bot, n) == before
    assert await bot_texts(c, RESIDENT, after=resident_before) == []
    # 刘敏's own button still works.
    assert f"您已接管 #{n}" in (await press(bot, LIU_MIN, alert, "接管"))["text"]


# ----- /open and /overdue, with a clock the test can move ------------------------------------

@dataclass
class MovableClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class ClockedBot:
    bot: Harness
    clock: MovableClock


@pytest.fixture
async def clocked(database_url: str) -> AsyncIterator[ClockedBot]:
    clock = MovableClock(datetime.now(UTC))
    async with running_bot(database_url, clock=clock) as harness:
        yield ClockedBot(harness, clock)


async def listing(bot: Harness, supervisor: int, command: str) -> str:
    after = await last_id(bot.client, supervisor)
    await bot.client.send(supervisor, command)
    return str((await bot.client.wait_for_message(supervisor, "辖区", after=after))["text"])


async def test_open_and_overdue_list_only_the_supervisors_own_area(
        clocked: ClockedBot) -> None:
    bot = clocked.bot
    await add_staff(bot, CHEN_LIANG, LI_HAOYANG, LIU_MIN, SUN_LI, WANG_QIANG, MA_JIAN)
    await bind_resident(bot, RESIDENT, "SY-1")
    await bind_resident(bot, MINGDE_RESIDENT, "MD-2", name="张大姐")
    songyun = (await submit(bot, RESIDENT, "小区门口垃圾没人清理")).number
    mingde = (await submit(bot, MINGDE_RESIDENT, "2号楼楼道灯坏了", worker=LI_HAOYANG)).number
    await bot.settle()

    liu, sun = await listing(bot, LIU_MIN, "/open"), await listing(bot, SUN_LI, "/open")
    assert f"#{songyun} " in liu and f"#{mingde} " not in liu
    assert f"#{mingde} " in sun and f"#{songyun} " not in sun
    town = await listing(bot, WANG_QIANG, "/open")
    assert f"#{songyun} " in town and f"#{mingde} " in town
    assert "没有未办结" in await listing(bot, MA_JIAN, "/open")
    assert "没有超时" in await listing(bot, LIU_MIN, "/overdue")

    # Past the 2h acknowledge window of 一般 requests. Nothing commits between here and the
    # lists below, so the clockwork (poked after commits, safety sweep every 30 s) has not yet
    # escalated them to fresh windows.
    clocked.clock.now += timedelta(hours=3)

    liu, sun = await listing(bot, LIU_MIN, "/overdue"), await listing(bot, SUN_LI, "/overdue")
    assert f"#{songyun} " in liu and f"#{mingde} " not in liu
    assert f"#{mingde} " in sun and f"#{songyun} " not in sun
    assert "没有超时" in await listing(bot, MA_JIAN, "/overdue")


async def test_a_worker_asks_for_more_time_and_the_community_approves_it(bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG, LIU_MIN)
    await bind_resident(bot, 6701)
    s = await submit(bot, 6701, "楼顶防水层坏了，下雨就往屋里渗")
    await accept(bot, CHEN_LIANG, s.task, 6701)
    after = await last_id(c, CHEN_LIANG)
    await press(bot, CHEN_LIANG, s.task, "延期")
    lengths = await c.wait_for_message(CHEN_LIANG, "需要延期多久", after=after)
    await press_with_note(bot, CHEN_LIANG, lengths, "3天", "防水材料要从厂家调货",
                          prompt="延期的理由", done="已提交延期申请")
    ask = await c.wait_for_message(LIU_MIN, "申请诉求")
    assert "防水材料" in ask["text"] and has_button(ask, "同意延期")
    resident_before = await last_id(c, 6701)
    await press(bot, LIU_MIN, ask, "同意延期")
    told = await c.wait_for_message(6701, "需要多一些时间", after=resident_before)
    assert f"#{s.number}" in told["text"]
    await c.wait_for_message(CHEN_LIANG, "同意了诉求")
