"""A restart loses no half-finished conversation and no queued notification."""

from __future__ import annotations

from bot.harness import running_bot

RESIDENT = 5101
WORKER = 100001


async def test_a_worker_halfway_through_resolving_finishes_after_a_restart(
    database_url: str,
) -> None:
    async with running_bot(database_url) as first:
        c = first.client
        await c.add_user(RESIDENT, "王阿姨")
        await c.add_user(WORKER, "陈亮")
        await c.send(RESIDENT, "/start SY-1")
        await c.wait_for_message(RESIDENT, "已登记")
        await c.send(RESIDENT, "楼道灯坏了一个星期了")
        task = await c.wait_for_message(WORKER, "新诉求")
        await c.press(WORKER, task["message_id"], "办结")
        await c.wait_for_message(WORKER, "办理情况")
        await first.settle()

    # A new process: new emulator chat history, same database. Telegram's update ids keep
    # growing across restarts; a fresh emulator would start again at the ids already recorded.
    async with running_bot(database_url) as second:
        second.emulator.state._next_update_id = 50_001
        c = second.client
        await c.add_user(RESIDENT, "王阿姨")
        await c.add_user(WORKER, "陈亮")
        await c.send(WORKER, "已更换灯泡")
        await c.wait_for_message(WORKER, "已办结")
        done = await c.wait_for_message(RESIDENT, "已办结")
        assert "已更换灯泡" in done["text"]


async def test_notifications_queued_while_telegram_was_unreachable_are_sent_later(
    database_url: str,
) -> None:
    async with running_bot(database_url) as harness:
        c = harness.client
        await c.add_user(RESIDENT, "王阿姨")
        await c.add_user(WORKER, "陈亮")
        await c.block(WORKER)  # stands in for a chat the bot cannot reach for now
        await c.send(RESIDENT, "/start SY-1")
        await c.wait_for_message(RESIDENT, "已登记")
        await c.send(RESIDENT, "小区门口的路灯不亮了")
        await c.wait_for_message(RESIDENT, "已收到您的诉求")
        await harness.settle()
        async with harness.app.uow() as uow:
            undeliverable = await uow.outbox.undeliverable()
        assert [m.chat_id for m in undeliverable] == [WORKER], "marked, not silently dropped"
