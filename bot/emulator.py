"""Local Telegram Bot API emulator: an aiohttp server a real aiogram Bot can talk to.

Besides the Bot API (``/bot<token>/<method>`` and ``/file/bot<token>/<path>``) it serves a
JSON control interface under ``/control/`` through which tests and the demo play the users.
Run it standalone with ``python -m bot.emulator --port 8081``.

Text limits (4096 for messages, 1024 for captions) are counted in UTF-16 code units after
parsing entities and trimming surrounding whitespace, as Telegram does. Only parse_mode HTML is
parsed; Markdown and MarkdownV2 text is stored verbatim. Webhooks are recorded but never
called: updates are served by getUpdates only.

It can be made hostile (``POST /control/faults``, see ``FaultPlan``): enforce Telegram's flood
limits with 429 answers, fail a share of calls with 5xx, hold them past the bot's timeout, or
drop the connection. ``GET /control/violations`` lists every posting call that broke a limit
while limits were enforced, ``GET /control/stats`` counts what happened.

Besides each user's private chat there are groups (``POST /control/groups``, negative ids) in
which members write (``POST /control/groups/{chat_id}/messages``) and the bot posts. The bot is
in privacy mode, as getMe says: unless it is a group admin, it gets only commands (bare or
addressed to it) and replies to its own messages.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import logging
import mimetypes
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.emulator_state import (
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_UPDATES_PER_CALL,
    ApiError,
    CallbackRecord,
    ChatLog,
    EmulatorState,
    EmuUser,
    FaultPlan,
    Hostility,
    JsonDict,
    StoredFile,
    StoredMessage,
    bad_request,
    command_entities,
    inline_buttons,
    now,
    parse_text,
    validate_reply_markup,
)

log = logging.getLogger(__name__)

ApiHandler = Callable[["Params"], Awaitable[Any]]
_dumps = functools.partial(json.dumps, ensure_ascii=False)
_CHAT_ACTIONS = frozenset(
    {"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
     "upload_document", "choose_sticker", "find_location", "record_video_note",
     "upload_video_note"}
)
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_CONTENT_KEYS = ("text", "entities", "caption", "caption_entities", "photo", "voice",
                 "location", "document", "sticker")
_MEDIA_KEYS = ("photo", "voice", "document", "sticker")
_FORBIDDEN_BLOCKED = "Forbidden: bot was blocked by the user"
_QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"


@dataclass
class Upload:
    """A file uploaded in a multipart request (or fetched "from a URL")."""

    filename: str
    content_type: str
    content: bytes


class ControlError(Exception):
    """A failed control-interface request: HTTP status plus a human-readable message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Params:
    """Bot API call parameters (query, JSON, urlencoded or multipart) with Telegram coercions."""

    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload]) -> None:
        self.values = values
        self.uploads = uploads

    @classmethod
    async def read(cls, request: web.Request) -> Params:
        """Collect parameters from the query string and whatever body format was used."""
        values: dict[str, Any] = dict(request.query)
        uploads: dict[str, Upload] = {}
        if request.body_exists:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError as exc:
                    raise bad_request("can't parse JSON encoded parameters") from exc
                if not isinstance(body, dict):
                    raise bad_request("parameters must be a JSON object")
                values.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        uploads[key] = Upload(value.filename, value.content_type,
                                              value.file.read())
                    else:
                        values[key] = value
        return cls(values, uploads)

    def text(self, name: str) -> str | None:
        """A string parameter, or None when absent."""
        value = self.values.get(name)
        if value is None or isinstance(value, str):
            return value
        return _dumps(value) if isinstance(value, (dict, list)) else str(value)

    def integer(self, name: str) -> int | None:
        """An integer parameter, or None when absent or empty."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise bad_request(f"invalid {name} specified")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def number(self, name: str) -> float:
        """A required float parameter."""
        value = self.values.get(name)
        try:
            return float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise bad_request(f"{name} is empty" if value is None else f"wrong {name}") from None

    def flag(self, name: str) -> bool:
        """A boolean parameter; absent means False."""
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        return bool(value)

    def obj(self, name: str) -> Any:
        """A JSON-serialized object parameter (form fields carry JSON strings)."""
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            what = "reply keyboard markup" if name == "reply_markup" else name
            raise bad_request(f"can't parse {what} JSON object") from None

    def file(self, name: str) -> Upload | str | None:
        """A file parameter: an upload in a field of that name, or its string value."""
        return self.uploads.get(name) or self.text(name)

    def loggable(self) -> JsonDict:
        """The parameters for the call log, with uploads shown by name only."""
        shown = dict(self.values)
        shown.update({k: f"<upload {u.filename} {len(u.content)} bytes>"
                      for k, u in self.uploads.items()})
        return shown


def _api_response(result: Any = None, error: ApiError | None = None) -> web.Response:
    """Telegram's envelope: {"ok": true, "result": ...} or the error shape and HTTP status."""
    if error is None:
        return web.json_response({"ok": True, "result": result}, dumps=_dumps)
    body: JsonDict = {"ok": False, "error_code": error.error_code,
                      "description": error.description}
    if error.parameters:
        body["parameters"] = error.parameters
    return web.json_response(body, status=error.error_code, dumps=_dumps)


class BotApiEmulator:
    """A fake api.telegram.org for one bot, with a control API that plays the users."""

    def __init__(
        self, *, token: str = "123456:EMULATOR", bot_username: str = "huying_bot",
        bot_id: int = 123456, bot_first_name: str = "呼应",
    ) -> None:
        self.token = token
        self.base_url = ""
        self.bot_user: JsonDict = {"id": bot_id, "is_bot": True, "first_name": bot_first_name,
                                   "username": bot_username}
        self.state = EmulatorState(self.bot_user)
        self.hostility = Hostility()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, tuple[str, ApiHandler]] = {
            name.lower(): (name, handler) for name, handler in (
                ("getMe", self._get_me), ("logOut", self._true), ("close", self._true),
                ("setWebhook", self._set_webhook), ("deleteWebhook", self._delete_webhook),
                ("getWebhookInfo", self._get_webhook_info), ("getUpdates", self._get_updates),
                ("setMyCommands", self._set_my_commands),
                ("getMyCommands", self._get_my_commands),
                ("deleteMyCommands", self._delete_my_commands),
                ("setChatMenuButton", self._set_chat_menu_button),
                ("getChatMenuButton", self._get_chat_menu_button),
                ("setMyDescription", self._set_description),
                ("setMyShortDescription", self._set_description),
                ("sendMessage", self._send_message), ("sendPhoto", self._send_photo),
                ("sendDocument", self._send_document), ("sendVoice", self._send_voice),
                ("sendLocation", self._send_location),
                ("sendMediaGroup", self._send_media_group),
                ("sendChatAction", self._send_chat_action),
                ("forwardMessage", self._forward_message), ("copyMessage", self._copy_message),
                ("editMessageText", self._edit_message_text),
                ("editMessageCaption", self._edit_message_caption),
                ("editMessageReplyMarkup", self._edit_message_reply_markup),
                ("deleteMessage", self._delete_message),
                ("answerCallbackQuery", self._answer_callback_query),
                ("getChat", self._get_chat), ("getFile", self._get_file),
            )
        }

    # ------------------------------------------------------------------ lifecycle

    def build_app(self) -> web.Application:
        """The aiohttp application with Bot API, file and control routes."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        route = app.router.add_route
        route("*", "/bot{token}/{method}", self._handle_api)
        route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        control: list[tuple[str, str, Callable[[web.Request], Awaitable[Any]]]] = [
            ("POST", "users", self._control_users),
            ("POST", "messages", self._control_messages),
            ("POST", "edit", self._control_edit),
            ("POST", "callback", self._control_callback),
            ("POST", "press", self._control_press),
            ("POST", "block", self._control_block),
            ("POST", "groups", self._control_groups),
            ("POST", "groups/{chat_id}/messages", self._control_group_messages),
            ("GET", "chats/{chat_id}/messages", self._control_chat_messages),
            ("GET", "callback_answers/{query_id}", self._control_callback_answer),
            ("GET", "pending_updates", self._control_pending_updates),
            ("GET", "calls", self._control_calls),
            ("GET", "bot", self._control_bot),
            ("POST", "faults", self._control_faults),
            ("GET", "faults", self._control_get_faults),
            ("GET", "violations", self._control_violations),
            ("GET", "stats", self._control_stats),
        ]
        for verb, path, handler in control:
            route(verb, f"/control/{path}", functools.partial(self._handle_control, handler))
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving; returns the base URL (port 0 picks a free port)."""
        if self._runner is not None:
            raise RuntimeError("emulator already started")
        self.state.closing = False
        self._stopping = asyncio.Event()
        self._runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=5.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_port = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        """Release pending long polls and shut the server down."""
        if self._runner is None:
            return
        self.state.shutdown()
        self._stopping.set()
        await self._runner.cleanup()
        self._runner = None

    # ------------------------------------------------------------------ Bot API plumbing

    async def _handle_api(self, request: web.Request) -> web.Response:
        """Dispatch one Bot API call, reply in Telegram's shape and record it in the call log."""
        requested = request.match_info["method"]
        name, handler = self._methods.get(requested.lower(), (requested, None))
        params = Params({}, {})
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            if handler is None:
                raise ApiError(404, "Not Found")
            params = await Params.read(request)
            hostility = self.hostility
            hostility.admit(name, params.values.get("chat_id"))
            fault = hostility.fault(name)
            if fault == "drop":
                hostility.stats.drops += 1
                self._log_call(name, params, ApiError(0, "connection dropped"))
                if request.transport is not None:
                    request.transport.close()
                return web.Response()
            if fault == "timeout":
                hostility.stats.timeouts += 1
                await self._hold(hostility.plan.timeout_s)
                raise ApiError(504, "Gateway Timeout")
            if fault == "error":
                raise hostility.server_error()
            result = await handler(params)
        except ApiError as error:
            self._log_call(name, params, error)
            return _api_response(error=error)
        except Exception as exc:  # an emulator bug: make it loud but keep serving
            log.exception("emulator failed on %s", name)
            failure = ApiError(500, f"Internal Server Error: emulator: {exc!r}")
            self._log_call(name, params, failure)
            return _api_response(error=failure)
        self.hostility.delivered(name, params.values.get("chat_id"), result)
        self._log_call(name, params, None)
        return _api_response(result)

    async def _hold(self, seconds: float) -> None:
        """Keep a request open (a "timeout"), but let the server stop promptly meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    def _log_call(self, method: str, params: Params, error: ApiError | None) -> None:
        """Append one entry to the call log exposed at /control/calls."""
        chat_id: Any = params.values.get("chat_id")
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(chat_id)
        self.state.calls.append({
            "method": method, "chat_id": chat_id, "ok": error is None,
            "error_code": error.error_code if error else None,
            "description": error.description if error else None,
            "params": params.loggable(), "time": time.time(),
        })

    async def _handle_file(self, request: web.Request) -> web.Response:
        """Serve the bytes of a file previously returned by getFile."""
        if request.match_info["token"] != self.token:
            return _api_response(error=ApiError(401, "Unauthorized"))
        path = request.match_info["path"]
        for stored in self.state.files.values():
            if stored.file_path == path:
                return web.Response(body=stored.content,
                                    content_type=mimetypes.guess_type(path)[0]
                                    or "application/octet-stream")
        return _api_response(error=ApiError(404, "Not Found"))

    def _chat(self, params: Params, *, sending: bool = True) -> ChatLog:
        """The private chat or group named by chat_id; enforces "chat not found" and blocked
        users."""
        raw = params.values.get("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        try:
            chat = self.state.chats.get(int(raw))
        except (TypeError, ValueError):
            chat = None
        if chat is None:
            raise bad_request("chat not found")
        user = self.state.users.get(chat.chat["id"])
        if sending and user is not None and user.blocked:
            raise ApiError(403, _FORBIDDEN_BLOCKED)
        return chat

    def _reply_target(self, chat: ChatLog, params: Params) -> StoredMessage | None:
        """The message being replied to (reply_parameters or legacy reply_to_message_id)."""
        reply = params.obj("reply_parameters")
        allow = params.flag("allow_sending_without_reply")
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow = allow or bool(reply.get("allow_sending_without_reply"))
        else:
            message_id = params.integer("reply_to_message_id")
        if message_id is None:
            return None
        target = chat.find(int(message_id))
        if target is None and not allow:
            raise bad_request("message to be replied not found")
        return target

    def _post(self, chat: ChatLog, params: Params, content: JsonDict, raw_text: str | None,
              markup: JsonDict | None = None, reply_to: StoredMessage | None = None
              ) -> StoredMessage:
        """Store a bot message in a chat with the common send options applied."""
        return self.state.add_message(
            chat, from_bot=True, content=content, markup=markup, raw_text=raw_text,
            reply_to=reply_to if reply_to is not None else self._reply_target(chat, params),
            silent=params.flag("disable_notification"),
        )

    @staticmethod
    def _text_content(params: Params, *, caption: bool, key: str = "") -> tuple[JsonDict, str]:
        """Parse text or caption (with parse_mode) into message fields; returns (fields, raw)."""
        field = key or ("caption" if caption else "text")
        raw = params.text(field) or ""
        entities_key = "caption_entities" if caption else "entities"
        parsed = parse_text(raw, params.text("parse_mode"), params.obj(entities_key),
                            caption=caption)
        if parsed is None:
            return {}, raw
        content: JsonDict = {"caption" if caption else "text": parsed.text}
        if parsed.entities:
            content[entities_key] = parsed.entities
        return content, raw

    def _resolve_file(self, params: Params, value: Upload | str | None, kind: str
                      ) -> Upload | StoredFile:
        """An uploaded file, attach:// reference, URL or known file_id of the right kind."""
        if isinstance(value, Upload):
            return value
        if not value:
            raise bad_request(f"there is no {kind} in the request")
        if value.startswith("attach://"):
            upload = params.uploads.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            return upload
        if value.startswith(("http://", "https://")):
            name = value.rstrip("/").rsplit("/", 1)[-1] or kind
            return Upload(name, "", b"EMULATOR-DOWNLOAD " + value.encode())
        stored = self.state.files.get(value)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise bad_request(f"can't use file of type {stored.kind.title()} as {kind.title()}")
        return stored

    def _photo(self, params: Params, value: Upload | str | None) -> list[JsonDict]:
        """A PhotoSize list for a photo parameter."""
        source = self._resolve_file(params, value, "photo")
        if isinstance(source, Upload):
            return self.state.make_photo(content=source.content)
        return self.state.make_photo(file_id=source.file_id)

    def _document(self, params: Params, value: Upload | str | None) -> JsonDict:
        """A Document object for a document parameter."""
        source = self._resolve_file(params, value, "document")
        if isinstance(source, StoredFile):
            return source.describe()
        extension = source.filename.rsplit(".", 1)[-1] if "." in source.filename else "bin"
        stored = self.state.store_file("document", source.content, extension)
        mime = source.content_type or mimetypes.guess_type(source.filename)[0]
        return stored.describe(file_name=source.filename,
                               mime_type=mime or "application/octet-stream")

    # ------------------------------------------------------------------ Bot API methods

    async def _true(self, params: Params) -> bool:
        """Methods that only need to succeed (logOut, close)."""
        return True

    async def _get_me(self, params: Params) -> JsonDict:
        """getMe: the bot's own User object."""
        return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False,
                "has_main_web_app": False}

    async def _set_webhook(self, params: Params) -> bool:
        """setWebhook: remember the URL (never called); an empty URL removes it."""
        url = params.text("url") or ""
        if url and not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if params.flag("drop_pending_updates"):
            self.state.drop_pending()
        self.state.webhook_url = url
        return True

    async def _delete_webhook(self, params: Params) -> bool:
        """deleteWebhook: forget the URL, optionally dropping pending updates."""
        if params.flag("drop_pending_updates"):
            self.state.drop_pending()
        self.state.webhook_url = ""
        return True

    async def _get_webhook_info(self, params: Params) -> JsonDict:
        """getWebhookInfo: current URL and pending update count."""
        return {"url": self.state.webhook_url, "has_custom_certificate": False,
                "pending_update_count": len(self.state.updates)}

    async def _get_updates(self, params: Params) -> list[JsonDict]:
        """getUpdates with offset, limit, timeout (long polling) and allowed_updates."""
        limit = params.integer("limit") or MAX_UPDATES_PER_CALL
        allowed = params.obj("allowed_updates")
        return await self.state.get_updates(
            offset=params.integer("offset") or 0,
            limit=min(max(limit, 1), MAX_UPDATES_PER_CALL),
            timeout=float(params.integer("timeout") or 0),
            allowed=allowed if isinstance(allowed, list) else None,
        )

    async def _set_my_commands(self, params: Params) -> bool:
        """setMyCommands for a scope and language, validated like Telegram."""
        commands = params.obj("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand JSON object")
            if not _COMMAND_NAME.match(str(command.get("command", "")).removeprefix("/")):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self.state.commands_key(params.obj("scope"), params.text("language_code"))
        self.state.commands[key] = [{"command": str(c["command"]).removeprefix("/"),
                                     "description": str(c["description"])} for c in commands]
        return True

    async def _get_my_commands(self, params: Params) -> list[JsonDict]:
        """getMyCommands for a scope and language."""
        key = self.state.commands_key(params.obj("scope"), params.text("language_code"))
        return self.state.commands.get(key, [])

    async def _delete_my_commands(self, params: Params) -> bool:
        """deleteMyCommands for a scope and language."""
        key = self.state.commands_key(params.obj("scope"), params.text("language_code"))
        self.state.commands.pop(key, None)
        return True

    async def _set_chat_menu_button(self, params: Params) -> bool:
        """setChatMenuButton for one chat or (without chat_id) the default."""
        has_chat = params.values.get("chat_id") is not None
        key = str(self._chat(params, sending=False).chat["id"]) if has_chat else "default"
        button = params.obj("menu_button")
        self.state.menu_buttons[key] = button if isinstance(button, dict) else {"type": "default"}
        return True

    async def _get_chat_menu_button(self, params: Params) -> JsonDict:
        """getChatMenuButton for one chat, falling back to the default."""
        chat_id = params.values.get("chat_id")
        buttons = self.state.menu_buttons
        return buttons.get(str(chat_id), buttons.get("default", {"type": "default"}))

    async def _set_description(self, params: Params) -> bool:
        """setMyDescription / setMyShortDescription: stored, visible at /control/bot."""
        for key in ("description", "short_description"):
            if key in params.values:
                self.state.descriptions[key] = params.text(key) or ""
        return True

    async def _send_message(self, params: Params) -> JsonDict:
        """sendMessage with parse_mode, reply_markup and reply options."""
        chat = self._chat(params)
        content, raw = self._text_content(params, caption=False)
        markup = validate_reply_markup(params.obj("reply_markup"))
        return self._post(chat, params, content, raw, markup).payload

    async def _send_photo(self, params: Params) -> JsonDict:
        """sendPhoto from an upload, URL or photo file_id, with optional caption."""
        chat = self._chat(params)
        content, raw = self._text_content(params, caption=True)
        markup = validate_reply_markup(params.obj("reply_markup"))
        content["photo"] = self._photo(params, params.file("photo"))
        return self._post(chat, params, content, raw, markup).payload

    async def _send_document(self, params: Params) -> JsonDict:
        """sendDocument from an upload, URL or document file_id."""
        chat = self._chat(params)
        content, raw = self._text_content(params, caption=True)
        markup = validate_reply_markup(params.obj("reply_markup"))
        content["document"] = self._document(params, params.file("document"))
        return self._post(chat, params, content, raw, markup).payload

    async def _send_voice(self, params: Params) -> JsonDict:
        """sendVoice from an upload, URL or voice file_id."""
        chat = self._chat(params)
        content, raw = self._text_content(params, caption=True)
        markup = validate_reply_markup(params.obj("reply_markup"))
        source = self._resolve_file(params, params.file("voice"), "voice")
        if isinstance(source, Upload):
            source = self.state.store_file("voice", source.content, "oga")
        content["voice"] = source.describe(duration=params.integer("duration") or 1,
                                           mime_type="audio/ogg")
        return self._post(chat, params, content, raw, markup).payload

    async def _send_location(self, params: Params) -> JsonDict:
        """sendLocation: a point on the map."""
        chat = self._chat(params)
        latitude, longitude = params.number("latitude"), params.number("longitude")
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise bad_request("wrong coordinates")
        markup = validate_reply_markup(params.obj("reply_markup"))
        content = {"location": {"latitude": latitude, "longitude": longitude}}
        return self._post(chat, params, content, None, markup).payload

    async def _send_media_group(self, params: Params) -> list[JsonDict]:
        """sendMediaGroup: an album of photos or of documents sharing a media_group_id."""
        chat = self._chat(params)
        media = params.obj("media")
        if not isinstance(media, list) or not media:
            raise bad_request("media group must include 2-10 items")
        if len(media) > 10:
            raise bad_request("too many messages to send as an album")
        kinds = {item.get("type") if isinstance(item, dict) else None for item in media}
        if not kinds <= {"photo", "document"}:
            raise bad_request("emulator supports only photo and document albums")
        if len(kinds) > 1:
            raise bad_request("document can't be mixed with other media types")
        prepared: list[tuple[JsonDict, str]] = []
        for item in media:
            item_params = Params({"caption": item.get("caption"),
                                  "parse_mode": item.get("parse_mode", params.text("parse_mode")),
                                  "caption_entities": item.get("caption_entities")},
                                 params.uploads)
            content, raw = self._text_content(item_params, caption=True)
            value = item.get("media")
            if item["type"] == "photo":
                content["photo"] = self._photo(params, value)
            else:
                content["document"] = self._document(params, value)
            prepared.append((content, raw))
        group_id = self.state.next_media_group_id()
        reply_to = self._reply_target(chat, params)
        return [self._post(chat, params, {**content, "media_group_id": group_id}, raw,
                           reply_to=reply_to).payload for content, raw in prepared]

    async def _send_chat_action(self, params: Params) -> bool:
        """sendChatAction: validated, then only visible in the call log."""
        self._chat(params)
        if params.text("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    def _source_message(self, params: Params) -> StoredMessage:
        """The message named by from_chat_id and message_id (forwardMessage/copyMessage)."""
        from_chat = self.state.chats.get(params.integer("from_chat_id") or 0)
        if from_chat is None:
            raise bad_request("chat not found")
        source = from_chat.find(params.integer("message_id"))
        if source is None:
            raise bad_request("message to forward not found")
        return source

    async def _forward_message(self, params: Params) -> JsonDict:
        """forwardMessage: the content again, marked with forward_origin."""
        chat = self._chat(params)
        source = self._source_message(params)
        content = {k: v for k, v in source.payload.items() if k in _CONTENT_KEYS}
        origin_user = source.payload["from"]
        content.update(forward_origin={"type": "user", "sender_user": origin_user,
                                       "date": source.payload["date"]},
                       forward_from=origin_user, forward_date=source.payload["date"])
        return self._post(chat, params, content, source.raw_text, reply_to=None).payload

    async def _copy_message(self, params: Params) -> JsonDict:
        """copyMessage: the content again without a link to the original; returns MessageId."""
        chat = self._chat(params)
        source = self._source_message(params)
        content = {k: v for k, v in source.payload.items() if k in _CONTENT_KEYS}
        raw = source.raw_text
        if "caption" in params.values and "text" not in content:
            content.pop("caption", None)
            content.pop("caption_entities", None)
            caption, raw = self._text_content(params, caption=True)
            content.update(caption)
        markup = validate_reply_markup(params.obj("reply_markup"))
        return {"message_id": self._post(chat, params, content, raw, markup).message_id}

    def _editable(self, params: Params) -> StoredMessage:
        """The bot message an edit* call targets, with Telegram's errors when it can't be."""
        if params.values.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # inline mode is not emulated
        chat = self._chat(params)
        message_id = params.integer("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = chat.find(message_id)
        if message is None:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return message

    async def _edit_message_text(self, params: Params) -> JsonDict:
        """editMessageText; omitting reply_markup removes the inline keyboard, as on Telegram."""
        message = self._editable(params)
        if "text" not in message.payload:
            raise bad_request("there is no text in the message to edit")
        content, raw = self._text_content(params, caption=False)
        markup = validate_reply_markup(params.obj("reply_markup"), inline_only=True)
        self.state.edit_message(message, content, markup, raw)
        return message.payload

    async def _edit_message_caption(self, params: Params) -> JsonDict:
        """editMessageCaption on a media message; an empty caption removes it."""
        message = self._editable(params)
        if not any(key in message.payload for key in _MEDIA_KEYS):
            raise bad_request("there is no caption in the message to edit")
        content, raw = self._text_content(params, caption=True)
        markup = validate_reply_markup(params.obj("reply_markup"), inline_only=True)
        self.state.edit_message(message, content, markup, raw)
        return message.payload

    async def _edit_message_reply_markup(self, params: Params) -> JsonDict:
        """editMessageReplyMarkup: swap or (without reply_markup) remove the inline keyboard."""
        message = self._editable(params)
        markup = validate_reply_markup(params.obj("reply_markup"), inline_only=True)
        keep = ("text", "entities", "caption", "caption_entities")
        content = {k: v for k, v in message.payload.items() if k in keep}
        self.state.edit_message(message, content, markup, None)
        return message.payload

    async def _delete_message(self, params: Params) -> bool:
        """deleteMessage for bot or user messages in the private chat."""
        chat = self._chat(params, sending=False)
        message = chat.find(params.integer("message_id"))
        if message is None:
            raise bad_request("message to delete not found")
        message.deleted = True
        return True

    async def _answer_callback_query(self, params: Params) -> bool:
        """answerCallbackQuery: each query can be answered once."""
        record = self.state.callbacks.get(params.text("callback_query_id") or "")
        if record is None or record.answer is not None:
            raise bad_request(_QUERY_INVALID)
        text = params.text("text") or ""
        if len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        record.answer = {"text": text, "show_alert": params.flag("show_alert"),
                         "url": params.text("url"), "cache_time": params.integer("cache_time")}
        return True

    async def _get_chat(self, params: Params) -> JsonDict:
        """getChat: ChatFullInfo for a private chat."""
        chat = self._chat(params, sending=False)
        return {**chat.chat, "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                        "unique_gifts": False, "premium_subscription": False,
                                        "gifts_from_channels": False}}

    async def _get_file(self, params: Params) -> JsonDict:
        """getFile: a File whose file_path is served under /file/bot<token>/."""
        stored = self.state.files.get(params.text("file_id") or "")
        if stored is None:
            raise bad_request("invalid file_id")
        return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.content), "file_path": stored.file_path}

    # ------------------------------------------------------------------ control interface

    async def _handle_control(self, handler: Callable[[web.Request], Awaitable[Any]],
                              request: web.Request) -> web.Response:
        """Run a control handler; its result becomes JSON, a ControlError a JSON error."""
        try:
            result = await handler(request)
        except ControlError as error:
            return web.json_response({"ok": False, "error": error.message},
                                     status=error.status, dumps=_dumps)
        return web.json_response(result, dumps=_dumps)

    @staticmethod
    async def _body(request: web.Request) -> JsonDict:
        """The JSON object a control request carries."""
        try:
            body = await request.json()
        except ValueError:
            raise ControlError(400, "body must be JSON") from None
        if not isinstance(body, dict):
            raise ControlError(400, "body must be a JSON object")
        return body

    def _user(self, user_id: Any) -> EmuUser:
        """A registered user, or a 404 control error."""
        try:
            user = self.state.users.get(int(user_id))
        except (TypeError, ValueError):
            user = None
        if user is None:
            raise ControlError(404, f"unknown user {user_id!r}; POST /control/users first")
        return user

    def _user_chat_message(self, body: JsonDict) -> tuple[EmuUser, ChatLog, StoredMessage]:
        """The user, their chat and the message named by user_id/message_id in a body."""
        user = self._user(body.get("user_id"))
        chat = self.state.chats.get(user.id)
        message = chat.find(int(body.get("message_id") or 0)) if chat else None
        if chat is None or message is None:
            raise ControlError(404, f"no message {body.get('message_id')} in chat {user.id}")
        return user, chat, message

    async def _control_users(self, request: web.Request) -> JsonDict:
        """POST /control/users: register or update a user (started=false: no chat yet)."""
        body = await self._body(request)
        if not isinstance(body.get("id"), int) or not body.get("first_name"):
            raise ControlError(400, "id (int) and first_name are required")
        user = EmuUser(id=body["id"], first_name=str(body["first_name"]),
                       username=body.get("username"), language_code=body.get("language_code"))
        self.state.add_user(user, started=bool(body.get("started", True)))
        return {"ok": True, "user": user.to_api()}

    async def _control_messages(self, request: web.Request) -> JsonDict:
        """POST /control/messages: the user sends something; queues a message update."""
        body = await self._body(request)
        user = self._user(body.get("user_id"))
        message = self._user_message(user, self.state.open_chat(user), body)
        self.state.queue_update("message", message.payload)
        return message.payload

    async def _control_groups(self, request: web.Request) -> JsonDict:
        """POST /control/groups: create or update a group with the bot in it.

        Body: id (negative int), title, type ("group" or "supergroup"), members (user ids,
        registered first) and bot_is_admin (an admin bot sees every message).
        """
        body = await self._body(request)
        chat_id, title, members = body.get("id"), body.get("title"), body.get("members", [])
        if not isinstance(chat_id, int) or not title:
            raise ControlError(400, "id (negative int) and title are required")
        if not isinstance(members, list) or not all(isinstance(m, int) for m in members):
            raise ControlError(400, "members must be a list of user ids")
        try:
            group = self.state.add_group(chat_id, str(title), str(body.get("type", "group")),
                                         set(members),
                                         bot_is_admin=bool(body.get("bot_is_admin", False)))
        except ValueError as error:
            raise ControlError(400, str(error)) from None
        return {"ok": True, "chat": group.chat, "members": sorted(group.members)}

    async def _control_group_messages(self, request: web.Request) -> JsonDict:
        """POST /control/groups/{chat_id}/messages: a member writes in a group (body as for
        /control/messages); queues a message update if the bot's privacy mode lets it see it."""
        body = await self._body(request)
        try:
            group = self.state.chats.get(int(request.match_info["chat_id"]))
        except ValueError:
            raise ControlError(400, "chat_id must be an integer") from None
        if group is None or not group.is_group:
            raise ControlError(404, f"unknown group {request.match_info['chat_id']}; "
                                    "POST /control/groups first")
        user = self._user(body.get("user_id"))
        if user.id not in group.members:
            raise ControlError(403, f"user {user.id} is not a member of group "
                                    f"{group.chat['id']}")
        message = self._user_message(user, group, body)
        if self._bot_sees(group, message):
            self.state.queue_update("message", message.payload)
        else:
            log.info("privacy mode: the bot does not see message %s in group %s",
                     message.message_id, group.chat["id"])
        return message.payload

    def _bot_sees(self, group: ChatLog, message: StoredMessage) -> bool:
        """Whether a bot in privacy mode gets a group message: all of them as an admin, else
        commands (bare or /command@this_bot) and replies to its own messages."""
        if group.bot_is_admin:
            return True
        replied = message.payload.get("reply_to_message") or {}
        if (replied.get("from") or {}).get("id") == self.bot_user["id"]:
            return True
        entities = message.payload.get("entities") or []
        if not any(e["type"] == "bot_command" and e["offset"] == 0 for e in entities):
            return False
        command = str(message.payload["text"]).split(maxsplit=1)[0]
        _name, at, addressee = command.partition("@")
        return not at or addressee.lower() == str(self.bot_user["username"]).lower()

    def _user_message(self, user: EmuUser, chat: ChatLog, body: JsonDict) -> StoredMessage:
        """Store what a user writes in a chat: content, reply_to_message_id, forward_from."""
        content = self._user_content(body)
        reply_to = None
        if body.get("reply_to_message_id") is not None:
            reply_to = chat.find(int(body["reply_to_message_id"]))
            if reply_to is None:
                raise ControlError(404, f"no message {body['reply_to_message_id']} to reply to")
        if body.get("forward_from_user_id") is not None:
            origin = self._user(body["forward_from_user_id"]).to_api()
            content.update(forward_origin={"type": "user", "sender_user": origin, "date": now()},
                           forward_from=origin, forward_date=now())
        return self.state.add_message(chat, from_bot=False, content=content,
                                      sender=user.to_api(), reply_to=reply_to,
                                      raw_text=body.get("text") or body.get("caption"))

    def _user_content(self, body: JsonDict) -> JsonDict:
        """Message fields for what a user sends: text, photo, voice, location or sticker."""
        content: JsonDict = {}
        if body.get("text"):
            content["text"] = str(body["text"])
            if entities := command_entities(content["text"]):
                content["entities"] = entities
        photo = body.get("photo")
        if photo:
            content["photo"] = self.state.make_photo(
                file_id=photo if isinstance(photo, str) else None)
        voice = body.get("voice")
        if voice is not None and voice is not False:
            stored = self.state.store_file("voice", b"OggS\x00EMULATOR-VOICE", "oga")
            duration = 1 if voice is True else int(voice)
            content["voice"] = stored.describe(duration=duration, mime_type="audio/ogg")
        location = body.get("location")
        if isinstance(location, dict):
            content["location"] = {"latitude": float(location["latitude"]),
                                   "longitude": float(location["longitude"])}
        if body.get("sticker"):
            stored = self.state.store_file("sticker", b"RIFF\x00EMULATOR-STICKER", "webp")
            content["sticker"] = stored.describe(type="regular", width=512, height=512,
                                                 is_animated=False, is_video=False, emoji="👍")
        if body.get("caption") and any(key in content for key in _MEDIA_KEYS):
            content["caption"] = str(body["caption"])
        if not content:
            raise ControlError(400, "a message needs text, photo, voice, location or sticker")
        return content

    async def _control_edit(self, request: web.Request) -> JsonDict:
        """POST /control/edit: the user edits their message; queues edited_message."""
        body = await self._body(request)
        _user, _chat, message = self._user_chat_message(body)
        if message.from_bot:
            raise ControlError(400, "users can only edit their own messages")
        text = str(body.get("text") or "")
        if not text:
            raise ControlError(400, "text is required")
        field = "caption" if "caption" in message.payload or "text" not in message.payload \
            else "text"
        content: JsonDict = {field: text}
        if field == "text" and (entities := command_entities(text)):
            content["entities"] = entities
        try:
            self.state.edit_message(message, content, None, text)
        except ApiError as error:
            raise ControlError(400, error.description) from None
        self.state.queue_update("edited_message", message.payload)
        return message.payload

    def _queue_callback(self, user: EmuUser, chat: ChatLog, message: StoredMessage,
                        data: str) -> JsonDict:
        """Create a callback query for a message and queue its update."""
        query_id = str(secrets.randbits(63))
        self.state.callbacks[query_id] = CallbackRecord(query_id, user.id, chat.chat["id"],
                                                        message.message_id, data)
        self.state.queue_update("callback_query", {
            "id": query_id, "from": user.to_api(), "message": message.payload,
            "chat_instance": chat.chat_instance, "data": data,
        })
        return {"callback_query_id": query_id}

    async def _control_callback(self, request: web.Request) -> JsonDict:
        """POST /control/callback: press a button with arbitrary (possibly forged) data."""
        body = await self._body(request)
        user, chat, message = self._user_chat_message(body)
        return self._queue_callback(user, chat, message, str(body.get("data", "")))

    async def _control_press(self, request: web.Request) -> JsonDict:
        """POST /control/press: press the inline button whose label contains text."""
        body = await self._body(request)
        user, chat, message = self._user_chat_message(body)
        label = str(body.get("text", ""))
        buttons = inline_buttons(message.payload.get("reply_markup"))
        for button in buttons:
            if label in button["text"] and "callback_data" in button:
                return self._queue_callback(user, chat, message, button["callback_data"])
        labels = [button["text"] for button in buttons]
        raise ControlError(404, f"no callback button containing {label!r} on message "
                                f"{message.message_id}; buttons: {labels}")

    async def _control_block(self, request: web.Request) -> JsonDict:
        """POST /control/block: the user blocks/unblocks the bot (queues my_chat_member)."""
        body = await self._body(request)
        user = self._user(body.get("user_id"))
        blocked = bool(body.get("blocked", True))
        chat = self.state.chats.get(user.id)
        if user.blocked != blocked and chat is not None:
            member = {"status": "member", "user": self.bot_user}
            kicked = {"status": "kicked", "user": self.bot_user, "until_date": 0}
            old, new = (member, kicked) if blocked else (kicked, member)
            self.state.queue_update("my_chat_member", {
                "chat": chat.chat, "from": user.to_api(), "date": now(),
                "old_chat_member": old, "new_chat_member": new,
            })
        user.blocked = blocked
        return {"ok": True, "blocked": blocked}

    async def _control_chat_messages(self, request: web.Request) -> list[JsonDict]:
        """GET /control/chats/{chat_id}/messages: a private chat's or a group's transcript
        (?include_deleted=1)."""
        try:
            chat = self.state.chats.get(int(request.match_info["chat_id"]))
        except ValueError:
            raise ControlError(400, "chat_id must be an integer") from None
        include_deleted = request.query.get("include_deleted") in ("1", "true")
        if chat is None:
            return []
        return [m.to_control() for m in chat.messages if include_deleted or not m.deleted]

    async def _control_callback_answer(self, request: web.Request) -> JsonDict:
        """GET /control/callback_answers/{id}: how the bot answered a callback query."""
        record = self.state.callbacks.get(request.match_info["query_id"])
        if record is None:
            raise ControlError(404, "unknown callback query")
        if record.answer is None:
            raise ControlError(404, "callback query not answered yet")
        return record.answer

    async def _control_pending_updates(self, request: web.Request) -> JsonDict:
        """GET /control/pending_updates: updates not yet confirmed by a getUpdates offset."""
        return {"count": len(self.state.updates)}

    async def _control_calls(self, request: web.Request) -> list[JsonDict]:
        """GET /control/calls: the Bot API call log (?method=sendMessage filters)."""
        method = request.query.get("method")
        return [c for c in self.state.calls if method is None or c["method"] == method]

    async def _control_bot(self, request: web.Request) -> JsonDict:
        """GET /control/bot: bot-level settings (webhook, commands, menu buttons)."""
        return {"user": self.bot_user, "webhook_url": self.state.webhook_url,
                "commands": self.state.commands, "menu_buttons": self.state.menu_buttons,
                "descriptions": self.state.descriptions,
                "allowed_updates": sorted(self.state.allowed_updates)}

    async def _control_faults(self, request: web.Request) -> JsonDict:
        """POST /control/faults: set what the emulator does to the bot's calls (see FaultPlan).

        Every call replaces the whole plan: {} switches all hostility off again.
        """
        body = await self._body(request)
        try:
            plan = FaultPlan.from_json(body)
        except (TypeError, ValueError) as error:
            raise ControlError(400, str(error)) from None
        self.hostility.configure(plan)
        return {"ok": True, "faults": plan.to_json()}

    async def _control_get_faults(self, request: web.Request) -> JsonDict:
        """GET /control/faults: the plan in force."""
        return self.hostility.plan.to_json()

    async def _control_violations(self, request: web.Request) -> list[JsonDict]:
        """GET /control/violations: every posting call over a limit while limits were enforced."""
        return list(self.hostility.violations)

    async def _control_stats(self, request: web.Request) -> JsonDict:
        """GET /control/stats: calls, 429s, 5xx, timeouts, drops and deliveries per chat."""
        return self.hostility.stats.to_json()


async def _serve(host: str, port: int, token: str, username: str) -> None:
    """Run an emulator until cancelled (Ctrl-C)."""
    emulator = BotApiEmulator(token=token, bot_username=username,
                              bot_id=int(token.split(":", 1)[0]))
    url = await emulator.start(host, port)
    print(f"Bot API emulator at {url} (token {token}); control API at {url}/control/",
          flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    """CLI entry point: python -m bot.emulator --port 8081."""
    parser = argparse.ArgumentParser(description="Local Telegram Bot API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:EMULATOR")
    parser.add_argument("--username", default="huying_bot")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.token, args.username))


if __name__ == "__main__":
    main()
