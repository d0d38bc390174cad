"""Workers correct categories (and the corrections feed suggestions); duplicates are linked."""

from __future__ import annotations

from bot.harness import Harness
from routing.suggest import suggest
from tests.e2e.helpers import (
    CHEN_LIANG,
    add_staff,
    bind_resident,
    has_button,
    last_id,
    press,
    press_with_note,
    submit,
    wait_for_edit,
)

FIRST, SECOND, THIRD = 6601, 6602, 6603


async def test_a_worker_corrects_the_category_and_it_feeds_the_suggestions(bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, FIRST)
    numbers = []
    # Whatever the classifier guessed, the worker says these are sanitation (环境卫生).
    for text in ("楼道里的水表一直在漏水", "水表箱里的水表转得飞快"):
        s = await submit(bot, FIRST, text)
        numbers.append(s.number)
        after = await last_id(c, CHEN_LIANG)
        await press(bot, CHEN_LIANG, s.task, "改分类")
        picker = await c.wait_for_message(CHEN_LIANG, "请选择正确的分类", after=after)
        await press(bot, CHEN_LIANG, picker, "环境卫生")
        await wait_for_edit(c, CHEN_LIANG, picker["message_id"], "已改为「环境卫生")
    shown = await bot.app.desk.show(CHEN_LIANG, numbers[0])
    assert shown is not None and shown[0].category == "sanitation"
    assert any(e.action == "corrected" for e in shown[1])
    async with bot.app.uow() as uow:
        corrections = await uow.requests.corrections()
    assert len(corrections) == 2
    found = {(s.category, s.word) for s in suggest(
        corrections, bot.app.desk.classifier_keywords)}
    assert ("sanitation", "水表") in found


async def test_correcting_to_urgent_gives_urgent_deadlines(bot: Harness) -> None:
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, FIRST)
    s = await submit(bot, FIRST, "楼道窗户玻璃裂了一道缝")
    async with bot.app.uow() as uow:
        before = await uow.requests.get(s.number)
        assert before is not None and before.ack_due_at is not None
        normal_due = before.ack_due_at
    await press(bot, CHEN_LIANG, s.task, "改分类")
    picker = await bot.client.wait_for_message(CHEN_LIANG, "请选择正确的分类")
    await press(bot, CHEN_LIANG, picker, "紧急")
    await bot.client.wait_for_message(CHEN_LIANG, "紧急")
    async with bot.app.uow() as uow:
        after = await uow.requests.get(s.number)
        assert after is not None and after.urgency == "urgent"
        assert after.ack_due_at is not None and after.ack_due_at < normal_due


async def test_neighbours_reporting_the_same_problem_are_linked_and_all_answered(
    bot: Harness,
) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    for resident in (FIRST, SECOND):
        await bind_resident(bot, resident, code="SY-1")
    original = await submit(bot, FIRST, "小区门口的垃圾好几天没人清理了")
    await c.send(SECOND, "门口垃圾好几天都没人清理，臭死了")
    told = await c.wait_for_message(SECOND, "您的邻居也反映了这个问题")
    assert f"#{original.number}" in told["text"]
    linked = await c.wait_for_message(CHEN_LIANG, "已有 2 位居民反映")
    assert has_button(linked, "拆分")

    await press(bot, CHEN_LIANG, original.task, "受理")
    await press_with_note(bot, CHEN_LIANG, original.task, "办结", "已通知环卫所清运完毕",
                          prompt="办理情况", done="已办结")
    for resident in (FIRST, SECOND):
        done = await c.wait_for_message(
            resident, lambda m: "已办结" in (m.get("text") or "") and has_button(m, "不满意"))
        assert "清运完毕" in done["text"]


async def test_a_wrongly_linked_report_can_be_split_off(bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    for resident in (FIRST, THIRD):
        await bind_resident(bot, resident, code="SY-2")
    await submit(bot, FIRST, "2号楼楼道灯坏了好几天")
    await c.send(THIRD, "2号楼楼道灯坏了，还有楼梯扶手松了")
    linked = await c.wait_for_message(CHEN_LIANG, "位居民反映")
    answer = await press(bot, CHEN_LIANG, linked, "拆分")
    assert "独立诉求" in answer["text"]
    task = await c.wait_for_message(
        CHEN_LIANG, lambda m: "新诉求" in (m.get("text") or "") and "扶手" in m["text"])
    assert has_button(task, "受理")


async def test_an_alarm_raised_by_the_model_alone_tells_the_worker_so(bot: Harness) -> None:
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, FIRST)
    by_model = await submit(bot, FIRST, "有个小孩一个人在阳台护栏外面 家里好像没人")
    assert "紧急" in by_model.task["text"]
    assert "系统据描述判为紧急" in by_model.task["text"]
    assert has_button(by_model.task, "改分类")
    by_cues = await submit(bot, FIRST, "楼道里一股煤气味，很冲")
    assert "紧急" in by_cues.task["text"]
    assert "系统据描述判为紧急" not in by_cues.task["text"]
    async with bot.app.uow() as uow:
        notes = [e.note for e in await uow.requests.timeline(by_model.number)
                 if e.action == "classified"]
    assert notes and "模型判紧急" in notes[0]


async def test_an_unsure_verdict_reaches_the_grid_worker_marked_for_review(bot: Harness) -> None:
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, FIRST)
    unsure = await submit(bot, FIRST, "楼道里有股怪味 不知道哪来的")
    assert "分类待确认" in unsure.task["text"] and has_button(unsure.task, "改分类")
    sure = await submit(bot, FIRST, "3号楼的电梯坏了，按了没反应")
    assert "分类待确认" not in sure.task["text"]
    async with bot.app.uow() as uow:
        flags = [(await uow.requests.get(s.number)).needs_review  # type: ignore[union-attr]
                 for s in (unsure, sure)]
    assert flags == [True, False]
