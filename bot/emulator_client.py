"""Async client for the Bot API emulator's control interface, used by tests and the demo."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Self

import aiohttp

JsonDict = dict[str, Any]
MessagePredicate = Callable[[JsonDict], bool]

_POLL_INTERVAL = 0.02
_TRANSCRIPT_LINES = 15


class EmulatorClientError(RuntimeError):
    """The control interface refused a request (unknown user, no such button, ...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"emulator control error {status}: {message}")
        self.status = status
        self.message = message


def format_message(message: JsonDict) -> str:
    """One transcript line: id, sender, text and button labels."""
    who = "bot " if message.get("from_bot") else "user"
    text = message.get("text")
    if text is None:
        kinds = [k for k in ("photo", "voice", "location", "document", "sticker") if k in message]
        text = f"<{'/'.join(kinds) or 'message'}>"
    line = f"[{message['message_id']}] {who}: {text}"
    markup = message.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    labels = [b if isinstance(b, str) else b.get("text", "?") for row in rows for b in row]
    if labels:
        line += f"  {labels}"
    if message.get("edits"):
        line += f"  (edited {message['edits']}x)"
    return line


def _text_contains(needle: str) -> MessagePredicate:
    """Predicate: the message's current text (or caption) contains needle."""

    def matches(message: JsonDict) -> bool:
        return needle in (message.get("text") or "")

    matches.__name__ = f"text containing {needle!r}"
    return matches


class EmulatorClient:
    """Plays the users against a running BotApiEmulator through its /control/ HTTP API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        """Use the client as an async context manager that closes its session."""
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the session when leaving the context."""
        await self.close()

    async def close(self) -> None:
        """Close the underlying HTTP session."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def _request(self, method: str, path: str, body: JsonDict | None = None,
                       *, allow_404: bool = False) -> Any:
        """One control call; returns decoded JSON (None for an allowed 404)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        url = f"{self.base_url}/control/{path}"
        async with self._session.request(method, url, json=body) as response:
            data = await response.json(content_type=None)
            if response.status == 404 and allow_404:
                return None
            if response.status >= 400:
                message = data.get("error") if isinstance(data, dict) else str(data)
                raise EmulatorClientError(response.status, str(message))
            return data

    async def add_user(self, user_id: int, first_name: str, username: str | None = None,
                       language_code: str = "zh-hans", *, started: bool = True) -> None:
        """Register (or update) a user; started=False means they never opened the bot."""
        await self._request("POST", "users", {
            "id": user_id, "first_name": first_name, "username": username,
            "language_code": language_code, "started": started,
        })

    async def send(self, user_id: int, text: str | None = None, **extra: Any) -> JsonDict:
        """The user sends a message; extra: photo, caption, voice, location, sticker,
        reply_to_message_id, forward_from_user_id. Returns the Telegram Message JSON."""
        body: JsonDict = {"user_id": user_id, **extra}
        if text is not None:
            body["text"] = text
        result: JsonDict = await self._request("POST", "messages", body)
        return result

    async def add_group(self, chat_id: int, title: str, members: list[int],
                        type: str = "group", *, bot_is_admin: bool = False) -> JsonDict:
        """Create (or update) a group with the bot in it; chat_id is negative, type "group"
        or "supergroup", members are registered user ids. The bot is in privacy mode: unless
        bot_is_admin, it only sees commands and replies to its own messages. Returns the Chat."""
        result = await self._request("POST", "groups", {
            "id": chat_id, "title": title, "type": type, "members": members,
            "bot_is_admin": bot_is_admin,
        })
        return dict(result["chat"])

    async def send_to_group(self, chat_id: int, user_id: int, text: str | None = None,
                            **extra: Any) -> JsonDict:
        """A member writes in a group; extra as for send(). Returns the Telegram Message JSON
        (the bot gets it as an update only if its privacy mode lets it see the message)."""
        body: JsonDict = {"user_id": user_id, **extra}
        if text is not None:
            body["text"] = text
        result: JsonDict = await self._request("POST", f"groups/{chat_id}/messages", body)
        return result

    async def edit(self, user_id: int, message_id: int, text: str) -> None:
        """The user edits one of their messages (queues an edited_message update)."""
        await self._request("POST", "edit",
                            {"user_id": user_id, "message_id": message_id, "text": text})

    async def press(self, user_id: int, message_id: int, label: str) -> str:
        """Press the inline button whose label contains `label`; returns callback_query_id."""
        result = await self._request("POST", "press",
                                     {"user_id": user_id, "message_id": message_id, "text": label})
        return str(result["callback_query_id"])

    async def callback(self, user_id: int, message_id: int, data: str) -> str:
        """Send a callback query with raw (possibly forged) data; returns its id."""
        result = await self._request("POST", "callback",
                                     {"user_id": user_id, "message_id": message_id, "data": data})
        return str(result["callback_query_id"])

    async def messages(self, chat_id: int) -> list[JsonDict]:
        """Every live message in the chat (a user's id, or a group's negative id), in order,
        from the users and the bot."""
        result: list[JsonDict] = await self._request("GET", f"chats/{chat_id}/messages")
        return result

    async def bot_messages(self, chat_id: int) -> list[JsonDict]:
        """Only the bot's messages in the chat."""
        return [m for m in await self.messages(chat_id) if m["from_bot"]]

    async def transcript(self, chat_id: int, last: int = _TRANSCRIPT_LINES) -> str:
        """The chat's recent messages as readable lines (for assertion messages)."""
        lines = [format_message(m) for m in (await self.messages(chat_id))[-last:]]
        return "\n".join(lines) or "(no messages)"

    async def wait_for_message(
        self, chat_id: int, predicate: MessagePredicate | str, *, after: int = 0,
        timeout: float = 10.0,
    ) -> JsonDict:
        """Wait for a bot message with message_id > after matching predicate (a str means
        "current text contains it"); raises AssertionError with the transcript on timeout."""
        matches = _text_contains(predicate) if isinstance(predicate, str) else predicate
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for message in await self.bot_messages(chat_id):
                if message["message_id"] > after and matches(message):
                    return message
            if loop.time() >= deadline:
                break
            await asyncio.sleep(_POLL_INTERVAL)
        wanted = getattr(matches, "__name__", "predicate")
        raise AssertionError(
            f"no bot message matching {wanted} in chat {chat_id} after #{after} within "
            f"{timeout}s; recent transcript:\n{await self.transcript(chat_id)}"
        )

    async def callback_answer(self, callback_query_id: str, timeout: float = 5.0) -> JsonDict:
        """Wait for the bot's answerCallbackQuery for this query and return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            answer = await self._request("GET", f"callback_answers/{callback_query_id}",
                                         allow_404=True)
            if answer is not None:
                return dict(answer)
            if loop.time() >= deadline:
                raise AssertionError(
                    f"callback query {callback_query_id} not answered within {timeout}s")
            await asyncio.sleep(_POLL_INTERVAL)

    async def block(self, user_id: int, blocked: bool = True) -> None:
        """The user blocks (or unblocks) the bot."""
        await self._request("POST", "block", {"user_id": user_id, "blocked": blocked})

    async def calls(self, method: str | None = None) -> list[JsonDict]:
        """The Bot API call log, optionally only calls of one method."""
        path = "calls" if method is None else f"calls?method={method}"
        result: list[JsonDict] = await self._request("GET", path)
        return result

    async def pending_updates(self) -> int:
        """How many updates the bot has not confirmed yet."""
        result = await self._request("GET", "pending_updates")
        return int(result["count"])

    async def set_faults(self, **plan: Any) -> JsonDict:
        """Replace the emulator's fault plan: enforce_limits, error_rate, timeout_rate,
        timeout_s, drop_rate, flood_rate, flood_retry_after, include_polling, seed.
        No arguments switch every fault off."""
        result: JsonDict = await self._request("POST", "faults", plan)
        return dict(result["faults"])

    async def violations(self) -> list[JsonDict]:
        """Every posting call that broke a flood limit while limits were enforced."""
        result: list[JsonDict] = await self._request("GET", "violations")
        return result

    async def stats(self) -> JsonDict:
        """What the emulator did: calls, counted, too_many_requests, server_errors, timeouts,
        drops, delivered_total and delivered (messages per chat, keyed by int chat id)."""
        result: JsonDict = await self._request("GET", "stats")
        result["delivered"] = {int(chat): n for chat, n in result["delivered"].items()}
        return result
