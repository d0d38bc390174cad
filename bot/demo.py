"""`huying demo`: a scripted morning in 颂运水庭 and 明德花园, played on the local emulator.

Three residents report a broken lift, a gas smell and night-time renovation noise; their grid
workers accept, resolve and escalate, the community supervisor takes over, and the residents
rate the results. Every step waits for the bot's answer (no fixed sleeps), so the run is
deterministic; at the end each person's chat is printed in order.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, true

from bot.emulator_client import EmulatorClient, EmulatorClientError, JsonDict
from bot.harness import Harness, running_bot
from storage.models import Request

STEP_TIMEOUT = 8.0  # seconds one expected answer may take before the demo gives up
TEXT_INDENT = " " * 9  # continuation lines line up under the first line of a message


@dataclass(frozen=True, slots=True)
class Actor:
    """One person in the demo: their Telegram id, name, role and where they live or work."""

    uid: int
    name: str
    role: str
    place: str
    speaker: str  # the short label on this person's own lines in the transcript


WANG = Actor(9001, "王阿姨", "居民", "颂运水庭社区 1号楼（SY-1）", "居民")
LI = Actor(9002, "李先生", "居民", "明德花园社区 2号楼（MD-2）", "居民")
ZHANG = Actor(9003, "张女士", "居民", "颂运水庭社区 3号楼（SY-3）", "居民")
CHEN = Actor(100001, "陈亮", "网格员", "颂运水庭第一网格（1、2号楼）", "网格员")
ZHAO = Actor(100002, "赵磊", "网格员", "颂运水庭第二网格（3、4号楼）", "网格员")
LIHY = Actor(100003, "李浩洋", "网格员", "明德花园第一网格（1–3号楼）", "网格员")
LIU = Actor(700001, "刘敏", "社区负责人", "颂运水庭社区党组织", "社区")
# The order in which the chats are printed: each resident followed by who handled them.
CAST: tuple[Actor, ...] = (WANG, CHEN, LI, LIHY, ZHANG, ZHAO, LIU)


class DemoFailed(Exception):
    """A scripted step did not get the answer it expected."""


@dataclass(frozen=True, slots=True)
class Press:
    """A button a person pressed, remembered so the transcript can show it in place."""

    after_message_id: int
    label: str
    answer: str = ""  # the bot's pop-up answer to the press, if it said anything


@dataclass
class Script:
    """Plays the people against the running bot and remembers what the transcript needs."""

    harness: Harness
    verbose: bool = False
    step: str = "start"
    consumed: dict[int, set[int]] = field(default_factory=dict)
    presses: dict[int, list[Press]] = field(default_factory=dict)

    @property
    def client(self) -> EmulatorClient:
        """The emulator's control client that plays every user."""
        return self.harness.client

    def begin(self, step: str) -> None:
        """Name the step now being played (shown if it fails, or live with --verbose)."""
        self.step = step
        if self.verbose:
            print(f"  · {step}", flush=True)

    async def say(self, who: Actor, text: str, *, reply_to: JsonDict | None = None) -> None:
        """The person sends a text message, optionally as a reply to one of the bot's."""
        extra: dict[str, Any] = {}
        if reply_to is not None:
            extra["reply_to_message_id"] = reply_to["message_id"]
        await self.client.send(who.uid, text, **extra)

    async def press(self, who: Actor, message: JsonDict, label: str) -> None:
        """The person presses the button whose label contains `label` under a bot message."""
        buttons = [b.get("text", "") for b in _buttons(message)]
        shown = next((b for b in buttons if label in b), label)
        last = max((m["message_id"] for m in await self.client.messages(who.uid)), default=0)
        query_id = await self.client.press(who.uid, message["message_id"], label)
        try:
            answer = await self.client.callback_answer(query_id, timeout=STEP_TIMEOUT)
        except AssertionError as error:
            raise DemoFailed(f"{who.name}点按「{shown}」后没有得到回应：{error}") from None
        if answer.get("show_alert"):
            raise DemoFailed(f"{who.name}点按「{shown}」被拒绝：{answer.get('text')}")
        self.presses.setdefault(who.uid, []).append(Press(last, shown, answer.get("text") or ""))

    async def expect(self, who: Actor, fragment: str, *, also: tuple[str, ...] = ()) -> JsonDict:
        """Wait for a new bot message to this person containing `fragment` (and every `also`)."""
        seen = self.consumed.setdefault(who.uid, set())
        wanted = (fragment, *also)

        def matches(message: JsonDict) -> bool:
            text = message.get("text") or ""
            return message["message_id"] not in seen and all(w in text for w in wanted)

        matches.__name__ = f"text containing {' & '.join(repr(w) for w in wanted)}"
        message = await self._wait(who, matches)
        seen.add(message["message_id"])
        return message

    async def expect_edit(self, who: Actor, message: JsonDict, fragment: str) -> JsonDict:
        """Wait until the bot has edited `message` so that its text contains `fragment`."""

        def matches(candidate: JsonDict) -> bool:
            return (candidate["message_id"] == message["message_id"]
                    and fragment in (candidate.get("text") or ""))

        matches.__name__ = f"message {message['message_id']} edited to contain {fragment!r}"
        return await self._wait(who, matches)

    async def _wait(self, who: Actor, matches: Callable[[JsonDict], bool]) -> JsonDict:
        """wait_for_message with the demo's timeout, failing the step in readable words."""
        try:
            return await self.client.wait_for_message(who.uid, matches, timeout=STEP_TIMEOUT)
        except AssertionError as error:
            raise DemoFailed(f"{who.name}（{who.uid}）没有收到预期的消息：{error}") from None


def _number(message: JsonDict) -> int:
    """The request number `#n` in a bot message."""
    text = message.get("text") or ""
    found = re.search(r"#(\d+)", text)
    if found is None:
        raise DemoFailed(f"消息里没有诉求编号：{text!r}")
    return int(found.group(1))


def _buttons(message: JsonDict) -> list[JsonDict]:
    """Every inline button under a message, row by row."""
    markup = message.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard") or [] for b in row]


def _require(condition: bool, what: str) -> None:
    """Fail the current step unless `condition` holds."""
    if not condition:
        raise DemoFailed(what)


# ----- the scripted morning ---------------------------------------------------------------


async def _lift(s: Script) -> None:
    """王阿姨 scans SY-1, reports the broken lift, adds a detail; 陈亮 accepts and resolves."""
    s.begin("王阿姨扫描 1号楼 的二维码（/start SY-1）")
    await s.say(WANG, "/start SY-1")
    await s.expect(WANG, "已登记")

    s.begin("王阿姨报告电梯故障")
    await s.say(WANG, "1号楼2单元的电梯坏了两天了，楼上好几位老人下不了楼，买菜都成问题，"
                      "麻烦派人来修一下。")
    receipt = await s.expect(WANG, "诉求 #")
    n = _number(receipt)
    task = await s.expect(CHEN, f"新诉求 #{n}")
    _require(any("受理" in b.get("text", "") for b in _buttons(task)),
             "陈亮收到的诉求消息下没有「受理」按钮")

    s.begin("王阿姨回复回执，补充情况")
    await s.say(WANG, "补充一下：5楼的刘奶奶腿脚不好，已经两天没下楼了，家里的菜也快吃完了。",
                reply_to=receipt)
    await s.expect(WANG, f"已补充到诉求 #{n}")
    await s.expect(CHEN, f"居民补充了诉求 #{n}", also=("刘奶奶",))

    s.begin("陈亮受理")
    await s.press(CHEN, task, "受理")
    await s.expect(WANG, f"#{n} 已由陈亮受理")

    s.begin("陈亮办结")
    await s.press(CHEN, task, "办结")
    await s.expect(CHEN, f"诉求 #{n} 的办理情况")
    await s.say(CHEN, "已联系电梯维保公司更换控制主板，电梯下午3点恢复运行；"
                      "顺路给刘奶奶送了菜上楼。")
    await s.expect(CHEN, f"已办结 #{n}")
    done = await s.expect(WANG, f"#{n} 已办结", also=("更换控制主板",))

    s.begin("王阿姨评价「满意」")
    await s.press(WANG, done, "😊 满意")
    await s.expect(WANG, f"诉求 #{n} 已完结")
    await s.expect(CHEN, f"#{n} 的评价：满意")


async def _gas(s: Script) -> None:
    """李先生 in MD-2 smells gas: an urgent request that 李浩洋 accepts and resolves at once."""
    s.begin("李先生扫描 明德花园2号楼 的二维码（/start MD-2）")
    await s.say(LI, "/start MD-2")
    await s.expect(LI, "已登记")

    s.begin("李先生报告煤气味（应为紧急）")
    await s.say(LI, "楼道里一股臭鸡蛋味，好像是煤气泄漏，三楼到五楼都能闻到！")
    receipt = await s.expect(LI, "诉求 #")
    text = receipt.get("text") or ""
    _require(text.startswith("🚨") and "紧急" in text, f"煤气味没有按紧急处理：{text!r}")
    n = _number(receipt)
    task = await s.expect(LIHY, f"新诉求 #{n}", also=("紧急",))

    s.begin("李浩洋立即受理")
    await s.press(LIHY, task, "受理")
    await s.expect(LI, f"#{n} 已由李浩洋受理")

    s.begin("李浩洋办结")
    await s.press(LIHY, task, "办结")
    await s.expect(LIHY, f"诉求 #{n} 的办理情况")
    await s.say(LIHY, "燃气公司已关阀检修，更换了三楼老化的管道接头，复测无泄漏后已恢复供气。")
    await s.expect(LIHY, f"已办结 #{n}")
    done = await s.expect(LI, f"#{n} 已办结")

    s.begin("李先生评价「满意」")
    await s.press(LI, done, "😊 满意")
    await s.expect(LI, f"诉求 #{n} 已完结")
    await s.expect(LIHY, f"#{n} 的评价：满意")


async def _noise(s: Script) -> None:
    """张女士 complains before binding, picks her building; 赵磊 escalates; 刘敏 takes over."""
    s.begin("张女士未登记就反映噪音")
    await s.say(ZHANG, "楼上天天晚上十二点还在装修，电钻声吵得孩子睡不着，说了好几次都不听。")
    picker = await s.expect(ZHANG, "请先告诉我您住在哪里")

    s.begin("张女士选择社区和楼栋")
    await s.press(ZHANG, picker, "颂运水庭社区")
    picker = await s.expect_edit(ZHANG, picker, "请选择您住的楼栋")
    await s.press(ZHANG, picker, "3号楼")
    await s.expect(ZHANG, "已登记")
    receipt = await s.expect(ZHANG, "已收到您的诉求 #", also=("赵磊",))
    n = _number(receipt)
    task = await s.expect(ZHAO, f"新诉求 #{n}", also=("装修",))

    s.begin("赵磊受理")
    await s.press(ZHAO, task, "受理")
    await s.expect(ZHANG, f"#{n} 已由赵磊受理")

    s.begin("赵磊上报社区")
    await s.press(ZHAO, task, "上报")
    await s.expect(ZHAO, f"诉求 #{n} 需要上级协调的原因")
    await s.say(ZHAO, "已上门劝说三次，502业主仍在夜间施工，多次劝说无效，"
                      "需社区协调物业和执法队。")
    await s.expect(ZHAO, f"已上报 #{n}")
    alert = await s.expect(LIU, f"诉求 #{n} 已上报", also=("办理记录", "赵磊", "多次劝说无效"))
    await s.expect(ZHANG, f"#{n} 已转交")

    s.begin("刘敏接管")
    await s.press(LIU, alert, "接管")
    await s.expect(ZHANG, f"#{n} 已由刘敏受理")
    await s.expect(ZHAO, f"刘敏已接管诉求 #{n}")

    s.begin("刘敏办结")
    await s.press(LIU, alert, "办结")
    await s.expect(LIU, f"诉求 #{n} 的办理情况")
    await s.say(LIU, "已约谈502业主并签订承诺书：装修只在工作日8:00–12:00、14:00–18:00进行，"
                     "物业每晚巡查。")
    await s.expect(LIU, f"已办结 #{n}")
    done = await s.expect(ZHANG, f"#{n} 已办结", also=("承诺书",))

    s.begin("张女士评价「基本满意」")
    await s.press(ZHANG, done, "基本满意")
    await s.expect(ZHANG, f"诉求 #{n} 已完结")
    await s.expect(LIU, f"#{n} 的评价：基本满意")


# ----- the transcript ---------------------------------------------------------------------


def _indent(text: str) -> str:
    """A message's lines, the later ones indented under the first."""
    return ("\n" + TEXT_INDENT).join(text.splitlines() or [""])


def _content(message: JsonDict) -> str:
    """What a message shows: its text, caption or a placeholder for media."""
    if message.get("text"):
        return str(message["text"])
    for key, label in (("photo", "照片"), ("voice", "语音"), ("location", "位置"),
                       ("document", "文件"), ("sticker", "表情")):
        if key in message:
            caption = (message.get("message") or {}).get("caption")
            return f"〔{label}〕" + (f" {caption}" if caption else "")
    return "〔消息〕"


def _render_chat(who: Actor, messages: list[JsonDict], presses: list[Press]) -> list[str]:
    """One person's chat as transcript lines, with their button presses in place."""
    lines = [f"━━ {who.name} · {who.role} · {who.place}"]
    by_id = {m["message_id"]: m for m in messages}
    said = {m.get("text") for m in messages if m["from_bot"]}
    # A pop-up that only repeats a message the bot also sent is left out.
    presses = [p if p.answer not in said else Press(p.after_message_id, p.label)
               for p in presses]
    pending = sorted(presses, key=lambda p: p.after_message_id)
    for message in messages:
        if message["from_bot"]:
            text = _content(message)
            first = ((message.get("history") or [{}])[0].get("text") or text).splitlines()[0]
            if first != text.splitlines()[0]:
                text += f"  〔已更新，原为「{_clip(first, 24)}」〕"
            lines.append(f"  呼应 ◀ {_indent(text)}")
            rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
            for row in rows:
                lines.append(TEXT_INDENT + " ".join(f"[{b.get('text', '?')}]" for b in row))
        else:
            text = _content(message)
            replied = by_id.get(message.get("reply_to_message_id") or -1)
            if replied is not None:
                first = _content(replied).splitlines()[0]
                text = f"↩ 回复「{first}」：{text}"
            lines.append(f"  {who.speaker} ▶ {_indent(text)}")
        while pending and pending[0].after_message_id <= message["message_id"]:
            lines.extend(_press_lines(who, pending.pop(0)))
    for press in pending:
        lines.extend(_press_lines(who, press))
    return lines


def _press_lines(who: Actor, press: Press) -> list[str]:
    """A button press, and the pop-up the bot answered it with."""
    lines = [f"  {who.speaker} ▶ 点按 [{press.label}]"]
    if press.answer:
        lines.append(f"  呼应 ◀ 〔弹出提示〕{press.answer}")
    return lines


def _clip(text: str, limit: int) -> str:
    """Text shortened to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _request_counts(harness: Harness) -> tuple[int, int, int]:
    """How many requests the database holds: all, urgent ones, closed ones."""
    counts = []
    async with harness.app.uow() as uow:
        for condition in (true(), Request.urgency == "urgent", Request.state == "closed"):
            query = select(func.count(Request.id)).where(condition)
            counts.append(int(await uow.session.scalar(query) or 0))
    return counts[0], counts[1], counts[2]


async def _play(script: Script) -> None:
    """The whole morning, scene by scene, then wait for the last notices to go out."""
    client = script.client
    for actor in CAST:
        await client.add_user(actor.uid, actor.name)
    await _lift(script)
    await _gas(script)
    await _noise(script)
    script.begin("等待最后的通知送达")
    try:
        await script.harness.settle()
    except AssertionError as error:
        raise DemoFailed(str(error)) from None


async def run_demo(*, verbose: bool = False) -> int:
    """Play the scripted morning on a throwaway database and print every chat; 0 if it worked."""
    started = time.perf_counter()
    script: Script | None = None
    failure: str | None = None
    chats: dict[int, list[JsonDict]] = {}
    counts = (0, 0, 0)
    try:
        with tempfile.TemporaryDirectory(prefix="huying-demo-") as tmp:
            async with running_bot(f"sqlite+aiosqlite:///{tmp}/demo.db") as harness:
                script = Script(harness, verbose=verbose)
                failure = await _play_reporting_failure(script)
                chats = {a.uid: await harness.client.messages(a.uid) for a in CAST}
                counts = await _request_counts(harness)
    except Exception as error:  # the bot could not start or stop: say so, without a trace
        step = script.step if script is not None else "启动"
        failure = failure or f"演示失败，步骤「{step}」：{type(error).__name__}: {error}"
        if verbose:
            traceback.print_exc(file=sys.stdout)
    elapsed = time.perf_counter() - started

    if chats:
        _print_transcript(chats, script.presses if script is not None else {})
    if failure is not None:
        print(failure)
        return 1
    created, urgent, closed = counts
    delivered = sum(1 for messages in chats.values() for m in messages if m["from_bot"])
    print()
    print(f"小结：{created} 件诉求（紧急 {urgent} 件，已完结 {closed} 件），"
          f"送达 {delivered} 条消息，{len(CAST)} 人参与，用时 {elapsed:.1f} 秒。")
    return 0


async def _play_reporting_failure(script: Script) -> str | None:
    """Play the morning; a failed step comes back as a readable sentence instead of raising."""
    if script.verbose:
        print("呼应 demo：开始演示", flush=True)
    try:
        await _play(script)
    except (DemoFailed, EmulatorClientError) as error:
        return f"演示失败，步骤「{script.step}」：{error}"
    except Exception as error:  # any other failure is reported, never a raw trace
        if script.verbose:
            traceback.print_exc(file=sys.stdout)
        return f"演示失败，步骤「{script.step}」：{type(error).__name__}: {error}"
    return None


def _print_transcript(chats: dict[int, list[JsonDict]], presses: dict[int, list[Press]]) -> None:
    """Every person's chat, one after the other, under a title."""
    print("呼应 · 居民有所呼，网格有所应 —— 颂运水庭、明德花园的一个上午"
          "（本地模拟，无需 Telegram）")
    for actor in CAST:
        if not chats.get(actor.uid):
            continue
        print()
        print("\n".join(_render_chat(actor, chats[actor.uid], presses.get(actor.uid, []))))
