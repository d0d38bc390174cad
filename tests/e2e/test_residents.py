"""A resident binds to a building, sends requests in any form, follows them, adds to them,
withdraws them and rates the result; every step is answered in the resident's language."""

from __future__ import annotations

import pytest

from bot.harness import Harness
from tests.e2e.helpers import (
    CHEN_LIANG,
    LI_HAOYANG,
    ZHAO_LEI,
    accept,
    add_staff,
    ask,
    bind_resident,
    bot_texts,
    building_of,
    button_data,
    calls_to,
    count_containing,
    forge,
    has_button,
    labels,
    last_id,
    message_by_id,
    number_in,
    press,
    press_with_note,
    request_count,
    request_snapshot,
    resolve,
    resolved_request,
    submit,
    wait_for_edit,
)

RESIDENT = 5301
COMMUNITIES = ["颂运水庭社区", "明德花园社区", "石桥村"]


async def test_plain_start_offers_communities_then_buildings_then_binds(bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, ZHAO_LEI)
    await c.add_user(RESIDENT, "王阿姨")

    await c.send(RESIDENT, "/start")
    welcome = await c.wait_for_message(RESIDENT, "请先选择您住的社区和楼栋")
    assert labels(welcome) == COMMUNITIES

    await press(bot, RESIDENT, welcome, "颂运水庭社区")
    picker = await wait_for_edit(c, RESIDENT, welcome["message_id"], "请选择您住的楼栋")
    assert labels(picker) == ["1号楼", "2号楼", "3号楼", "4号楼"]
    await press(bot, RESIDENT, picker, "3号楼")

    bound = await c.wait_for_message(RESIDENT, "已登记", after=welcome["message_id"])
    assert "颂运水庭社区3号楼" in bound["text"] and "赵磊" in bound["text"]
    assert await building_of(bot, RESIDENT) == "SY-3"
    assert labels(await message_by_id(c, RESIDENT, welcome["message_id"])) == []


async def test_start_with_an_unknown_code_answers_politely_with_the_picker(
        bot: Harness) -> None:
    c = bot.client
    await c.add_user(RESIDENT, "王阿姨")

    await c.send(RESIDENT, "/start ZZ-99")
    answer = await c.wait_for_message(RESIDENT, "没有找到楼栋编号「ZZ-99」")
    assert "二维码" in answer["text"] and labels(answer) == COMMUNITIES
    await bot.settle()
    assert await building_of(bot, RESIDENT) is None

    # A bound resident who scans a bad code stays where they were.
    await bind_resident(bot, RESIDENT, "SY-1")
    await ask(bot, RESIDENT, "/start ZZ-99", "没有找到楼栋编号")
    await bot.settle()
    assert await building_of(bot, RESIDENT) == "SY-1"


async def test_rebinding_to_another_building_routes_new_requests_to_the_new_grid(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG, LI_HAOYANG)
    await bind_resident(bot, RESIDENT, "SY-1")
    old = await submit(bot, RESIDENT, "小区门口垃圾没人清理", worker=CHEN_LIANG)

    after = await last_id(c, RESIDENT)
    await c.send(RESIDENT, "/start")
    await c.wait_for_message(RESIDENT, "您已登记在 颂运水庭社区1号楼", after=after)
    change = await c.wait_for_message(RESIDENT, "更换楼栋", after=after)
    await press(bot, RESIDENT, change, "明德花园社区")
    picker = await wait_for_edit(c, RESIDENT, change["message_id"], "请选择您住的楼栋")
    assert labels(picker) == ["1号楼", "2号楼", "3号楼"]
    await press(bot, RESIDENT, picker, "1号楼")
    bound = await c.wait_for_message(RESIDENT, "已登记：", after=change["message_id"])
    assert "明德花园社区1号楼" in bound["text"] and "李浩洋" in bound["text"]
    chen_before = await last_id(c, CHEN_LIANG)

    new = await submit(bot, RESIDENT, "楼道灯坏了，晚上看不见", worker=LI_HAOYANG)

    assert "明德花园社区1号楼" in new.task["text"]
    await bot.settle()
    assert await bot_texts(c, CHEN_LIANG, after=chen_before) == []
    assert (await request_snapshot(bot, new.number))["grid_id"] == "mingde-1"
    assert (await request_snapshot(bot, old.number))["grid_id"] == "songyun-1"


async def test_messages_sent_before_binding_are_kept_and_submitted_right_after_binding(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await c.add_user(RESIDENT, "王阿姨")

    await c.send(RESIDENT, "2号楼楼道灯坏了，晚上看不见")
    kept = await c.wait_for_message(RESIDENT, "登记后，这条消息会自动提交")
    assert labels(kept) == COMMUNITIES
    await c.send(RESIDENT, "还有门口垃圾没人清理")
    await bot.settle()
    assert await request_count(bot) == 0
    assert await bot_texts(c, CHEN_LIANG) == []

    after = await last_id(c, RESIDENT)
    await c.send(RESIDENT, "/start SY-2")

    bound = await c.wait_for_message(RESIDENT, "已登记", after=after)
    assert "2 条消息已经提交" in bound["text"]
    first = await c.wait_for_message(RESIDENT, "已收到您的诉求 #", after=after)
    second = await c.wait_for_message(RESIDENT, "已收到您的诉求 #", after=first["message_id"])
    numbers = sorted([number_in(first), number_in(second)])
    assert await request_count(bot) == 2
    for number, text in zip(numbers, ["楼道灯坏了", "垃圾没人清理"], strict=True):
        task = await c.wait_for_message(CHEN_LIANG, f"新诉求 #{number}")
        assert text in task["text"] and has_button(task, "受理")


async def test_replying_to_the_receipt_adds_a_detail_and_tells_the_worker(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)
    submitted = await submit(bot, RESIDENT, "楼道灯坏了，晚上看不见")
    n = submitted.number
    detail = "是2单元三楼的灯，已经坏了三天"
    worker_before = await last_id(c, CHEN_LIANG)
    resident_before = await last_id(c, RESIDENT)

    await c.send(RESIDENT, detail, reply_to_message_id=submitted.receipt["message_id"])

    added = await c.wait_for_message(RESIDENT, f"已补充到诉求 #{n}", after=resident_before)
    assert "陈亮" in added["text"]
    told = await c.wait_for_message(CHEN_LIANG, f"居民补充了诉求 #{n}", after=worker_before)
    assert detail in told["text"]
    await bot.settle()
    assert await request_count(bot) == 1
    snapshot = await request_snapshot(bot, n)
    assert detail in snapshot["text"] and ("detail", "王阿姨", detail) in snapshot["events"]


async def test_my_lists_the_residents_requests_with_their_state(bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)
    waiting = await submit(bot, RESIDENT, "小区门口垃圾没人清理")
    handled = await submit(bot, RESIDENT, "楼道灯坏了，晚上看不见")
    await accept(bot, CHEN_LIANG, handled.task, RESIDENT)
    await bot.settle()

    after = await last_id(c, RESIDENT)
    await c.send(RESIDENT, "/my")
    mine = await c.wait_for_message(RESIDENT, "您的诉求：", after=after)

    assert f"#{waiting.number} 待受理" in mine["text"]
    assert f"#{handled.number} 办理中" in mine["text"]
    assert "垃圾没人清理" in mine["text"] and "楼道灯" in mine["text"]

    await press(bot, RESIDENT, handled.receipt, "查看进度")
    progress = await c.wait_for_message(RESIDENT, "办理记录", after=mine["message_id"])
    assert f"#{handled.number}｜办理中" in progress["text"] and "陈亮 受理" in progress["text"]


async def test_withdrawing_an_open_request_tells_the_worker_and_a_second_withdraw_is_refused(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)
    submitted = await submit(bot, RESIDENT, "小区门口垃圾没人清理")
    n = submitted.number
    data = button_data(submitted.receipt, "撤回")
    worker_before = await last_id(c, CHEN_LIANG)

    answer = await press(bot, RESIDENT, submitted.receipt, "撤回")

    assert f"诉求 #{n} 已撤回" in answer["text"]
    await c.wait_for_message(RESIDENT, f"诉求 #{n} 已撤回", after=submitted.receipt["message_id"])
    await c.wait_for_message(CHEN_LIANG, f"居民已撤回诉求 #{n}", after=worker_before)
    assert (await request_snapshot(bot, n))["state"] == "withdrawn"
    await bot.settle()
    before = await request_snapshot(bot, n)

    again = await forge(bot, RESIDENT, submitted.receipt["message_id"], data)

    assert f"#{n}" in again["text"] and "已撤回" in again["text"] and again["show_alert"]
    await bot.settle()
    assert await request_snapshot(bot, n) == before
    assert await count_containing(c, CHEN_LIANG, f"居民已撤回诉求 #{n}") == 1
    await ask(bot, CHEN_LIANG, "/tasks", "暂时没有待办")


async def test_dissatisfied_reopens_to_the_worker_with_the_reason_then_can_be_rated_satisfied(
        bot: Harness) -> None:
    c = bot.client
    submitted, rating = await resolved_request(bot, RESIDENT)
    n = submitted.number
    worker_before = await last_id(c, CHEN_LIANG)
    resident_before = await last_id(c, RESIDENT)

    await press(bot, RESIDENT, rating, "不满意")
    await c.wait_for_message(RESIDENT, f"请说说哪里还没解决（诉求 #{n}）", after=resident_before)
    await c.send(RESIDENT, "换了灯泡还是不亮，应该是线路问题")

    back = await c.wait_for_message(RESIDENT, f"已重新交给网格员陈亮办理诉求 #{n}",
                                    after=resident_before)
    assert back
    reopened = await c.wait_for_message(CHEN_LIANG, f"#{n} 的办理结果不满意",
                                        after=worker_before)
    assert "线路问题" in reopened["text"] and has_button(reopened, "办结")
    snapshot = await request_snapshot(bot, n)
    assert snapshot["state"] == "accepted" and snapshot["rating"] is None
    assert await request_count(bot) == 1  # the reason did not become a new request

    second = await resolve(bot, CHEN_LIANG, reopened, RESIDENT, "已请电工更换线路")
    assert "更换线路" in second["text"]
    thanks = await press(bot, RESIDENT, second, "😊 满意")
    assert f"#{n} 已完结" in thanks["text"]
    await c.wait_for_message(CHEN_LIANG, f"#{n} 的评价：满意", after=worker_before)
    snapshot = await request_snapshot(bot, n)
    assert (snapshot["state"], snapshot["rating"]) == ("closed", "satisfied")


async def test_a_location_becomes_a_request_and_the_worker_receives_the_location(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)

    submitted = await submit(bot, RESIDENT, None,
                             location={"latitude": 35.3902, "longitude": 116.5871})

    await bot.settle()
    sent = await calls_to(c, "sendLocation", CHEN_LIANG)
    assert len(sent) == 1
    assert float(sent[0]["params"]["latitude"]) == pytest.approx(35.3902)
    assert float(sent[0]["params"]["longitude"]) == pytest.approx(116.5871)
    assert "见附件" in submitted.task["text"]
    assert [a[0] for a in (await request_snapshot(bot, submitted.number))["attachments"]] == [
        "location"]


async def test_a_voice_message_becomes_a_request_and_the_worker_receives_the_voice(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)

    after = await last_id(c, RESIDENT)
    message = await c.send(RESIDENT, voice=4)
    receipt = await c.wait_for_message(RESIDENT, "已收到您的诉求 #", after=after)
    n = number_in(receipt)
    await c.wait_for_message(CHEN_LIANG, f"新诉求 #{n}")

    await bot.settle()
    voices = await calls_to(c, "sendVoice", CHEN_LIANG)
    assert len(voices) == 1
    assert voices[0]["params"]["voice"] == message["voice"]["file_id"]
    assert f"#{n}" in voices[0]["params"]["caption"]


async def test_a_resident_whose_telegram_speaks_english_gets_english_receipts(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    bound = await bind_resident(bot, RESIDENT, "SY-1", name="Anna", language_code="en")
    assert "Your grid worker is 陈亮" in bound["text"]

    after = await last_id(c, RESIDENT)
    await c.send(RESIDENT, "楼道灯坏了，晚上看不见")
    receipt = await c.wait_for_message(RESIDENT, "Request #", after=after)
    n = number_in(receipt)
    assert "received" in receipt["text"] and "grid worker 陈亮" in receipt["text"]
    assert has_button(receipt, "Progress") and has_button(receipt, "Withdraw")
    task = await c.wait_for_message(CHEN_LIANG, f"新诉求 #{n}")  # staff read Chinese
    assert has_button(task, "受理")

    await press(bot, CHEN_LIANG, task, "受理")
    accepted = await c.wait_for_message(RESIDENT, f"Request #{n} was accepted by 陈亮",
                                        after=receipt["message_id"])
    assert "受理" not in accepted["text"]


async def test_an_english_receipt_names_the_category_in_english(bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT, "SY-1", name="Anna", language_code="en")

    await c.send(RESIDENT, "楼道灯坏了，晚上看不见")
    receipt = await c.wait_for_message(RESIDENT, "Request #")

    assert "Category: Property repair" in receipt["text"], receipt["text"]


async def test_a_reply_to_a_closed_requests_message_becomes_a_new_request(
        bot: Harness) -> None:
    c = bot.client
    submitted, rating = await resolved_request(bot, RESIDENT)
    await press(bot, RESIDENT, rating, "😊 满意")
    await c.wait_for_message(RESIDENT, "已完结")
    before = await request_snapshot(bot, submitted.number)
    after = await last_id(c, RESIDENT)

    await c.send(RESIDENT, "门口垃圾又没人清理了", reply_to_message_id=rating["message_id"])

    receipt = await c.wait_for_message(RESIDENT, "已收到您的诉求 #", after=after)
    assert number_in(receipt) != submitted.number
    await bot.settle()
    assert await request_snapshot(bot, submitted.number) == before
    assert await request_count(bot) == 2


async def test_a_note_typed_by_a_worker_mid_action_is_not_a_request(bot: Harness) -> None:
    """The worker's 办结 note goes to the request, not into a new one, and /cancel leaves it."""
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)
    submitted = await submit(bot, RESIDENT, "楼道灯坏了，晚上看不见")
    after = await last_id(c, CHEN_LIANG)
    await press(bot, CHEN_LIANG, submitted.task, "办结")
    await c.wait_for_message(CHEN_LIANG, "办理情况", after=after)

    await c.send(CHEN_LIANG, "/cancel")

    await c.wait_for_message(CHEN_LIANG, "已取消", after=after)
    await c.send(CHEN_LIANG, "顺便问一下")
    await c.wait_for_message(CHEN_LIANG, "这里是工作账号", after=after)
    await bot.settle()
    assert (await request_snapshot(bot, submitted.number))["state"] == "open"
    assert await request_count(bot) == 1
    done = await press_with_note(bot, CHEN_LIANG, submitted.task, "办结", "已更换灯泡",
                                 prompt="办理情况", done=f"已办结 #{submitted.number}")
    assert done


async def test_changing_ones_mind_from_dissatisfied_to_satisfied_keeps_the_next_message(
        bot: Harness) -> None:
    c = bot.client
    submitted, rating = await resolved_request(bot, RESIDENT)
    await press(bot, RESIDENT, rating, "不满意")
    await c.wait_for_message(RESIDENT, "请说说哪里还没解决")
    await press(bot, RESIDENT, rating, "😊 满意")  # on second thought it is fine
    await c.wait_for_message(RESIDENT, "已完结")
    after = await last_id(c, RESIDENT)

    await c.send(RESIDENT, "另外，门口垃圾没人清理")

    receipt = await c.wait_for_message(RESIDENT, lambda m: "#" in (m.get("text") or ""),
                                       after=after)
    assert "已收到您的诉求" in receipt["text"], receipt["text"]
    assert (await request_snapshot(bot, submitted.number))["state"] == "closed"


async def test_a_reply_to_a_resolved_request_is_not_silently_dropped(bot: Harness) -> None:
    c = bot.client
    submitted, rating = await resolved_request(bot, RESIDENT)
    after = await last_id(c, RESIDENT)
    detail = "三楼的灯还是不亮"

    await c.send(RESIDENT, detail, reply_to_message_id=rating["message_id"])

    answer = await c.wait_for_message(RESIDENT, f"#{submitted.number}", after=after)
    await bot.settle()
    stored = detail in (await request_snapshot(bot, submitted.number))["text"]
    guided = any(hint in answer["text"] for hint in ("新消息", "不满意"))
    assert stored or guided, answer["text"]


async def test_a_long_timeline_is_paged_with_buttons(bot: Harness) -> None:
    from datetime import timedelta

    from handlers.callbacks import PageCB
    from storage.models import RequestEvent

    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)
    s = await submit(bot, RESIDENT, "单元门的门禁坏了，刷卡没反应")
    async with bot.app.uow() as uow:  # a long history, written as the desk would
        request = await uow.requests.get(s.number)
        assert request is not None
        for i in range(15):
            await uow.requests.add_event(RequestEvent(
                request_id=s.number, at=request.created_at + timedelta(minutes=i + 1),
                actor_kind="resident", actor_id=str(RESIDENT), actor_name="王阿姨",
                action="detail", note=f"第{i}次补充", level=0))
        await uow.commit()
    page = await ask(bot, RESIDENT, f"/show {s.number}", f"#{s.number}｜")
    assert "第 2/2 页" in page["text"] and "第14次补充" in page["text"]
    assert "第0次补充" not in page["text"]
    assert labels(page) == ["◀ 更早"]
    await press(bot, RESIDENT, page, "更早")
    older = await wait_for_edit(c, RESIDENT, page["message_id"], "第 1/2 页")
    assert "第0次补充" in older["text"] and "第14次补充" not in older["text"]
    assert labels(older) == ["更新 ▶"]

    # Someone else's request: a forged page button shows nothing of it.
    stranger = RESIDENT + 1
    own = await bind_resident(bot, stranger, code="SY-2", name="李大爷")
    answer = await forge(bot, stranger, own["message_id"],
                         PageCB(number=s.number, page=1).pack())
    assert "没有找到" in answer["text"]
    assert "第0次补充" not in " ".join(await bot_texts(c, stranger))
