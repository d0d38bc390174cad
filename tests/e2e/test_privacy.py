"""Personal data: masked above the community, shown by /mydata, removed by /forgetme."""

from __future__ import annotations

from bot.harness import Harness
from tests.e2e.helpers import (
    CHEN_LIANG,
    CHEN_YAN,
    LIU_MIN,
    WANG_QIANG,
    add_staff,
    bind_resident,
    press,
    press_with_note,
    submit,
)

RESIDENT = 6501
PHONE = "13812345678"


async def test_supervisors_above_the_community_see_phone_and_room_numbers_masked(
    bot: Harness,
) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG, LIU_MIN, WANG_QIANG)
    await bind_resident(bot, RESIDENT)
    s = await submit(bot, RESIDENT, f"3单元502楼上天天漏水，我电话{PHONE}")
    await press_with_note(bot, CHEN_LIANG, s.task, "上报", f"业主{PHONE}不配合",
                          prompt="需要上级协调", done="已上报")
    community = await c.wait_for_message(LIU_MIN, f"#{s.number}")
    assert PHONE in community["text"], "the community works with the household directly"
    await press_with_note(bot, LIU_MIN, community, "上报", "需要街道协调",
                          prompt="需要上级协调", done="已上报")
    town = await c.wait_for_message(WANG_QIANG, f"#{s.number}")
    assert PHONE not in town["text"] and "138****5678" in town["text"]
    assert "502" not in town["text"]
    await c.send(WANG_QIANG, f"/show {s.number}")
    shown = await c.wait_for_message(WANG_QIANG, "办理记录")
    assert PHONE not in shown["text"]


async def test_mydata_shows_what_is_kept_and_forgetme_removes_it(bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, RESIDENT, name="王阿姨")
    s = await submit(bot, RESIDENT, f"楼道灯坏了，电话{PHONE}")
    await c.send(RESIDENT, "/mydata")
    data = await c.wait_for_message(RESIDENT, "保存的信息")
    assert str(RESIDENT) in data["text"] and "1号楼" in data["text"]
    assert f"#{s.number}" in data["text"]

    await c.send(RESIDENT, "/forgetme")
    ask = await c.wait_for_message(RESIDENT, "确定要删除")
    await press(bot, RESIDENT, ask, "确认删除")
    await c.wait_for_message(RESIDENT, "已删除您的个人信息")
    await bot.settle()
    async with bot.app.uow() as uow:
        assert await uow.residents.get(RESIDENT) is None
        request = await uow.requests.get(s.number)
        assert request is not None, "the request stays for the record"
        assert request.resident_id == 0 and PHONE not in request.text
    assert await bot.app.desk.my_requests(RESIDENT) == []
    # The worker can still finish it; nobody is told who no longer wants to be known.
    await press_with_note(bot, CHEN_LIANG, s.task, "办结", "已修好", prompt="办理情况",
                          done="已办结")


async def test_a_supervisor_sees_what_could_not_be_delivered(bot: Harness) -> None:
    c = bot.client
    await add_staff(bot, CHEN_LIANG, CHEN_YAN)
    await bind_resident(bot, RESIDENT)
    await c.block(CHEN_LIANG)
    await c.send(RESIDENT, "小区门口井盖松动了")
    await c.wait_for_message(RESIDENT, "诉求 #")
    await bot.settle()
    await c.send(CHEN_YAN, "/undelivered")
    listing = await c.wait_for_message(CHEN_YAN, "没能送达")
    assert str(CHEN_LIANG) in listing["text"]
