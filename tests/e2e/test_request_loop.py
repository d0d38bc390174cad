"""A resident's message becomes a request that a grid worker accepts and resolves, in chat."""

from __future__ import annotations

from bot.harness import Harness

RESIDENT = 5001
WORKER = 100001  # 陈亮, 颂运水庭第一网格 (SY-1, SY-2)
OTHER_WORKER = 100002  # 赵磊, 颂运水庭第二网格
COMMUNITY = 700001  # 刘敏, 颂运水庭社区


async def test_resident_binds_reports_and_worker_accepts_and_resolves(bot: Harness) -> None:
    c = bot.client
    for uid, name in ((RESIDENT, "王阿姨"), (WORKER, "陈亮"), (COMMUNITY, "刘敏")):
        await c.add_user(uid, name)
    await c.send(RESIDENT, "/start SY-1")
    await c.wait_for_message(RESIDENT, "已登记")

    await c.send(RESIDENT, "1号楼电梯坏了两天了，老人上下楼很不方便")
    receipt = await c.wait_for_message(RESIDENT, "已收到您的诉求 #")
    assert "物业维修" in receipt["text"] and "陈亮" in receipt["text"]
    number = receipt["text"].split("#")[1].split()[0]

    task = await c.wait_for_message(WORKER, f"#{number}")
    labels = [b["text"] for row in task["reply_markup"]["inline_keyboard"] for b in row]
    assert any("受理" in x for x in labels) and any("办结" in x for x in labels)
    assert any("上报" in x for x in labels)

    await c.press(WORKER, task["message_id"], "受理")
    await c.wait_for_message(RESIDENT, "已由陈亮受理")

    await c.press(WORKER, task["message_id"], "办结")
    await c.wait_for_message(WORKER, "办理情况")
    await c.send(WORKER, "已联系物业更换电梯主板，今天下午恢复运行")
    done = await c.wait_for_message(RESIDENT, "已办结")
    assert "更换电梯主板" in done["text"]
    labels = [b["text"] for row in done["reply_markup"]["inline_keyboard"] for b in row]
    assert any("不满意" in x for x in labels) and any(x.endswith("满意") for x in labels)

    await c.press(RESIDENT, done["message_id"], "基本满意")
    await c.wait_for_message(RESIDENT, "已完结")
    await c.wait_for_message(WORKER, "基本满意")
