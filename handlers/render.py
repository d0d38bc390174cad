"""Turning notices and request snapshots into texts and keyboards."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.callbacks import (
    BuildingCB,
    CommunityCB,
    CorrectCB,
    DecideCB,
    ExtendCB,
    ForgetCB,
    GridCB,
    PageCB,
    RateCB,
    Rating,
    RequestCB,
    UrgeCB,
)
from handlers.texts import ACTIONS, LEVELS, RATINGS, STATES, URGENCY, pick, t
from routing.desk import Choice
from routing.lifecycle import Action
from routing.sla import Duration
from routing.views import EventView, RequestView

MAX_TEXT_IN_NOTICE = 2500
TELEGRAM_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Rendered:
    """One Bot API call's worth: a text message, or a photo/voice/location/document."""

    method: str  # message | photo | voice | location | document
    text: str
    markup: InlineKeyboardMarkup | None = None
    file_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class Renderer:
    """Texts in the deployment's time zone."""

    def __init__(self, timezone: str = "Asia/Shanghai",
                 clock: Callable[[], datetime] | None = None) -> None:
        self.tz = ZoneInfo(timezone)
        self.clock = clock

    def when(self, iso: str | None, lang: str, now: datetime | None = None) -> str:
        """A deadline as a person reads it: 今天 14:30, 11月26日 09:00."""
        if not iso:
            return "—"
        moment = datetime.fromisoformat(iso).astimezone(self.tz)
        now = now or (self.clock() if self.clock else datetime.now(self.tz))
        today = now.astimezone(self.tz).date()
        clock = moment.strftime("%H:%M")
        if moment.date() == today:
            return f"今天 {clock}" if lang == "zh" else f"today {clock}"
        if lang == "zh":
            return f"{moment.month}月{moment.day}日 {clock}"
        return f"{moment.strftime('%b')} {moment.day}, {clock}"

    def notice(self, payload: dict[str, Any], lang: str) -> Rendered:
        """The message for one outbox row."""
        kind = str(payload["kind"])
        if kind == "attachment":
            return self._attachment(payload, lang)
        if "request" not in payload:
            # Not clipped: the sender splits long notices on line boundaries.
            return Rendered("message", self._plain(kind, payload, lang))
        view = RequestView.from_dict(payload["request"])
        values = self._values(view, payload, lang)
        key = {
            "submitted": "submitted_urgent" if view.urgency == "urgent" else "submitted",
            "reminder": "reminder_top" if payload.get("top") else "reminder",
            "escalated": "escalated_auto" if payload.get("window") else "escalated",
            "extension_decided": ("extension_approved" if payload.get("approved")
                                  else "extension_refused"),
            "chased": "chased_above" if payload.get("above") else "chased",
        }.get(kind, kind)
        text = t(key, lang, **values)
        return Rendered("message", text, self.keyboard(str(payload.get("keyboard")), view,
                                                             lang))

    def _values(self, view: RequestView, payload: dict[str, Any], lang: str) -> dict[str, Any]:
        step = str(payload.get("step", ""))
        due = view.ack_due_at if view.state == "open" else view.resolve_due_at
        timeline = [EventView(**e) for e in payload.get("timeline", [])]
        rating = str(payload.get("rating", ""))
        return {
            "n": view.number,
            "category": category_name(view, lang),
            "urgency": pick(URGENCY, view.urgency, lang),
            "icon": "🚨" if view.urgency == "urgent" else "",
            "address": view.address,
            "text": clip(view.text or "（无文字，见附件）", MAX_TEXT_IN_NOTICE),
            "holder": holder_label(view, lang),
            "grid": view.grid,
            "who": payload.get("who", ""),
            "note": payload.get("note", ""),
            "reason": payload.get("reason", ""),
            "detail": payload.get("detail") or f"{payload.get('detail_attachments', 0)} 个附件",
            "rating": pick(RATINGS, rating, lang),
            "step": pick(ACTIONS, step, lang),
            "due": self.when(due, lang),
            "timeline": self.timeline(timeline, lang),
            "state": pick(STATES, view.state, lang),
            "review": (t("review_note", lang) if view.needs_review else "")
            + (t("model_alarm_note", lang) if payload.get("model_alarm") else ""),
            "original": payload.get("original", view.duplicate_of or ""),
            "reporters": payload.get("reporters", ""),
            "deadline": self.when(payload.get("deadline"), lang),
            "until": self.when(payload.get("until"), lang),
            "extra": payload.get("extra", ""),
            "what": "受理" if payload.get("window") == "ack" else "办结",
            "what_en": "accepted" if payload.get("window") == "ack" else "resolved",
            "why": payload.get("note", ""),
            "late": self._late(int(payload.get("late_seconds") or 0), lang),
        }

    def _late(self, seconds: int, lang: str) -> str:
        if seconds <= 0:
            return ""
        if seconds < 120:
            amount = f"{seconds} 秒" if lang == "zh" else f"{seconds} s"
        else:
            amount = f"{seconds // 60} 分钟" if lang == "zh" else f"{seconds // 60} min"
        return t("late_note", lang, amount=amount)

    def _plain(self, kind: str, payload: dict[str, Any], lang: str) -> str:
        """Notices about no single request: digests and alarms."""
        if kind == "digest_worker":
            held = [RequestView.from_dict(v) for v in payload.get("held", [])]
            if not held:
                return t("digest_worker_none", lang)
            return t("digest_worker", lang, count=payload.get("count", len(held)),
                     lines="\n".join(self.line(v, lang) for v in held))
        if kind == "digest_supervisor":
            overdue = payload.get("overdue", [])
            names = "".join(f"\n· #{o['number']} {clip(o['text'], 30)}" for o in overdue)
            return t("digest_supervisor", lang, day=payload.get("day", ""),
                     area=payload.get("area", ""), new=payload.get("new", 0),
                     accepted=payload.get("accepted", 0), resolved=payload.get("resolved", 0),
                     escalated=payload.get("escalated", 0), overdue_count=len(overdue),
                     overdue=names)
        if kind == "audit_failed":
            return t("audit_failed", lang, count=payload.get("count", 0),
                     problems="\n".join(payload.get("problems", [])))
        return kind

    def _attachment(self, payload: dict[str, Any], lang: str) -> Rendered:
        item = payload["attachment"]
        caption = t("attachment", lang, n=payload.get("number", ""))
        kind = item["kind"]
        if kind == "location":
            extra = item.get("extra", {})
            return Rendered("location", caption, latitude=float(extra["latitude"]),
                            longitude=float(extra["longitude"]))
        return Rendered(kind if kind in ("photo", "voice", "document") else "document", caption,
                        file_id=item.get("file_id"))

    def timeline(self, events: Sequence[EventView], lang: str) -> str:
        lines = []
        for e in events:
            if e.action == "classified":
                continue
            moment = datetime.fromisoformat(e.at).astimezone(self.tz).strftime("%m-%d %H:%M")
            note = f"：{clip(e.note, 200)}" if e.note else ""
            lines.append(f"· {moment} {e.actor} {pick(ACTIONS, e.action, lang)}{note}")
        return "\n".join(lines) or "—"

    def line(self, view: RequestView, lang: str) -> str:
        """One request in a list."""
        urgent = "🚨" if view.urgency == "urgent" else ""
        return (f"{urgent}#{view.number} {pick(STATES, view.state, lang)}｜"
                f"{category_name(view, lang)}｜{view.address}｜"
                f"{clip(view.text.splitlines()[0] if view.text else '', 30)}")

    def listing(self, title: str, views: Sequence[RequestView], lang: str) -> str:
        return fit("\n".join([title, *(self.line(v, lang) for v in views)]))

    def listing_or_none(self, kind: str, views: Sequence[RequestView], lang: str) -> str:
        """The list under the text `<kind>_title`, or the text `<kind>_none` when empty."""
        if not views:
            return t(f"{kind}_none", lang)
        return self.listing(t(f"{kind}_title", lang), views, lang)

    def detail(self, view: RequestView, events: Sequence[EventView], lang: str,
               page: int | None = None) -> tuple[str, InlineKeyboardMarkup | None]:
        """A request and one page of its timeline (the newest page unless `page` is given),
        with buttons to the older and newer pages when there is more than one."""
        shown = [e for e in events if e.action != "classified"]
        pages = max(1, math.ceil(len(shown) / TIMELINE_PAGE))
        page = pages if page is None else min(max(1, page), pages)
        title = (t("timeline_page", lang, page=page, pages=pages) if pages > 1
                 else t("timeline_title", lang))
        head = (f"#{view.number}｜{pick(STATES, view.state, lang)}｜"
                f"{pick(URGENCY, view.urgency, lang)}｜{category_name(view, lang)}\n"
                f"{view.address}\n{clip(view.text, MAX_TEXT_IN_NOTICE)}\n"
                f"{holder_label(view, lang)}\n{title}\n")
        chunk = shown[(page - 1) * TIMELINE_PAGE:page * TIMELINE_PAGE]
        buttons = []
        if page > 1:
            buttons.append(_button(t("page_older", lang),
                                   PageCB(number=view.number, page=page - 1).pack()))
        if page < pages:
            buttons.append(_button(t("page_newer", lang),
                                   PageCB(number=view.number, page=page + 1).pack()))
        keyboard = InlineKeyboardMarkup(inline_keyboard=[buttons]) if buttons else None
        return fit(head + self.timeline(chunk, lang)), keyboard

    # ----- keyboards -------------------------------------------------------------------

    def keyboard(self, kind: str, view: RequestView, lang: str) -> InlineKeyboardMarkup | None:
        n = view.number
        if kind == "worker":
            return worker_keyboard(n, lang, accepted=view.state == "accepted")
        if kind == "supervisor":
            return supervisor_keyboard(n, lang)
        if kind == "rating":
            return rating_keyboard(n, lang)
        if kind == "resident":
            return resident_keyboard(n, lang)
        if kind == "extension":
            return extension_keyboard(n, lang)
        if kind == "linked":
            return InlineKeyboardMarkup(inline_keyboard=[[
                _act("btn_unlink", Action.UNLINK, n, lang),
                _act("btn_correct", Action.CORRECT, n, lang)]])
        return None


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data)


def _act(key: str, action: Action, number: int, lang: str) -> InlineKeyboardButton:
    return _button(t(key, lang), RequestCB(action=action, number=number).pack())


def worker_keyboard(number: int, lang: str, *, accepted: bool = False) -> InlineKeyboardMarkup:
    first = [] if accepted else [_act("btn_accept", Action.ACCEPT, number, lang)]
    return InlineKeyboardMarkup(inline_keyboard=[
        [*first, _act("btn_resolve", Action.RESOLVE, number, lang)],
        [_act("btn_escalate", Action.ESCALATE, number, lang),
         _act("btn_extend", Action.EXTEND, number, lang)],
        [_act("btn_return", Action.RETURN, number, lang),
         _act("btn_correct", Action.CORRECT, number, lang)],
    ])


def correction_keyboard(number: int, taxonomy_ids: Sequence[tuple[str, str]],
                        lang: str) -> InlineKeyboardMarkup:
    """Every category, three a row, then the three urgencies."""
    categories = [_button(label, CorrectCB(number=number, field="c", value=cid).pack())
                  for cid, label in taxonomy_ids]
    rows = [categories[i:i + 3] for i in range(0, len(categories), 3)]
    rows.append([_button(pick(URGENCY, u, lang), CorrectCB(number=number, field="u",
                                                            value=u).pack())
                 for u in ("urgent", "normal", "low")])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def forget_keyboard(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        _button(t("btn_forget_yes", lang), ForgetCB(confirm=True).pack()),
        _button(t("btn_forget_no", lang), ForgetCB(confirm=False).pack()),
    ]])


def holder_keyboard(number: int, lang: str) -> InlineKeyboardMarkup:
    """For a supervisor who holds a request personally (after 接管 or 受理)."""
    return InlineKeyboardMarkup(inline_keyboard=[
        [_act("btn_resolve", Action.RESOLVE, number, lang),
         _act("btn_escalate", Action.ESCALATE, number, lang)],
        [_act("btn_hand_back", Action.HAND_BACK, number, lang),
         _act("btn_extend", Action.EXTEND, number, lang),
         _act("btn_correct", Action.CORRECT, number, lang)],
    ])


def extension_keyboard(number: int, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        _button(t("btn_approve", lang), DecideCB(number=number, approve=True).pack()),
        _button(t("btn_refuse", lang), DecideCB(number=number, approve=False).pack()),
    ]])


EXTENSION_LENGTHS = ("1d", "3d", "5wd")
URGE_LENGTHS = ("keep", "2h", "1d", "3d")


def urge_lengths_keyboard(number: int, lang: str) -> InlineKeyboardMarkup:
    def label(length: str) -> str:
        if length == "keep":
            return t("btn_keep_deadline", lang)
        return (f"限{Duration.parse(length).zh()}" if lang == "zh"
                else f"within {length}")

    return InlineKeyboardMarkup(inline_keyboard=[[
        _button(label(length), UrgeCB(number=number, length=length).pack())
        for length in URGE_LENGTHS
    ]])


def extension_lengths_keyboard(number: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        _button(Duration.parse(length).zh(), ExtendCB(number=number, length=length).pack())
        for length in EXTENSION_LENGTHS
    ]])


def supervisor_keyboard(number: int, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [_act("btn_take", Action.TAKE_OVER, number, lang),
         _act("btn_urge", Action.URGE, number, lang)],
        [_act("btn_hand_back", Action.HAND_BACK, number, lang),
         _act("btn_resolve", Action.RESOLVE, number, lang),
         _act("btn_escalate", Action.ESCALATE, number, lang)],
        [_act("btn_reassign", Action.REASSIGN, number, lang),
         _act("btn_extend", Action.EXTEND, number, lang),
         _act("btn_correct", Action.CORRECT, number, lang)],
    ])


def rating_keyboard(number: int, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        _button(t("btn_satisfied", lang), RateCB(number=number, rating=Rating.SATISFIED).pack()),
        _button(t("btn_basic", lang), RateCB(number=number, rating=Rating.BASIC).pack()),
        _button(t("btn_dissatisfied", lang),
                RateCB(number=number, rating=Rating.DISSATISFIED).pack()),
    ]])


def resident_keyboard(number: int, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        _act("btn_progress", Action.SHOW, number, lang),
        _act("btn_chase", Action.CHASE, number, lang),
        _act("btn_withdraw", Action.WITHDRAW, number, lang),
    ]])


def choices_keyboard(choices: Sequence[Choice], kind: str,
                     number: int = 0) -> InlineKeyboardMarkup:
    """Picker buttons, two a row."""
    buttons = []
    for c in choices:
        if kind == "community":
            data = CommunityCB(community=c.id).pack()
        elif kind == "building":
            data = BuildingCB(code=c.id).pack()
        else:
            data = GridCB(number=number, grid=c.id).pack()
        buttons.append(_button(c.label, data))
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def holder_label(view: RequestView, lang: str) -> str:
    """Who has the request, as a resident reads it: 网格员陈亮, 颂运水庭社区, 社区 刘敏."""
    if view.level == 0:
        return f"网格员{view.holder}" if lang == "zh" else f"grid worker {view.holder}"
    if not view.holder_is_person:
        return view.holder  # the unit's own name says the level: 颂运水庭社区, 许庄街道
    level = pick(LEVELS, view.level_kind, lang)
    return f"{level} {view.holder}" if lang == "zh" else f"{view.holder} of the {level}"


def category_name(view: RequestView, lang: str) -> str:
    return view.category_zh if lang == "zh" else (view.category_en or view.category)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


TIMELINE_PAGE = 10  # events per page of /show: a page stays far below Telegram's 4,096


def fit(text: str) -> str:
    """Keep a direct reply within Telegram's limit (outbox notices are split by the sender)."""
    return clip(text, TELEGRAM_LIMIT)
