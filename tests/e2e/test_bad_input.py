"""Whatever odd thing a user sends or presses, the bot answers politely and changes nothing it
should not: stickers, unknown commands, edits, forwards, overlong texts, double presses,
presses by the wrong person, forged callback data and stale buttons."""

from __future__ import annotations

from typing import Any

import pytest

from bot.harness import Harness
from tests.e2e.helpers import (
    CHEN_LIANG,
    ZHAO_LEI,
    accept,
    add_staff,
    ask,
    bind_resident,
    bot_texts,
    button_data,
    calls_to,
    count_containing,
    forge,
    has_button,
    last_id,
    message_by_id,
    number_in,
    press,
    request_count,
    request_snapshot,
    resolve,
    submit,
)

RESIDENT = 5101
OTHER_RESIDENT = 5102
STRANGER = 5199  # someone whose message gets forwarded
GROUP = -1005101  # a neighbours' group the bot was added to


async def test_a_sticker_gets_a_friendly_hint_and_creates_no_request(bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)
    before = await last_id(c, CHEN_LIANG)

    await c.send(RESIDENT, sticker=True)
    answer = await c.wait_for_message(RESIDENT, "表情")
    assert "文字、照片、语音或位置" in answer["text"]

    await bot.settle()
    assert await request_count(bot) == 0
    assert await bot_texts(c, CHEN_LIANG, after=before) == []


async def test_an_unknown_command_points_to_help_and_creates_no_request(bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)

    await c.send(RESIDENT, "/foo")
    answer = await c.wait_for_message(RESIDENT, "没有这个命令")
    assert "/help" in answer["text"]
    await ask(bot, CHEN_LIANG, "/foo", "没有这个命令")

    await bot.settle()
    assert await request_count(bot) == 0
    await ask(bot, RESIDENT, "/my", "您还没有提交过诉求")


async def test_an_edited_message_is_explained_and_does_not_change_the_request(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)
    original = "2号楼楼道灯坏了，晚上看不见"
    after = await last_id(c, RESIDENT)
    sent = await c.send(RESIDENT, original)
    number = number_in(await c.wait_for_message(RESIDENT, "已收到您的诉求 #", after=after))
    await bot.settle()
    before = await request_snapshot(bot, number)
    worker_before = await last_id(c, CHEN_LIANG)

    await c.edit(RESIDENT, sent["message_id"], "2号楼楼道灯坏了，电梯也停了")
    answer = await c.wait_for_message(RESIDENT, "修改后的消息不会更新")
    assert "回复" in answer["text"]  # tells how to add details instead

    await bot.settle()
    assert await request_count(bot) == 1
    assert await request_snapshot(bot, number) == before
    assert before["text"] == original
    assert await bot_texts(c, CHEN_LIANG, after=worker_before) == []


async def test_a_forwarded_message_asks_for_own_words_and_creates_no_request(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)
    await c.add_user(STRANGER, "群友")

    await c.send(RESIDENT, "楼上卫生间漏水，天花板都湿了", forward_from_user_id=STRANGER)
    answer = await c.wait_for_message(RESIDENT, "转发的消息")
    assert "自己的话" in answer["text"]

    await bot.settle()
    assert await request_count(bot) == 0
    assert await bot_texts(c, CHEN_LIANG) == []


async def test_a_text_over_4000_characters_is_refused_politely_and_creates_no_request(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)

    await c.send(RESIDENT, "楼道灯坏了" + "很久" * 2000)  # 4005 characters, under Telegram's 4096
    answer = await c.wait_for_message(RESIDENT, "内容太长了")
    assert "4000" in answer["text"] and "分几条" in answer["text"]

    await bot.settle()
    assert await request_count(bot) == 0
    assert await bot_texts(c, CHEN_LIANG) == []


async def test_a_text_of_exactly_4000_characters_is_still_accepted(bot: Harness) -> None:
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)
    text = "楼道灯坏了" + "哦" * 3995
    assert len(text) == 4000

    submitted = await submit(bot, RESIDENT, text)

    assert (await request_snapshot(bot, submitted.number))["text"] == text


async def test_a_photo_without_caption_becomes_a_request_and_the_photo_reaches_the_worker(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)

    sent = await c.send(RESIDENT, photo=True)
    number = number_in(await c.wait_for_message(RESIDENT, "已收到您的诉求 #"))
    task = await c.wait_for_message(CHEN_LIANG, f"#{number}")
    assert "见附件" in task["text"]
    await bot.settle()

    photos = await calls_to(c, "sendPhoto", CHEN_LIANG)
    assert len(photos) == 1
    assert photos[0]["params"]["photo"] == sent["photo"][-1]["file_id"]
    assert f"#{number}" in photos[0]["params"]["caption"]
    stored = await request_snapshot(bot, number)
    assert stored["attachments"] == [("photo", sent["photo"][-1]["file_id"])]


async def test_pressing_accept_twice_answers_already_done_and_tells_the_resident_once(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)
    submitted = await submit(bot, RESIDENT, "小区门口垃圾没人清理")
    data = button_data(submitted.task, "受理")

    # A double tap: both presses are on their way before the first is handled.
    first = await c.callback(CHEN_LIANG, submitted.task["message_id"], data)
    second = await c.callback(CHEN_LIANG, submitted.task["message_id"], data)
    answers = sorted([(await c.callback_answer(first))["text"],
                      (await c.callback_answer(second))["text"]])

    assert any("已受理" in a for a in answers), answers
    assert any("不用重复操作" in a for a in answers), answers
    await bot.settle()
    assert await count_containing(c, RESIDENT, "已由陈亮受理") == 1
    snapshot = await request_snapshot(bot, submitted.number)
    assert snapshot["state"] == "accepted"
    assert [e for e in snapshot["events"] if e[0] == "accepted"] == [
        ("accepted", "陈亮", "")]


async def test_a_double_tap_on_a_building_button_submits_the_kept_message_once(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await c.add_user(RESIDENT, "王阿姨")
    await c.send(RESIDENT, "2号楼楼道灯坏了，晚上看不见")
    kept = await c.wait_for_message(RESIDENT, "登记后，这条消息会自动提交")
    await press(bot, RESIDENT, kept, "颂运水庭社区")
    picker = await c.wait_for_message(
        RESIDENT, lambda m: m["message_id"] == kept["message_id"] and has_button(m, "2号楼"),
        after=kept["message_id"] - 1)
    data = button_data(picker, "2号楼")

    first = await c.callback(RESIDENT, picker["message_id"], data)
    second = await c.callback(RESIDENT, picker["message_id"], data)
    await c.callback_answer(first)
    await c.callback_answer(second)

    await c.wait_for_message(RESIDENT, "已收到您的诉求 #")
    await bot.settle()
    assert await request_count(bot) == 1
    assert await count_containing(c, RESIDENT, "已收到您的诉求 #") == 1
    assert await count_containing(c, CHEN_LIANG, "新诉求 #") == 1


async def test_another_grids_worker_pressing_accept_is_refused_and_nothing_changes(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG, ZHAO_LEI)
    await bind_resident(bot, RESIDENT)
    submitted = await submit(bot, RESIDENT, "小区门口垃圾没人清理")
    before = await request_snapshot(bot, submitted.number)
    resident_before = await last_id(c, RESIDENT)
    # 赵磊 never got the request; he replays its 受理 button on a message in his own chat.
    await c.send(ZHAO_LEI, "/tasks")
    own = await c.wait_for_message(ZHAO_LEI, "待办")

    answer = await forge(bot, ZHAO_LEI, own["message_id"], button_data(submitted.task, "受理"))

    assert "不归您办理" in answer["text"] and answer["show_alert"]
    await bot.settle()
    assert await request_snapshot(bot, submitted.number) == before
    assert await bot_texts(c, RESIDENT, after=resident_before) == []
    tasks = await ask(bot, CHEN_LIANG, "/tasks", "您手上的诉求")
    assert f"#{submitted.number} 待受理" in tasks["text"]


@pytest.mark.parametrize("action", ["受理", "办结", "上报", "退回"])
async def test_a_resident_forging_a_workers_button_is_refused_and_nothing_changes(
        bot: Harness, action: str) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)
    submitted = await submit(bot, RESIDENT, "小区门口垃圾没人清理")
    before = await request_snapshot(bot, submitted.number)
    worker_before = await last_id(c, CHEN_LIANG)
    resident_before = await last_id(c, RESIDENT)

    answer = await forge(bot, RESIDENT, submitted.receipt["message_id"],
                         button_data(submitted.task, action))

    assert answer["text"] and answer["show_alert"]
    await bot.settle()
    assert await request_snapshot(bot, submitted.number) == before
    assert await bot_texts(c, CHEN_LIANG, after=worker_before) == []
    assert await bot_texts(c, RESIDENT, after=resident_before) == []  # no prompt for a note


@pytest.mark.parametrize(("data", "expected"), [
    ("xx", "按钮已经失效"),
    ("rq1:zzz:1", "按钮已经失效"),
    ("rq1:acc:99999", "没有找到这件诉求"),
    ("rq1:acc:-1", "没有找到这件诉求"),
    ("rt1:1:zz", "按钮已经失效"),
    ("pg1:1:mingde-1", "不归您办理"),
])
async def test_forged_callback_data_is_answered_and_changes_nothing(
        bot: Harness, data: str, expected: str) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)
    submitted = await submit(bot, RESIDENT, "小区门口垃圾没人清理")
    before = await request_snapshot(bot, submitted.number)
    await bot.settle()
    worker_before = await last_id(c, CHEN_LIANG)
    resident_before = await last_id(c, RESIDENT)

    query = await c.callback(CHEN_LIANG, submitted.task["message_id"], data)
    answer = await c.callback_answer(query)

    await bot.settle()
    shown = answer["text"] + "".join(await bot_texts(c, CHEN_LIANG, after=worker_before))
    assert expected in shown
    assert await request_snapshot(bot, submitted.number) == before
    assert await request_count(bot) == 1
    assert await bot_texts(c, RESIDENT, after=resident_before) == []
    task = await message_by_id(c, CHEN_LIANG, submitted.task["message_id"])
    assert task["reply_markup"] == submitted.task["reply_markup"]  # buttons left alone


async def test_a_forged_building_pick_on_a_task_leaves_the_workers_buttons_alone(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)
    submitted = await submit(bot, RESIDENT, "小区门口垃圾没人清理")
    worker_before = await last_id(c, CHEN_LIANG)

    await forge(bot, CHEN_LIANG, submitted.task["message_id"], "pb1:NO-SUCH")
    await c.wait_for_message(CHEN_LIANG, "没有找到楼栋", after=worker_before)

    await bot.settle()
    assert await request_count(bot) == 1
    task = await message_by_id(c, CHEN_LIANG, submitted.task["message_id"])
    assert task["reply_markup"] == submitted.task["reply_markup"]


@pytest.mark.parametrize("content", [
    {"photo": True}, {"voice": 2}, {"location": {"latitude": 35.39, "longitude": 116.58}}])
async def test_a_staff_members_photo_voice_or_location_is_not_taken_as_a_residents_request(
        bot: Harness, content: dict[str, Any]) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)

    await c.send(CHEN_LIANG, **content)

    answer = await c.wait_for_message(CHEN_LIANG, lambda m: True)
    await bot.settle()
    assert await request_count(bot) == 0
    async with bot.app.uow() as uow:
        kept = await uow.residents.count_pending(CHEN_LIANG)
    assert kept == 0 and "工作账号" in answer["text"], (kept, answer["text"])


async def test_another_residents_withdraw_and_show_reveal_and_change_nothing(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)
    await bind_resident(bot, OTHER_RESIDENT, "SY-2", name="李大爷")
    submitted = await submit(bot, RESIDENT, "小区门口垃圾没人清理")
    before = await request_snapshot(bot, submitted.number)
    own = await last_id(c, OTHER_RESIDENT)

    for label in ("撤回", "查看进度"):
        answer = await forge(bot, OTHER_RESIDENT, own, button_data(submitted.receipt, label))
        assert "没有找到这件诉求" in answer["text"], label
    await c.send(OTHER_RESIDENT, f"/show {submitted.number}")
    shown = await c.wait_for_message(OTHER_RESIDENT, "没有找到这件诉求", after=own)
    assert "垃圾" not in shown["text"]

    await bot.settle()
    assert await request_snapshot(bot, submitted.number) == before
    assert await bot_texts(c, CHEN_LIANG, after=submitted.task["message_id"]) == []


async def test_a_rating_for_someone_elses_request_is_refused_and_nothing_changes(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)
    await bind_resident(bot, OTHER_RESIDENT, "SY-2", name="李大爷")
    submitted = await submit(bot, RESIDENT, "小区门口垃圾没人清理")
    await accept(bot, CHEN_LIANG, submitted.task, RESIDENT)
    rating = await resolve(bot, CHEN_LIANG, submitted.task, RESIDENT, "已安排保洁清运")
    await bot.settle()
    before = await request_snapshot(bot, submitted.number)
    worker_before = await last_id(c, CHEN_LIANG)
    own = await last_id(c, OTHER_RESIDENT)

    for verdict in ("满意", "不满意"):
        answer = await forge(bot, OTHER_RESIDENT, own, button_data(rating, verdict))
        assert "没有找到这件诉求" in answer["text"], verdict

    await bot.settle()
    assert await request_snapshot(bot, submitted.number) == before
    assert await bot_texts(c, CHEN_LIANG, after=worker_before) == []
    assert await bot_texts(c, OTHER_RESIDENT, after=own) == []  # not asked for a reason
    # The resident's own buttons still work afterwards.
    assert (await press(bot, RESIDENT, rating, "基本满意"))["text"]
    await c.wait_for_message(CHEN_LIANG, "基本满意", after=worker_before)


async def test_buttons_on_an_old_message_after_resolution_answer_with_a_reason(
        bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)
    submitted = await submit(bot, RESIDENT, "小区门口垃圾没人清理")
    old_buttons = {label: button_data(submitted.task, label)
                   for label in ("受理", "办结", "上报", "退回")}
    await accept(bot, CHEN_LIANG, submitted.task, RESIDENT)
    await resolve(bot, CHEN_LIANG, submitted.task, RESIDENT, "已安排保洁清运")
    await bot.settle()
    before = await request_snapshot(bot, submitted.number)
    resident_before = await last_id(c, RESIDENT)
    n = submitted.number

    # The resident's receipt still carries 撤回诉求.
    answer = await press(bot, RESIDENT, submitted.receipt, "撤回")
    assert f"#{n}" in answer["text"] and "已办结" in answer["text"]
    # A worker's client may still show the task's first keyboard.
    for label, data in old_buttons.items():
        answer = await forge(bot, CHEN_LIANG, submitted.task["message_id"], data)
        assert f"#{n}" in answer["text"] and "已办结" in answer["text"], (label, answer)

    await bot.settle()
    assert await request_snapshot(bot, n) == before
    assert await bot_texts(c, RESIDENT, after=resident_before) == []


async def test_accepting_a_resolved_request_is_refused_in_plain_words(bot: Harness) -> None:
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)
    submitted = await submit(bot, RESIDENT, "小区门口垃圾没人清理")
    accept_data = button_data(submitted.task, "受理")
    await accept(bot, CHEN_LIANG, submitted.task, RESIDENT)
    await resolve(bot, CHEN_LIANG, submitted.task, RESIDENT, "已安排保洁清运")

    answer = await forge(bot, CHEN_LIANG, submitted.task["message_id"], accept_data)

    assert "已经已" not in answer["text"], answer["text"]


async def test_a_group_chat_message_is_not_taken_as_a_request(bot: Harness) -> None:
    """A text and a command in a group: the command gets group_chat, the text nothing, and no
    request is created."""
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT)  # in a private chat this text would become a request
    await c.add_user(OTHER_RESIDENT, "李大爷", started=False)  # never opened the bot
    # As an admin the bot sees every group message, not only commands (privacy mode).
    await c.add_group(GROUP, "颂运水庭业主群", [RESIDENT, OTHER_RESIDENT], bot_is_admin=True)
    worker_before = await last_id(c, CHEN_LIANG)
    resident_before = await last_id(c, RESIDENT)

    text = await c.send_to_group(GROUP, RESIDENT, "2号楼楼道灯坏了，晚上看不见")
    command = await c.send_to_group(GROUP, RESIDENT, "/help")
    answer = await c.wait_for_message(GROUP, "请私聊我", after=text["message_id"])
    assert answer["reply_to_message_id"] == command["message_id"]

    await bot.settle()
    assert await bot_texts(c, GROUP) == [answer["text"]]  # nothing for the text
    assert await request_count(bot) == 0
    assert await bot.app.desk.my_requests(RESIDENT) == []
    assert await bot_texts(c, CHEN_LIANG, after=worker_before) == []
    assert await bot_texts(c, RESIDENT, after=resident_before) == []
