"""State model of the local Bot API emulator: users, chats, messages, files, updates, rules."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import math
import random
import re
import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from bot.limiter import COUNTED_METHODS, TELEGRAM_LIMITS, FloodLimits, chat_key, is_private

JsonDict = dict[str, Any]
log = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_UPDATES_PER_CALL = 100

ALL_UPDATE_TYPES = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post",
        "business_connection", "business_message", "edited_business_message",
        "deleted_business_messages", "message_reaction", "message_reaction_count",
        "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
        "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer",
        "my_chat_member", "chat_member", "chat_join_request", "chat_boost",
        "removed_chat_boost",
    }
)
# What Telegram delivers when allowed_updates was never set or set to an empty list.
DEFAULT_UPDATE_TYPES = ALL_UPDATE_TYPES - {"chat_member", "message_reaction",
                                           "message_reaction_count"}

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)

_INLINE_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)
_BUTTON_URL = re.compile(r"^(https?|tg)://\S+$", re.IGNORECASE)
_COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{3,32})?(?=\s|$)")


class ApiError(Exception):
    """A Bot API failure carrying Telegram's error_code, description and parameters."""

    def __init__(self, error_code: int, description: str,
                 parameters: JsonDict | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters


def too_many_requests(retry_after: int) -> ApiError:
    """Telegram's 429 answer, telling the bot how many seconds to wait."""
    return ApiError(429, f"Too Many Requests: retry after {retry_after}",
                    {"retry_after": retry_after})


def bad_request(detail: str) -> ApiError:
    """Build a 400 error with Telegram's "Bad Request: ..." description."""
    return ApiError(400, f"Bad Request: {detail}")


def utf16_len(text: str) -> int:
    """Length of text in UTF-16 code units, the unit Telegram uses for limits and entities."""
    return len(text.encode("utf-16-le")) // 2


def now() -> int:
    """Current Unix time in whole seconds, as Telegram's date fields carry it."""
    return int(time.time())


# --------------------------------------------------------------------------- HTML parse mode

_SIMPLE_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "code": "code", "pre": "pre",
}
_SUPPORTED_TAGS = set(_SIMPLE_TAGS) | {"a", "span", "blockquote", "tg-emoji"}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_CHAR_REF = re.compile(r"&(?:#(\d{1,8})|#[xX]([0-9a-fA-F]{1,7})|([A-Za-z]+));?")
_TAG_NAME = re.compile(r"[^\s>]*")
_ATTRIBUTE = re.compile(r"""\s*([A-Za-z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")


@dataclass
class ParsedText:
    """Text as Telegram shows it after parsing markup, plus its formatting entities."""

    text: str
    entities: list[JsonDict]


@dataclass
class _OpenTag:
    """A start tag waiting for its end tag while parsing HTML."""

    name: str
    offset: int
    entity: JsonDict | None


def _decode_entities(chunk: str) -> str:
    """Replace the character references Telegram understands; leave anything else literal."""

    def replace(match: re.Match[str]) -> str:
        decimal, hexadecimal, name = match.groups()
        if name is not None:
            return _NAMED_ENTITIES.get(name, match.group(0))
        code = int(decimal) if decimal is not None else int(hexadecimal, 16)
        valid = 0 < code < 0x10FFFF and not 0xD800 <= code <= 0xDFFF
        return chr(code) if valid else match.group(0)

    return _CHAR_REF.sub(replace, chunk)


def _parse_error(detail: str) -> ApiError:
    """The 400 error Telegram gives for malformed HTML."""
    return bad_request(f"can't parse entities: {detail}")


def _byte_offset(source: str, index: int) -> int:
    """UTF-8 byte offset of a character index, as Telegram reports positions in errors."""
    return len(source[:index].encode("utf-8"))


def _start_tag_entity(name: str, attrs: dict[str, str], where: int) -> JsonDict | None:
    """The entity a start tag opens (without offset/length), or None for a plain wrapper."""
    if name in _SIMPLE_TAGS:
        return {"type": _SIMPLE_TAGS[name]}
    if name == "a":
        href = attrs.get("href", "")
        user_id = href.removeprefix("tg://user?id=")
        if user_id != href and user_id.isdigit():
            return {"type": "text_mention",
                    "user": {"id": int(user_id), "is_bot": False, "first_name": ""}}
        return {"type": "text_link", "url": href} if href else None
    if name == "span":
        if attrs.get("class") != "tg-spoiler":
            raise _parse_error(f'Tag "span" must have class "tg-spoiler" at byte offset {where}')
        return {"type": "spoiler"}
    if name == "blockquote":
        return {"type": "expandable_blockquote" if "expandable" in attrs else "blockquote"}
    return {"type": "custom_emoji", "custom_emoji_id": attrs.get("emoji-id", "")}


def parse_html(source: str) -> ParsedText:
    """Parse Telegram's HTML subset into plain text and entities, failing like Telegram does."""
    out: list[str] = []
    offset = 0  # UTF-16 offset into the output text
    entities: list[JsonDict] = []
    stack: list[_OpenTag] = []
    pos = 0
    while pos < len(source):
        lt = source.find("<", pos)
        chunk = _decode_entities(source[pos:] if lt < 0 else source[pos:lt])
        out.append(chunk)
        offset += utf16_len(chunk)
        if lt < 0:
            break
        gt = source.find(">", lt)
        where = _byte_offset(source, lt)
        if source.startswith("</", lt):
            if gt < 0:
                raise _parse_error(f"Unclosed end tag at byte offset {where}")
            name = source[lt + 2:gt].strip().lower()
            if not stack:
                raise _parse_error(f"Unexpected end tag at byte offset {where}")
            tag = stack.pop()
            if name and name != tag.name:
                raise _parse_error(f"Unmatched end tag at byte offset {where}, "
                                   f'expected "</{tag.name}>", found "</{name}>"')
            _close_tag(tag, offset, stack, entities)
        else:
            name = _TAG_NAME.match(source, lt + 1).group(0).lower()  # type: ignore[union-attr]
            if name not in _SUPPORTED_TAGS:
                raise _parse_error(f'Unsupported start tag "{name}" at byte offset {where}')
            if gt < 0:
                raise _parse_error(f"Unclosed start tag at byte offset {where}")
            attrs = {
                m.group(1).lower(): _decode_entities(m.group(2) or m.group(3) or m.group(4) or "")
                for m in _ATTRIBUTE.finditer(source[lt + 1 + len(name):gt])
            }
            if name == "code" and stack and stack[-1].name == "pre" and "class" in attrs:
                language = attrs["class"].removeprefix("language-")
                if stack[-1].entity is not None:
                    stack[-1].entity["language"] = language
            stack.append(_OpenTag(name, offset, _start_tag_entity(name, attrs, where)))
        pos = gt + 1
    if stack:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return ParsedText("".join(out), entities)


def _close_tag(tag: _OpenTag, offset: int, stack: list[_OpenTag], out: list[JsonDict]) -> None:
    """Emit the entity of a closed tag unless it is empty or merged into an enclosing <pre>."""
    length = offset - tag.offset
    if tag.entity is None or length <= 0:
        return
    if tag.name == "code" and stack and stack[-1].name == "pre" and "language" in (
        stack[-1].entity or {}
    ):
        return
    out.append({**tag.entity, "offset": tag.offset, "length": length})


def parse_text(
    raw: str | None, parse_mode: str | None, entities: Any, *, caption: bool
) -> ParsedText | None:
    """Apply parse_mode and Telegram's length rules to a text or caption; None = no caption."""
    limit = MAX_CAPTION_LENGTH if caption else MAX_TEXT_LENGTH
    if not raw:
        if caption:
            return None
        raise bad_request("message text is empty")
    mode = (parse_mode or "").lower()
    if mode == "html":
        parsed = parse_html(raw)
    elif mode in ("", "markdown", "markdownv2"):
        # Markdown modes are accepted but not parsed: the text is stored verbatim.
        parsed = ParsedText(raw, list(entities) if isinstance(entities, list) else [])
    else:
        raise bad_request("unsupported parse_mode")
    parsed = _trim(parsed)
    if not parsed.text:
        if caption:
            return None
        raise bad_request("message text is empty")
    if utf16_len(parsed.text) > limit:
        raise bad_request("message caption is too long" if caption else "message is too long")
    return parsed


def _trim(parsed: ParsedText) -> ParsedText:
    """Strip leading/trailing whitespace as Telegram does, shifting and clipping entities."""
    stripped = parsed.text.strip()
    shift = utf16_len(parsed.text[: len(parsed.text) - len(parsed.text.lstrip())])
    total = utf16_len(stripped)
    entities = []
    for entity in parsed.entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, total)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return ParsedText(stripped, entities)


def command_entities(text: str) -> list[JsonDict]:
    """The bot_command entity Telegram adds for a message that starts with /command."""
    match = _COMMAND.match(text)
    if not match:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group(0))}]


# --------------------------------------------------------------------------- reply markup


def validate_reply_markup(markup: Any, *, inline_only: bool = False) -> JsonDict | None:
    """Check a reply_markup object the way Telegram does and return it normalised."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup should be an '
                              "Array of Arrays")
        for row in rows:
            for button in row:
                _validate_inline_button(button)
        return {"inline_keyboard": [[dict(b) for b in row] for row in rows if row]}
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request('field "keyboard" of the ReplyKeyboardMarkup should be an Array '
                              "of Arrays")
        for row in rows:
            for button in row:
                label = button if isinstance(button, str) else (button or {}).get("text")
                if not isinstance(label, str) or not label:
                    raise bad_request("keyboard button text is empty")
        return dict(markup)
    if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
        return dict(markup)
    raise bad_request("can't parse reply keyboard markup JSON object")


def _validate_inline_button(button: Any) -> None:
    """Reject inline buttons Telegram would reject (empty text, bad data, bad URL)."""
    if not isinstance(button, dict):
        raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an "
                          "Object")
    text = button.get("text")
    actions = [key for key in _INLINE_ACTIONS if button.get(key) is not None]
    if not isinstance(text, str) or not text or not actions:
        raise bad_request("text buttons are unallowed in the inline keyboard")
    if "callback_data" in actions:
        data = button["callback_data"]
        size = len(data.encode("utf-8")) if isinstance(data, str) else 0
        if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in actions and not _BUTTON_URL.match(str(button["url"])):
        raise bad_request("BUTTON_URL_INVALID")


def inline_buttons(markup: JsonDict | None) -> list[JsonDict]:
    """All buttons of an inline keyboard, row by row; empty for any other markup."""
    if not markup or "inline_keyboard" not in markup:
        return []
    return [button for row in markup["inline_keyboard"] for button in row]


# --------------------------------------------------------------------------- records


@dataclass
class EmuUser:
    """A simulated Telegram user that can talk to the bot."""

    id: int
    first_name: str
    username: str | None = None
    language_code: str | None = None
    blocked: bool = False

    def to_api(self) -> JsonDict:
        """The User object Telegram sends for this user."""
        user: JsonDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def chat(self) -> JsonDict:
        """The private Chat object between this user and the bot."""
        chat: JsonDict = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.username:
            chat["username"] = self.username
        return chat


@dataclass
class StoredFile:
    """A file the emulator knows by file_id, with the bytes served at /file/bot<token>/..."""

    file_id: str
    file_unique_id: str
    file_path: str
    kind: str
    content: bytes
    meta: JsonDict = field(default_factory=dict)

    def describe(self, **extra: Any) -> JsonDict:
        """The Telegram object (Document, Voice, ...) for this file, remembered for resends."""
        if not self.meta:
            self.meta = {"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                         "file_size": len(self.content), **extra}
        return copy.deepcopy(self.meta)


@dataclass
class StoredMessage:
    """One message in a chat: the Telegram Message JSON as currently shown, plus bookkeeping."""

    chat_id: int
    message_id: int
    from_bot: bool
    payload: JsonDict
    markup: JsonDict | None = None
    raw_text: str | None = None
    silent: bool = False
    history: list[JsonDict] = field(default_factory=list)
    deleted: bool = False

    @property
    def text(self) -> str | None:
        """The text or caption shown to the user right now."""
        value = self.payload.get("text", self.payload.get("caption"))
        return value if isinstance(value, str) else None

    def to_control(self) -> JsonDict:
        """The transcript view of this message returned by the control interface."""
        view: JsonDict = {
            "message_id": self.message_id,
            "chat_id": self.chat_id,
            "from_bot": self.from_bot,
            "date": self.payload["date"],
            "text": self.text,
            "raw_text": self.raw_text,
            "entities": self.payload.get("entities", self.payload.get("caption_entities", [])),
            "reply_markup": self.markup,
            "edits": len(self.history),
            "history": [{"text": old.get("text", old.get("caption")),
                         "reply_markup": old.get("reply_markup")} for old in self.history],
            "deleted": self.deleted,
            "silent": self.silent,
            "reply_to_message_id": (self.payload.get("reply_to_message") or {}).get("message_id"),
            "forwarded": "forward_origin" in self.payload,
            "message": self.payload,
        }
        for key in ("photo", "voice", "location", "document", "sticker", "media_group_id"):
            if key in self.payload:
                view[key] = self.payload[key]
        return view


GROUP_TYPES = ("group", "supergroup")


@dataclass
class ChatLog:
    """A chat the bot is in, every message in order: a private chat with one user, or a group
    (negative id) whose members may write in it."""

    chat: JsonDict
    chat_instance: str
    messages: list[StoredMessage] = field(default_factory=list)
    next_message_id: int = 1
    members: set[int] = field(default_factory=set)  # a group's users; empty for a private chat
    bot_is_admin: bool = False  # an admin bot sees every group message, despite privacy mode

    @property
    def is_group(self) -> bool:
        """Whether this is a group or supergroup rather than a private chat."""
        return self.chat["type"] in GROUP_TYPES

    def find(self, message_id: int | None) -> StoredMessage | None:
        """The live (not deleted) message with this id, if any."""
        for message in self.messages:
            if message.message_id == message_id and not message.deleted:
                return message
        return None


@dataclass
class CallbackRecord:
    """A callback query sent to the bot and, once answered, its answer."""

    query_id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    answer: JsonDict | None = None


# --------------------------------------------------------------------------- hostility


@dataclass
class FaultPlan:
    """What the emulator does to the bot's calls: enforce limits, fail, hang, hang up.

    A call chosen for a 5xx, a timeout or a dropped connection fails before it is carried out,
    so the message is never delivered: a bot that retries after any failure then delivers each
    message exactly once, and the tests can demand that. (On Telegram a timeout or a dropped
    connection can hide a delivered message; the sender accepts that rare repeat.)
    """

    enforce_limits: bool = False
    error_rate: float = 0.0  # share of calls answered 500/502
    timeout_rate: float = 0.0  # share of calls held for timeout_s, then answered 504
    timeout_s: float = 30.0
    drop_rate: float = 0.0  # share of calls whose connection is closed without an answer
    flood_rate: float = 0.0  # share of posting calls answered 429 as Telegram's own flood wait
    flood_retry_after: int = 1
    include_polling: bool = False  # getUpdates is spared unless this is set
    seed: int | None = None

    @classmethod
    def from_json(cls, body: JsonDict) -> FaultPlan:
        """A plan from a control request; unknown keys and out-of-range rates are refused."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(body) - known)
        if unknown:
            raise ValueError(f"unknown fault settings: {unknown}")
        plan = cls(**body)
        for name in ("error_rate", "timeout_rate", "drop_rate", "flood_rate"):
            rate = float(getattr(plan, name))
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
            setattr(plan, name, rate)
        if plan.error_rate + plan.timeout_rate + plan.drop_rate > 1.0:
            raise ValueError("error_rate + timeout_rate + drop_rate must not exceed 1")
        plan.enforce_limits = bool(plan.enforce_limits)
        plan.include_polling = bool(plan.include_polling)
        plan.timeout_s = max(0.0, float(plan.timeout_s))
        plan.flood_retry_after = max(1, int(plan.flood_retry_after))
        return plan

    def to_json(self) -> JsonDict:
        """The plan as the control interface shows it."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class _TokenBucket:
    """A private chat's allowance as Telegram keeps it: tokens refill continuously."""

    tokens: float
    at: float


class FloodControl:
    """Telegram's flood limits as the server sees them: each posting call counts on arrival."""

    def __init__(self, limits: FloodLimits = TELEGRAM_LIMITS) -> None:
        self.limits = limits
        self._global: deque[float] = deque()
        self._buckets: dict[int, _TokenBucket] = {}
        self._groups: dict[int | str, deque[float]] = {}

    @staticmethod
    def counts(method: str) -> bool:
        """Whether calls of this method count towards the limits."""
        return method in COUNTED_METHODS

    def check(self, chat_id: int | str, at: float) -> tuple[str, float] | None:
        """The limit a call arriving at `at` would exceed, and seconds until it would not."""
        limits = self.limits
        waits: list[tuple[float, str]] = []
        wait = self._window_wait(self._global, limits.global_calls, limits.global_window_s, at)
        if wait > 0:
            waits.append((wait, "global"))
        if is_private(chat_id):
            bucket = self._bucket(int(chat_id), at)
            if bucket.tokens < 1.0:
                waits.append(((1.0 - bucket.tokens) / limits.private_per_s, "chat"))
        else:
            group = self._groups.get(chat_id, deque())
            wait = self._window_wait(group, limits.group_calls, limits.group_window_s, at)
            if wait > 0:
                waits.append((wait, "group"))
        if not waits:
            return None
        wait, limit = max(waits)
        return limit, wait

    def record(self, chat_id: int | str, at: float) -> None:
        """Count a call that was let in."""
        self._global.append(at)
        if is_private(chat_id):
            self._bucket(int(chat_id), at).tokens -= 1.0
        else:
            self._groups.setdefault(chat_id, deque()).append(at)

    def _bucket(self, chat_id: int, at: float) -> _TokenBucket:
        limits = self.limits
        bucket = self._buckets.setdefault(chat_id, _TokenBucket(limits.private_burst, at))
        bucket.tokens = min(float(limits.private_burst),
                            bucket.tokens + (at - bucket.at) * limits.private_per_s)
        bucket.at = at
        return bucket

    @staticmethod
    def _window_wait(calls: deque[float], capacity: int, window_s: float, at: float) -> float:
        """Seconds until fewer than `capacity` calls lie in the window ending at `at`."""
        while calls and calls[0] <= at - window_s:
            calls.popleft()
        if len(calls) < capacity:
            return 0.0
        return calls[len(calls) - capacity] + window_s - at


@dataclass
class FaultStats:
    """What the emulator did to the bot, for GET /control/stats."""

    calls: int = 0
    counted: int = 0
    too_many_requests: int = 0
    server_errors: int = 0
    timeouts: int = 0
    drops: int = 0
    delivered: Counter[int] = field(default_factory=Counter)

    def to_json(self) -> JsonDict:
        """Counts, with messages delivered per chat (JSON keys are strings)."""
        return {"calls": self.calls, "counted": self.counted,
                "too_many_requests": self.too_many_requests,
                "server_errors": self.server_errors, "timeouts": self.timeouts,
                "drops": self.drops, "delivered_total": sum(self.delivered.values()),
                "delivered": {str(chat): n for chat, n in sorted(self.delivered.items())}}


class Hostility:
    """Decides, call by call, whether the emulator refuses, fails, hangs or hangs up."""

    def __init__(self) -> None:
        self.plan = FaultPlan()
        self.flood = FloodControl()
        self.violations: list[JsonDict] = []
        self.stats = FaultStats()
        self._random = random.Random()

    def configure(self, plan: FaultPlan) -> None:
        """Switch to a new plan; the counts of what happened so far are kept."""
        self.plan = plan
        self._random = random.Random(plan.seed)

    def admit(self, method: str, chat: Any) -> None:
        """Count a posting call against the limits; raise the 429 when enforcing and over."""
        self.stats.calls += 1
        key = chat_key(chat)
        if not self.flood.counts(method) or key is None:
            return
        self.stats.counted += 1
        at = time.monotonic()
        over = self.flood.check(key, at)
        if over is not None and self.plan.enforce_limits:
            limit, wait = over
            self.violations.append({"method": method, "chat_id": key, "at": time.time(),
                                    "limit": limit})
            self.stats.too_many_requests += 1
            raise too_many_requests(max(1, math.ceil(wait)))
        self.flood.record(key, at)
        if self.plan.flood_rate and self._random.random() < self.plan.flood_rate:
            self.stats.too_many_requests += 1
            raise too_many_requests(self.plan.flood_retry_after)

    def fault(self, method: str) -> str | None:
        """"error", "timeout", "drop" or None: what happens to this call instead of its work."""
        plan = self.plan
        if method.lower() == "getupdates" and not plan.include_polling:
            return None
        draw = self._random.random()
        for kind, rate in (("error", plan.error_rate), ("timeout", plan.timeout_rate),
                           ("drop", plan.drop_rate)):
            if draw < rate:
                return kind
            draw -= rate
        return None

    def server_error(self) -> ApiError:
        """One of the 5xx answers Telegram gives when it is having a bad day."""
        self.stats.server_errors += 1
        if self._random.random() < 0.5:
            return ApiError(500, "Internal Server Error")
        return ApiError(502, "Bad Gateway")

    def delivered(self, method: str, chat: Any, result: Any) -> None:
        """Count the messages a successful posting call left in a chat."""
        key = chat_key(chat)
        if self.flood.counts(method) and isinstance(key, int):
            self.stats.delivered[key] += len(result) if isinstance(result, list) else 1


# --------------------------------------------------------------------------- the whole state


class EmulatorState:
    """Everything the emulated Telegram knows: users, chats, files, the update queue, logs."""

    def __init__(self, bot_user: JsonDict) -> None:
        self.bot_user = bot_user
        self.users: dict[int, EmuUser] = {}
        self.chats: dict[int, ChatLog] = {}
        self.files: dict[str, StoredFile] = {}
        self.photo_sets: dict[str, list[JsonDict]] = {}
        self.callbacks: dict[str, CallbackRecord] = {}
        self.calls: list[JsonDict] = []
        self.updates: list[JsonDict] = []
        self.allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self.webhook_url = ""
        self.commands: dict[str, list[JsonDict]] = {}
        self.menu_buttons: dict[str, JsonDict] = {}
        self.descriptions: dict[str, str] = {}
        self.closing = False
        self._next_update_id = 10001
        self._file_counter = 0
        self._media_group_counter = 0
        self._poll_serial = 0
        self._changed = asyncio.Event()

    # ---- users and chats

    def add_user(self, user: EmuUser, *, started: bool) -> EmuUser:
        """Register or update a user; a started user has a chat the bot can write to."""
        existing = self.users.get(user.id)
        if existing is not None:
            user.blocked = existing.blocked
        self.users[user.id] = user
        if user.id in self.chats:
            self.chats[user.id].chat = user.chat()
        elif started:
            self.open_chat(user)
        return user

    def open_chat(self, user: EmuUser) -> ChatLog:
        """The private chat with a user, created the first time the user writes."""
        if user.id not in self.chats:
            self.chats[user.id] = ChatLog(chat=user.chat(),
                                          chat_instance=str(secrets.randbits(62)))
        return self.chats[user.id]

    def add_group(self, chat_id: int, title: str, chat_type: str, members: set[int], *,
                  bot_is_admin: bool = False) -> ChatLog:
        """Create or update a group the bot is in; an existing group keeps its messages."""
        if chat_id >= 0:
            raise ValueError("a group's id must be negative")
        if chat_type not in GROUP_TYPES:
            raise ValueError(f"type must be one of {list(GROUP_TYPES)}")
        unknown = sorted(members - set(self.users))
        if unknown:
            raise ValueError(f"unknown users {unknown}")
        chat: JsonDict = {"id": chat_id, "type": chat_type, "title": title}
        group = self.chats.get(chat_id)
        if group is None:
            group = self.chats[chat_id] = ChatLog(chat=chat,
                                                  chat_instance=str(secrets.randbits(62)))
        group.chat = chat
        group.members = set(members)
        group.bot_is_admin = bot_is_admin
        return group

    def add_message(
        self, chat: ChatLog, *, from_bot: bool, content: JsonDict, sender: JsonDict | None = None,
        markup: JsonDict | None = None, raw_text: str | None = None,
        reply_to: StoredMessage | None = None, silent: bool = False,
    ) -> StoredMessage:
        """Append a new message to a chat, filling message_id, from, chat and date."""
        payload: JsonDict = {
            "message_id": chat.next_message_id,
            "from": self.bot_user if from_bot else sender,
            "chat": dict(chat.chat),
            "date": now(),
        }
        if reply_to is not None:
            replied = copy.deepcopy(reply_to.payload)
            replied.pop("reply_to_message", None)
            payload["reply_to_message"] = replied
        payload.update(content)
        if markup is not None and "inline_keyboard" in markup:
            payload["reply_markup"] = markup  # Telegram echoes only inline keyboards.
        message = StoredMessage(chat_id=chat.chat["id"], message_id=chat.next_message_id,
                                from_bot=from_bot, payload=payload, markup=markup,
                                raw_text=raw_text, silent=silent)
        chat.next_message_id += 1
        chat.messages.append(message)
        return message

    @staticmethod
    def edit_message(message: StoredMessage, content: JsonDict, markup: JsonDict | None,
                     raw_text: str | None) -> None:
        """Replace a message's content and inline keyboard, keeping the old version in history."""
        keys = ("text", "entities", "caption", "caption_entities", "reply_markup")
        new_payload = {k: v for k, v in message.payload.items() if k not in keys}
        new_payload.update(content)
        if markup is not None:
            new_payload["reply_markup"] = markup
        if all(new_payload.get(k) == message.payload.get(k) for k in keys):
            raise bad_request(NOT_MODIFIED)
        message.history.append(message.payload)
        new_payload["edit_date"] = now()
        message.payload = new_payload
        if markup is not None or "inline_keyboard" in (message.markup or {}):
            message.markup = markup  # a reply keyboard stays on screen through edits
        if raw_text is not None:
            message.raw_text = raw_text

    def next_media_group_id(self) -> str:
        """A fresh media_group_id for an album."""
        self._media_group_counter += 1
        return f"{13000000000000000 + self._media_group_counter}"

    # ---- files

    def store_file(self, kind: str, content: bytes, extension: str) -> StoredFile:
        """Register bytes under a new file_id and file_path."""
        self._file_counter += 1
        number = self._file_counter
        folder = {"photo": "photos", "voice": "voice", "sticker": "stickers"}.get(kind,
                                                                                "documents")
        stored = StoredFile(
            file_id=f"{kind.upper()[:4]}{number:05d}{secrets.token_urlsafe(12)}",
            file_unique_id=f"AQAD{number:05d}",
            file_path=f"{folder}/file_{number}.{extension}",
            kind=kind,
            content=content,
        )
        self.files[stored.file_id] = stored
        return stored

    def make_photo(self, content: bytes | None = None, file_id: str | None = None
                   ) -> list[JsonDict]:
        """A PhotoSize list (three sizes); a known photo file_id gives back its own list."""
        if file_id is not None and file_id in self.photo_sets:
            return copy.deepcopy(self.photo_sets[file_id])
        data = content if content is not None else b"\xff\xd8\xff\xe0EMULATOR-PHOTO\xff\xd9"
        sizes: list[JsonDict] = []
        for width, height, share in ((90, 67, 16), (320, 240, 4), (800, 600, 1)):
            part = data if share == 1 else data[: max(1, len(data) // share)]
            stored = self.store_file("photo", part, "jpg")
            sizes.append({"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                          "width": width, "height": height, "file_size": len(part)})
        if file_id is not None:  # a caller-chosen id becomes the largest size
            largest = self.files.pop(sizes[-1]["file_id"])
            largest.file_id = file_id
            self.files[file_id] = largest
            sizes[-1]["file_id"] = file_id
        for size in sizes:
            self.photo_sets[size["file_id"]] = sizes
        return copy.deepcopy(sizes)

    # ---- updates and long polling

    def queue_update(self, kind: str, payload: JsonDict) -> int | None:
        """Queue an update for getUpdates unless allowed_updates filters its type out."""
        if kind not in self.allowed_updates:
            log.warning("emulator dropped a %s update: not in the bot's allowed_updates", kind)
            return None
        update_id = self._next_update_id
        self._next_update_id += 1
        self.updates.append({"update_id": update_id, kind: copy.deepcopy(payload)})
        self._notify()
        return update_id

    def _notify(self) -> None:
        """Wake every waiting long poll."""
        self._changed.set()
        self._changed = asyncio.Event()

    def shutdown(self) -> None:
        """Make all pending long polls return so the server can stop promptly."""
        self.closing = True
        self._notify()

    def drop_pending(self) -> None:
        """Forget every queued update (deleteWebhook/setWebhook drop_pending_updates)."""
        self.updates.clear()

    async def get_updates(self, offset: int, limit: int, timeout: float,
                          allowed: list[str] | None) -> list[JsonDict]:
        """Telegram's getUpdates: confirm by offset, then return or long-poll for updates."""
        if self.webhook_url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        if allowed is not None:
            self.allowed_updates = frozenset(allowed) & ALL_UPDATE_TYPES or DEFAULT_UPDATE_TYPES
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]
        self._poll_serial += 1
        serial = self._poll_serial
        self._notify()  # terminates an older long poll still waiting
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while not self.updates and not self.closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                break
            if serial != self._poll_serial:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure "
                                    "that only one bot instance is running")
        return copy.deepcopy(self.updates[:limit])

    # ---- misc

    def commands_key(self, scope: Any, language_code: str | None) -> str:
        """Storage key for one (scope, language_code) command list."""
        scope = scope if isinstance(scope, dict) else {"type": "default"}
        return json.dumps(scope, sort_keys=True) + "|" + (language_code or "")
