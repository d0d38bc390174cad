"""Steps the end-to-end tests share: who is who, binding, submitting, pressing, reading the DB.

Everyone is played through the emulator's control interface; the database is only read, to
check that something that should not change did not.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from bot.emulator_client import EmulatorClient, JsonDict
from bot.harness import Harness
from bot.intake import DurableIntake
from bot.webhook import webhook_app
from storage.models import OutboxMessage, Request

# ----- the people of shared/examples/taibaihu.yaml -----------------------------------------

CHEN_LIANG = 100001  # 陈亮, worker of 颂运水庭第一网格 (SY-1, SY-2)
ZHAO_LEI = 100002  # 赵磊, worker of 颂运水庭第二网格 (SY-3, SY-4)
LI_HAOYANG = 100003  # 李浩洋, worker of 明德花园第一网格 (MD-1..3)
ZHOU_KAI = 100004  # 周凯, worker of 石桥村第一网格
LIU_MIN = 700001  # 刘敏, supervisor of 颂运水庭社区
SUN_LI = 700002  # 孙丽, supervisor of 明德花园社区
YUE_CHENG = 700003  # 岳成, supervisor of 石桥村
WANG_QIANG = 800001  # 王强, supervisor of 许庄街道
MA_JIAN = 800002  # 马健, supervisor of 石桥镇
CHEN_YAN = 900001  # 陈燕, supervisor of 太白湖新区

STAFF_NAMES: dict[int, str] = {
    CHEN_LIANG: "陈亮", ZHAO_LEI: "赵磊", LI_HAOYANG: "李浩洋", ZHOU_KAI: "周凯",
    LIU_MIN: "刘敏", SUN_LI: "孙丽", YUE_CHENG: "岳成",
    WANG_QIANG: "王强", MA_JIAN: "马健", CHEN_YAN: "陈燕",
}

_NUMBER = re.compile(r"#(\d+)")
WEBHOOK_SECRET = "a-long-random-webhook-secret"


# ----- webhook calls, as Telegram makes them -------------------------------------------------

def message_update(update_id: int, user: int, text: str) -> dict[str, Any]:
    """A private text message as Telegram posts it to a webhook."""
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "text": text,
        "chat": {"id": user, "type": "private", "first_name": "居民"},
        "from": {"id": user, "is_bot": False, "first_name": "居民", "language_code": "zh-hans"},
    }}


async def serve_webhook(intake: DurableIntake) -> tuple[web.AppRunner, str]:
    """The webhook of one process on a free port, checking WEBHOOK_SECRET; (runner, url)."""
    runner = web.AppRunner(webhook_app(intake, "/hook", WEBHOOK_SECRET))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/hook"


# ----- reading messages ----------------------------------------------------------------------

def labels(message: JsonDict) -> list[str]:
    """The labels of a message's inline buttons (empty when it has none)."""
    markup = message.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


def button_data(message: JsonDict, fragment: str) -> str:
    """The callback data of the button whose label contains `fragment`."""
    markup = message.get("reply_markup") or {}
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if fragment in button["text"]:
                return str(button["callback_data"])
    raise AssertionError(f"no button containing {fragment!r}; buttons: {labels(message)}")


def has_button(message: JsonDict, fragment: str) -> bool:
    return any(fragment in label for label in labels(message))


def number_in(message: JsonDict) -> int:
    """The request number (#n) a message is about."""
    match = _NUMBER.search(message.get("text") or "")
    if match is None:
        raise AssertionError(f"no #number in {message.get('text')!r}")
    return int(match.group(1))


async def last_id(client: EmulatorClient, chat: int) -> int:
    """The newest message id in a chat (0 for an empty chat): use as `after=`."""
    messages = await client.messages(chat)
    return max((m["message_id"] for m in messages), default=0)


async def bot_texts(client: EmulatorClient, chat: int, *, after: int = 0) -> list[str]:
    """The current texts (or captions) of the bot's messages in a chat after a message id."""
    return [m.get("text") or "" for m in await client.bot_messages(chat)
            if m["message_id"] > after]


async def count_containing(client: EmulatorClient, chat: int, fragment: str) -> int:
    """How many of the bot's messages in a chat contain `fragment`."""
    return sum(fragment in text for text in await bot_texts(client, chat))


async def message_by_id(client: EmulatorClient, chat: int, message_id: int) -> JsonDict:
    for message in await client.messages(chat):
        if message["message_id"] == message_id:
            return message
    raise AssertionError(f"no message {message_id} in chat {chat}")


async def wait_for_edit(client: EmulatorClient, chat: int, message_id: int, fragment: str,
                        timeout: float = 10.0) -> JsonDict:
    """Wait until the bot's message `message_id` (edited in place) contains `fragment`."""
    return await client.wait_for_message(
        chat, lambda m: m["message_id"] == message_id and fragment in (m.get("text") or ""),
        after=message_id - 1, timeout=timeout)


async def calls_to(client: EmulatorClient, method: str, chat: int) -> list[JsonDict]:
    """Successful Bot API calls of `method` addressed to `chat`."""
    return [c for c in await client.calls(method) if c["chat_id"] == chat and c["ok"]]


# ----- people and binding ---------------------------------------------------------------------

async def add_staff(bot: Harness, *telegram_ids: int) -> None:
    """Let these staff members have opened the bot (their ids are in the organisation file)."""
    for telegram_id in telegram_ids:
        await bot.client.add_user(telegram_id, STAFF_NAMES[telegram_id])


async def bind_resident(bot: Harness, resident: int, code: str = "SY-1", name: str = "王阿姨",
                        language_code: str = "zh-hans", timeout: float = 10.0) -> JsonDict:
    """A resident opens the building's QR link; returns the bot's confirmation."""
    client = bot.client
    await client.add_user(resident, name, language_code=language_code)
    after = await last_id(client, resident)
    await client.send(resident, f"/start {code}")
    fragment = "Registered at" if language_code.startswith("en") else "已登记"
    return await client.wait_for_message(resident, fragment, after=after, timeout=timeout)


@dataclass
class Submitted:
    """A request as its resident and its worker see it right after submission."""

    number: int
    receipt: JsonDict  # the resident's receipt (buttons 查看进度 / 撤回诉求)
    task: JsonDict  # the worker's message with 受理 / 办结 / 上报 / 退回


async def submit(bot: Harness, resident: int, text: str | None, worker: int = CHEN_LIANG,
                 **extra: Any) -> Submitted:
    """A bound resident sends a message; waits for the receipt and the worker's task."""
    client = bot.client
    after_r = await last_id(client, resident)
    after_w = await last_id(client, worker)
    await client.send(resident, text, **extra)
    receipt = await client.wait_for_message(
        resident, lambda m: "#" in (m.get("text") or "") and has_button(m, "撤回"),
        after=after_r)
    number = number_in(receipt)
    task = await client.wait_for_message(
        worker, lambda m: f"#{number}" in (m.get("text") or "") and has_button(m, "受理"),
        after=after_w)
    return Submitted(number=number, receipt=receipt, task=task)


# ----- pressing buttons -------------------------------------------------------------------------

async def press(bot: Harness, user: int, message: JsonDict, label: str) -> JsonDict:
    """Press a button by label and return the bot's answerCallbackQuery."""
    query = await bot.client.press(user, message["message_id"], label)
    return await bot.client.callback_answer(query)


async def forge(bot: Harness, user: int, message_id: int, data: str) -> JsonDict:
    """Send a callback query with raw data on one of the user's messages; return the answer."""
    query = await bot.client.callback(user, message_id, data)
    return await bot.client.callback_answer(query)


async def press_with_note(bot: Harness, user: int, message: JsonDict, label: str, note: str,
                          prompt: str, done: str) -> JsonDict:
    """Press a button that asks for a note (办结, 上报, 退回, 督办, 交回), type the note, and
    return the bot's confirmation to the one who acted."""
    client = bot.client
    after = await last_id(client, user)
    await press(bot, user, message, label)
    await client.wait_for_message(user, prompt, after=after)
    after = await last_id(client, user)
    await client.send(user, note)
    return await client.wait_for_message(user, done, after=after)


async def urge(bot: Harness, user: int, message: JsonDict, deadline: str, instruction: str,
               number: int) -> JsonDict:
    """督办: press it, pick a deadline button ("不改期限", "限1天", …), type the instruction."""
    client = bot.client
    after = await last_id(client, user)
    await press(bot, user, message, "督办")
    choice = await client.wait_for_message(user, "新的办结期限", after=after)
    return await press_with_note(bot, user, choice, deadline, instruction,
                                 prompt="请写督办要求", done=f"已督办 #{number}")


async def accept(bot: Harness, worker: int, task: JsonDict, resident: int) -> None:
    """The worker presses 受理; waits until the resident hears of it."""
    after = await last_id(bot.client, resident)
    await press(bot, worker, task, "受理")
    await bot.client.wait_for_message(resident, "受理", after=after)


async def resolve(bot: Harness, worker: int, task: JsonDict, resident: int, note: str) -> JsonDict:
    """The holder presses 办结 and writes what was done; returns the resident's rating message."""
    after = await last_id(bot.client, resident)
    await press_with_note(bot, worker, task, "办结", note, prompt="办理情况", done="已办结")
    return await bot.client.wait_for_message(
        resident, lambda m: "已办结" in (m.get("text") or "") and has_button(m, "不满意"),
        after=after)


async def resolved_request(bot: Harness, resident: int, text: str = "楼道灯坏了，晚上看不见",
                           note: str = "已更换灯泡") -> tuple[Submitted, JsonDict]:
    """A bound resident's request that 陈亮 accepted and resolved; returns it and the
    resident's rating message."""
    await add_staff(bot, CHEN_LIANG)
    await bind_resident(bot, resident)
    submitted = await submit(bot, resident, text)
    await accept(bot, CHEN_LIANG, submitted.task, resident)
    return submitted, await resolve(bot, CHEN_LIANG, submitted.task, resident, note)


async def ask(bot: Harness, user: int, text: str, expect: str) -> JsonDict:
    """Send a message and return the bot's first reply after it that contains `expect`."""
    after = await last_id(bot.client, user)
    await bot.client.send(user, text)
    return await bot.client.wait_for_message(user, expect, after=after)


# ----- reading the database -----------------------------------------------------------------

async def request_snapshot(bot: Harness, number: int) -> dict[str, Any]:
    """What matters of a stored request, with the length of its timeline."""
    async with bot.app.uow() as uow:
        request = await uow.requests.get(number)
        assert request is not None, f"request #{number} is not in the database"
        events = await uow.requests.timeline(number)
        return {
            "state": request.state, "level": request.level, "holder_id": request.holder_id,
            "grid_id": request.grid_id, "text": request.text, "rating": request.rating,
            "attachments": [(a.kind, a.file_id) for a in request.attachments],
            "events": [(e.action, e.actor_name, e.note) for e in events],
        }


async def request_count(bot: Harness) -> int:
    async with bot.app.uow() as uow:
        return int((await uow.session.execute(select(func.count(Request.id)))).scalar_one())


async def outbox_count(bot: Harness) -> int:
    """Every message the use cases ever queued (sent or not)."""
    async with bot.app.uow() as uow:
        return int((await uow.session.execute(select(func.count(OutboxMessage.id)))).scalar_one())


async def building_of(bot: Harness, resident: int) -> str | None:
    async with bot.app.uow() as uow:
        row = await uow.residents.get(resident)
        return row.building_code if row else None


async def staff_id(bot: Harness, telegram_id: int) -> int:
    async with bot.app.uow() as uow:
        rows = await uow.staff.by_telegram_id(telegram_id)
        assert rows, f"no staff bound to {telegram_id}"
        return rows[0].id
