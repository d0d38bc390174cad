"""End-to-end tests of the Bot API emulator driven by a real aiogram Bot and the control client."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.methods import TelegramMethod
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyParameters,
)

from bot.emulator import BotApiEmulator
from bot.emulator_client import EmulatorClient, EmulatorClientError
from bot.emulator_state import parse_html

ALICE = 1001
BOB = 1002
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


class DoesNotExist(TelegramMethod[bool]):
    """A Bot API method Telegram does not have, to provoke a 404."""

    __returning__ = bool
    __api_method__ = "doesNotExist"


def make_bot(emulator: BotApiEmulator, token: str | None = None) -> Bot:
    """An aiogram Bot whose session talks to the emulator."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))
    return Bot(token or emulator.token, session=session)


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    """A one-row inline keyboard of (label, callback_data) buttons."""
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=label, callback_data=data) for label, data in buttons
    ]])


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    server = BotApiEmulator()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(emulator: BotApiEmulator) -> AsyncIterator[EmulatorClient]:
    control = EmulatorClient(emulator.base_url)
    await control.add_user(ALICE, "Alice", "alice")
    await control.add_user(BOB, "Bob")
    yield control
    await control.close()


@pytest.fixture
async def bot(emulator: BotApiEmulator) -> AsyncIterator[Bot]:
    instance = make_bot(emulator)
    yield instance
    await instance.session.close()


# --------------------------------------------------------------------------- basics


async def test_get_me_describes_the_configured_bot(emulator: BotApiEmulator, bot: Bot) -> None:
    me = await bot.get_me()
    assert emulator.base_url.startswith("http://127.0.0.1:")
    assert (me.id, me.is_bot, me.username) == (123456, True, "huying_bot")


async def test_wrong_token_is_unauthorized(emulator: BotApiEmulator) -> None:
    intruder = make_bot(emulator, token="999:WRONG")
    try:
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await intruder.get_me()
    finally:
        await intruder.session.close()


async def test_unknown_method_is_not_found(emulator: BotApiEmulator, bot: Bot) -> None:
    with pytest.raises(TelegramNotFound, match="Not Found"):
        await bot(DoesNotExist())
    url = f"{emulator.base_url}/bot{emulator.token}/fooBar"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 404
        assert await response.json() == {"ok": False, "error_code": 404,
                                         "description": "Not Found"}


async def test_json_and_urlencoded_bodies_are_accepted(
    emulator: BotApiEmulator, client: EmulatorClient
) -> None:
    await client.send(ALICE, "hi")
    url = f"{emulator.base_url}/bot{emulator.token}/sendMessage"
    markup = '{"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}'
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"chat_id": ALICE, "text": "json body"}) as response:
            assert (await response.json())["result"]["text"] == "json body"
        form = {"chat_id": str(ALICE), "text": "form body", "reply_markup": markup}
        async with http.post(url, data=form) as response:
            result = (await response.json())["result"]
    assert result["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "go"
    assert [m["text"] for m in await client.bot_messages(ALICE)] == ["json body", "form body"]


# --------------------------------------------------------------------------- sending


async def test_send_message_with_inline_keyboard_reaches_the_transcript(
    client: EmulatorClient, bot: Bot
) -> None:
    await client.send(ALICE, "/start")
    sent = await bot.send_message(
        ALICE, "<b>Hello</b> &amp; welcome", parse_mode="HTML",
        reply_markup=keyboard(("Yes", "answer:yes"), ("No", "answer:no")),
    )
    assert sent.text == "Hello & welcome"
    assert sent.from_user is not None and sent.from_user.is_bot
    assert sent.entities is not None and sent.entities[0].type == "bold"
    transcript = await client.messages(ALICE)
    assert [m["from_bot"] for m in transcript] == [False, True]
    shown = transcript[1]
    assert shown["message_id"] == sent.message_id == 2
    assert shown["text"] == "Hello & welcome"
    assert shown["raw_text"] == "<b>Hello</b> &amp; welcome"
    labels = [b["text"] for b in shown["reply_markup"]["inline_keyboard"][0]]
    assert labels == ["Yes", "No"]
    assert shown["edits"] == 0


async def test_reply_keyboard_and_reply_parameters(client: EmulatorClient, bot: Bot) -> None:
    question = await client.send(ALICE, "where?")
    markup = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="Share location")]])
    sent = await bot.send_message(ALICE, "Pick", reply_markup=markup,
                                  reply_parameters=ReplyParameters(
                                      message_id=question["message_id"]))
    assert sent.reply_markup is None  # Telegram echoes only inline keyboards
    assert sent.reply_to_message is not None
    assert sent.reply_to_message.message_id == question["message_id"]
    shown = (await client.bot_messages(ALICE))[-1]
    assert shown["reply_markup"]["keyboard"][0][0]["text"] == "Share location"
    assert shown["reply_to_message_id"] == question["message_id"]
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(ALICE, "x", reply_parameters=ReplyParameters(message_id=999))


async def test_photo_upload_get_file_and_download(
    emulator: BotApiEmulator, client: EmulatorClient, bot: Bot
) -> None:
    await client.send(ALICE, "hi")
    photo = BufferedInputFile(b"\xff\xd8fake-jpeg-bytes\xff\xd9", filename="pic.jpg")
    sent = await bot.send_photo(ALICE, photo, caption="<i>look</i>", parse_mode="HTML")
    assert sent.photo is not None and len(sent.photo) == 3
    assert sent.caption == "look"
    largest = sent.photo[-1]
    file = await bot.get_file(largest.file_id)
    assert file.file_path is not None
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == b"\xff\xd8fake-jpeg-bytes\xff\xd9"
    again = await bot.send_photo(ALICE, largest.file_id)  # resend by file_id
    assert again.photo is not None and again.photo[-1].file_id == largest.file_id
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(ALICE, "no-such-file-id")
    assert (await client.bot_messages(ALICE))[0]["photo"][-1]["width"] == 800


async def test_user_photo_voice_location_and_forward_arrive_as_updates(
    client: EmulatorClient, bot: Bot
) -> None:
    photo = await client.send(ALICE, photo=True, caption="the broken lamp")
    await client.send(ALICE, voice=7)
    await client.send(ALICE, location={"latitude": 31.2, "longitude": 121.5})
    await client.send(ALICE, "look at this", forward_from_user_id=BOB)
    updates = await bot.get_updates()
    messages = [u.message for u in updates if u.message is not None]
    assert len(messages) == len(updates) == 4
    first, voice, location, forwarded = messages
    assert first.photo is not None and first.caption == "the broken lamp"
    assert first.photo[-1].file_id == photo["photo"][-1]["file_id"]
    assert voice.voice is not None and voice.voice.duration == 7
    assert location.location is not None and location.location.latitude == 31.2
    assert forwarded.forward_origin is not None
    assert forwarded.forward_origin.sender_user.id == BOB  # type: ignore[union-attr]
    relayed = await bot.send_photo(ALICE, first.photo[-1].file_id)
    assert relayed.photo is not None


async def test_media_group_and_document_upload(client: EmulatorClient, bot: Bot) -> None:
    await client.send(ALICE, "hi")
    album = await bot.send_media_group(ALICE, [
        InputMediaPhoto(media=BufferedInputFile(b"one", "1.jpg"), caption="first"),
        InputMediaPhoto(media=BufferedInputFile(b"two", "2.jpg")),
    ])
    assert len(album) == 2 and album[0].media_group_id == album[1].media_group_id is not None
    assert album[0].caption == "first" and album[1].caption is None
    document = await bot.send_document(ALICE, BufferedInputFile(b"a,b\n1,2\n", "report.csv"))
    assert document.document is not None
    assert (document.document.file_name, document.document.file_size) == ("report.csv", 8)
    shown = await client.bot_messages(ALICE)
    assert [("photo" in m, "document" in m) for m in shown] == [(True, False), (True, False),
                                                                 (False, True)]


# --------------------------------------------------------------------------- updates


async def test_get_updates_returns_messages_and_callbacks_and_honours_offset(
    client: EmulatorClient, bot: Bot
) -> None:
    await client.send(ALICE, "/start payload")
    sent = await bot.send_message(ALICE, "Menu", reply_markup=keyboard(("Open", "open")))
    query_id = await client.press(ALICE, sent.message_id, "Op")
    updates = await bot.get_updates()
    assert len(updates) == 2
    message, callback = updates[0].message, updates[1].callback_query
    assert message is not None and message.text == "/start payload"
    assert message.entities is not None and message.entities[0].type == "bot_command"
    assert message.entities[0].length == len("/start")
    assert callback is not None and callback.id == query_id and callback.data == "open"
    assert callback.message is not None and callback.message.message_id == sent.message_id
    assert updates[1].update_id == updates[0].update_id + 1
    again = await bot.get_updates()  # nothing confirmed yet
    assert [u.update_id for u in again] == [u.update_id for u in updates]
    assert await client.pending_updates() == 2
    rest = await bot.get_updates(offset=updates[0].update_id + 1)
    assert [u.update_id for u in rest] == [updates[1].update_id]
    assert await bot.get_updates(offset=updates[1].update_id + 1) == []
    assert await client.pending_updates() == 0


async def test_long_polling_returns_early_when_an_update_arrives(
    client: EmulatorClient, bot: Bot
) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    assert not poll.done()
    await client.send(ALICE, "wake up")
    updates = await asyncio.wait_for(poll, 3)
    assert time.monotonic() - started < 2
    assert [u.message.text for u in updates if u.message] == ["wake up"]


async def test_long_polling_waits_the_timeout_when_idle(client: EmulatorClient, bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert time.monotonic() - started >= 0.9


async def test_allowed_updates_filters_new_updates(client: EmulatorClient, bot: Bot) -> None:
    sent = await bot.send_message(ALICE, "Menu", reply_markup=keyboard(("Open", "open")))
    assert await bot.get_updates(allowed_updates=["callback_query"]) == []
    await client.send(ALICE, "ignored")
    await client.press(ALICE, sent.message_id, "Open")
    updates = await bot.get_updates()
    assert [u.callback_query is not None for u in updates] == [True]


async def test_webhook_blocks_get_updates_until_deleted(client: EmulatorClient, bot: Bot) -> None:
    await bot.set_webhook("https://example.org/hook")
    assert (await bot.get_webhook_info()).url == "https://example.org/hook"
    with pytest.raises(TelegramConflictError):
        await bot.get_updates()
    await client.send(ALICE, "queued")
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == []


async def test_stop_releases_a_pending_long_poll() -> None:
    server = BotApiEmulator()
    await server.start()
    poller = make_bot(server)
    try:
        poll = asyncio.create_task(poller.get_updates(timeout=30))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await server.stop()
        assert await asyncio.wait_for(poll, 5) == []
        assert time.monotonic() - started < 3
    finally:
        await poller.session.close()


async def test_cli_serves_until_interrupted() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.emulator", "--port", "0", stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2])
    try:
        assert process.stdout is not None
        banner = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        base_url = banner.split(" at ", 1)[1].split()[0]
        async with aiohttp.ClientSession() as http, http.get(
            f"{base_url}/bot123456:EMULATOR/getMe"
        ) as response:
            assert (await response.json())["result"]["username"] == "huying_bot"
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


# --------------------------------------------------------------------------- validation


async def test_text_validation_errors(client: EmulatorClient, bot: Bot) -> None:
    await client.send(ALICE, "hi")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(ALICE, "")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(ALICE, "<b></b>", parse_mode="HTML")
    await bot.send_message(ALICE, "字" * 4096)
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(ALICE, "字" * 4097)
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(ALICE, "😀" * 2049)  # 4098 UTF-16 code units
    photo = BufferedInputFile(b"jpeg", filename="p.jpg")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(ALICE, photo, caption="x" * 1025)
    with pytest.raises(TelegramBadRequest, match="can't parse entities: Can't find end tag"):
        await bot.send_message(ALICE, "<b>bold", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match='expected "</i>", found "</b>"'):
        await bot.send_message(ALICE, "<i>x</b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match='Unsupported start tag "div"'):
        await bot.send_message(ALICE, "<div>x</div>", parse_mode="HTML")
    assert len(await client.bot_messages(ALICE)) == 1  # failures store nothing
    trimmed = await bot.send_message(ALICE, "  <b> hi </b>\n", parse_mode="HTML")
    assert trimmed.text == "hi"
    assert trimmed.entities is not None
    assert (trimmed.entities[0].offset, trimmed.entities[0].length) == (0, 2)


async def test_keyboard_validation_errors(client: EmulatorClient, bot: Bot) -> None:
    await client.send(ALICE, "hi")
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(ALICE, "x", reply_markup=keyboard(("Long", "d" * 65)))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(ALICE, "x", reply_markup=keyboard(("Empty", "")))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(ALICE, "x", reply_markup=keyboard(("Wide", "字" * 22)))
    with pytest.raises(TelegramBadRequest, match="text buttons are unallowed"):
        await bot.send_message(ALICE, "x", reply_markup=keyboard(("", "ok")))
    await bot.send_message(ALICE, "x", reply_markup=keyboard(("Max", "d" * 64)))


async def test_unknown_and_blocked_chats(client: EmulatorClient, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(424242, "hello stranger")
    await client.add_user(777, "Shy", started=False)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(777, "you never wrote to me")
    await client.block(ALICE)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(ALICE, "are you there?")
    await client.block(ALICE, blocked=False)
    await bot.send_message(ALICE, "welcome back")
    kinds = [u.my_chat_member.new_chat_member.status
             for u in await bot.get_updates() if u.my_chat_member]
    assert kinds == ["kicked", "member"]


async def test_calls_log_records_successes_and_failures(
    client: EmulatorClient, bot: Bot
) -> None:
    await client.send(ALICE, "hi")
    await bot.send_message(ALICE, "ok")
    with pytest.raises(TelegramBadRequest):
        await bot.send_message(ALICE, "")
    calls = await client.calls("sendMessage")
    assert [(c["chat_id"], c["ok"], c["error_code"]) for c in calls] == [
        (ALICE, True, None), (ALICE, False, 400)]


# --------------------------------------------------------------------------- editing


async def test_edit_message_text_and_not_modified(client: EmulatorClient, bot: Bot) -> None:
    await client.send(ALICE, "hi")
    markup = keyboard(("Done", "done"))
    sent = await bot.send_message(ALICE, "Status: open", reply_markup=markup)
    edited = await bot.edit_message_text("Status: <b>closed</b>", chat_id=ALICE,
                                         message_id=sent.message_id, parse_mode="HTML",
                                         reply_markup=markup)
    assert isinstance(edited, Message) and edited.text == "Status: closed"
    assert edited.edit_date is not None
    with pytest.raises(TelegramBadRequest) as error:
        await bot.edit_message_text("Status: <b>closed</b>", chat_id=ALICE,
                                    message_id=sent.message_id, parse_mode="HTML",
                                    reply_markup=markup)
    assert error.value.message == NOT_MODIFIED
    # Same text without the keyboard is a modification: the keyboard goes away.
    await bot.edit_message_text("Status: <b>closed</b>", chat_id=ALICE,
                                message_id=sent.message_id, parse_mode="HTML")
    shown = (await client.bot_messages(ALICE))[-1]
    assert (shown["text"], shown["edits"], shown["reply_markup"]) == ("Status: closed", 2, None)
    assert shown["history"][0]["text"] == "Status: open"
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=ALICE, message_id=999)
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("x", chat_id=ALICE, message_id=1)


async def test_edit_reply_markup_caption_and_delete(client: EmulatorClient, bot: Bot) -> None:
    await client.send(ALICE, "hi")
    sent = await bot.send_message(ALICE, "Pick", reply_markup=keyboard(("A", "a")))
    await bot.edit_message_reply_markup(chat_id=ALICE, message_id=sent.message_id,
                                        reply_markup=keyboard(("B", "b")))
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=ALICE, message_id=sent.message_id,
                                            reply_markup=keyboard(("B", "b")))
    with pytest.raises(TelegramBadRequest, match="there is no caption in the message to edit"):
        await bot.edit_message_caption(chat_id=ALICE, message_id=sent.message_id, caption="c")
    photo = await bot.send_photo(ALICE, BufferedInputFile(b"jpeg", "p.jpg"), caption="old")
    await bot.edit_message_caption(chat_id=ALICE, message_id=photo.message_id, caption="new")
    assert (await client.bot_messages(ALICE))[-1]["text"] == "new"
    assert await bot.delete_message(ALICE, sent.message_id)
    assert [m["message_id"] for m in await client.bot_messages(ALICE)] == [photo.message_id]
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(ALICE, sent.message_id)


async def test_user_edit_queues_edited_message(client: EmulatorClient, bot: Bot) -> None:
    original = await client.send(ALICE, "my adress")
    await client.edit(ALICE, original["message_id"], "my address")
    updates = await bot.get_updates()
    assert updates[-1].edited_message is not None
    assert updates[-1].edited_message.text == "my address"
    assert (await client.messages(ALICE))[0]["edits"] == 1


# --------------------------------------------------------------------------- callbacks


async def test_answer_callback_query_once(client: EmulatorClient, bot: Bot) -> None:
    await client.send(ALICE, "hi")
    sent = await bot.send_message(ALICE, "Vote", reply_markup=keyboard(("Up", "up")))
    query_id = await client.press(ALICE, sent.message_id, "Up")
    assert await bot.answer_callback_query(query_id, text="Thanks!", show_alert=True)
    assert await client.callback_answer(query_id) == {
        "text": "Thanks!", "show_alert": True, "url": None, "cache_time": None}
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query_id, text="again")
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query("12345")


async def test_forged_callback_and_missing_button(client: EmulatorClient, bot: Bot) -> None:
    await client.send(ALICE, "hi")
    sent = await bot.send_message(ALICE, "Vote", reply_markup=keyboard(("Up", "up")))
    query_id = await client.callback(ALICE, sent.message_id, "admin:delete_everything")
    updates = await bot.get_updates()
    forged = updates[-1].callback_query
    assert forged is not None and forged.id == query_id
    assert forged.data == "admin:delete_everything"
    with pytest.raises(EmulatorClientError, match="no callback button containing 'Down'"):
        await client.press(ALICE, sent.message_id, "Down")
    with pytest.raises(AssertionError, match="not answered"):
        await client.callback_answer(query_id, timeout=0.1)


# --------------------------------------------------------------------------- groups

GROUP = -1001234567890


async def test_a_group_command_arrives_with_the_group_chat_and_the_bot_replies_there(
    client: EmulatorClient, bot: Bot
) -> None:
    chat = await client.add_group(GROUP, "颂运水庭 邻里群", [ALICE, BOB], type="supergroup")
    assert chat == {"id": GROUP, "type": "supergroup", "title": "颂运水庭 邻里群"}
    sent = await client.send_to_group(GROUP, ALICE, "/help@huying_bot please")
    updates = await bot.get_updates()
    assert len(updates) == 1
    message = updates[0].message
    assert message is not None and message.message_id == sent["message_id"] == 1
    assert (message.chat.id, message.chat.type, message.chat.title) == (
        GROUP, "supergroup", "颂运水庭 邻里群")
    assert message.from_user is not None and message.from_user.id == ALICE
    assert message.entities is not None and message.entities[0].type == "bot_command"
    assert message.entities[0].length == len("/help@huying_bot")

    reply = await bot.send_message(GROUP, "请私聊我", reply_parameters=ReplyParameters(
        message_id=message.message_id))
    assert (reply.chat.id, reply.chat.type) == (GROUP, "supergroup")
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == sent["message_id"]
    assert (await bot.get_chat(GROUP)).title == "颂运水庭 邻里群"
    shown = await client.wait_for_message(GROUP, "请私聊我")
    assert shown["chat_id"] == GROUP and shown["reply_to_message_id"] == sent["message_id"]
    assert [(m["from_bot"], m["text"]) for m in await client.messages(GROUP)] == [
        (False, "/help@huying_bot please"), (True, "请私聊我")]
    assert await client.messages(ALICE) == []  # the private chat is untouched


async def test_privacy_mode_hides_plain_group_texts_unless_the_bot_is_admin(
    client: EmulatorClient, bot: Bot
) -> None:
    await client.add_group(GROUP, "Neighbours", [ALICE, BOB])
    await client.send_to_group(GROUP, ALICE, "楼道灯坏了")
    await client.send_to_group(GROUP, BOB, "/start@other_bot")
    assert await bot.get_updates() == []
    await client.send_to_group(GROUP, BOB, "/help")
    posted = await bot.send_message(GROUP, "hello group")
    await client.send_to_group(GROUP, ALICE, "thanks", reply_to_message_id=posted.message_id)
    await client.add_group(GROUP, "Neighbours", [ALICE, BOB], bot_is_admin=True)
    await client.send_to_group(GROUP, ALICE, "楼道灯又坏了")
    updates = await bot.get_updates()
    seen = [(u.message.chat.type, u.message.text) for u in updates if u.message]
    assert seen == [("group", "/help"), ("group", "thanks"), ("group", "楼道灯又坏了")]
    assert len(await client.messages(GROUP)) == 6  # the members still see every message


async def test_unknown_groups_and_outsiders_are_refused(client: EmulatorClient, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="Bad Request: chat not found"):
        await bot.send_message(-4242, "anyone?")
    with pytest.raises(EmulatorClientError, match="unknown group"):
        await client.send_to_group(-4242, ALICE, "hi")
    await client.add_group(GROUP, "Neighbours", [ALICE])
    with pytest.raises(EmulatorClientError, match="not a member"):
        await client.send_to_group(GROUP, BOB, "let me in")
    with pytest.raises(EmulatorClientError, match="negative"):
        await client.add_group(4242, "Positive", [ALICE])
    with pytest.raises(EmulatorClientError, match="type"):
        await client.add_group(-4243, "Channel", [ALICE], type="channel")
    with pytest.raises(EmulatorClientError, match="unknown users"):
        await client.add_group(-4244, "Ghosts", [ALICE, 999])


async def test_a_group_takes_twenty_messages_a_minute_then_429(
    client: EmulatorClient, bot: Bot
) -> None:
    await client.add_group(GROUP, "Neighbours", [ALICE])
    await client.set_faults(enforce_limits=True)
    for n in range(20):  # well under the global 30 a second, so only the group limit bites
        await bot.send_message(GROUP, f"notice {n}")
    with pytest.raises(TelegramRetryAfter) as refused:
        await bot.send_message(GROUP, "one too many")
    assert 58 <= refused.value.retry_after <= 60
    assert [(v["limit"], v["chat_id"]) for v in await client.violations()] == [("group", GROUP)]
    assert len(await client.bot_messages(GROUP)) == 20
    assert (await client.stats())["delivered"] == {GROUP: 20}
    await client.send(ALICE, "hi")
    await bot.send_message(ALICE, "a private chat has its own allowance")


# --------------------------------------------------------------------------- client helpers


async def test_wait_for_message_sees_edits_and_times_out_with_transcript(
    client: EmulatorClient, bot: Bot
) -> None:
    await client.send(ALICE, "hi")
    sent = await bot.send_message(ALICE, "Working…")

    async def finish_later() -> None:
        await asyncio.sleep(0.1)
        await bot.edit_message_text("Done!", chat_id=ALICE, message_id=sent.message_id)

    task = asyncio.create_task(finish_later())
    found = await client.wait_for_message(ALICE, "Done!", timeout=3)
    await task
    assert found["message_id"] == sent.message_id
    found = await client.wait_for_message(ALICE, lambda m: m["edits"] == 1)
    assert found["text"] == "Done!"
    with pytest.raises(AssertionError, match=r"(?s)never.*\[2\] bot : Done!"):
        await client.wait_for_message(ALICE, "never", after=0, timeout=0.1)
    with pytest.raises(AssertionError):
        await client.wait_for_message(ALICE, "Done!", after=sent.message_id, timeout=0.1)


def test_parse_html_entities_use_utf16_offsets() -> None:
    parsed = parse_html('😀 <b>粗</b> <a href="https://x.org/?a=1&amp;b=2">link</a> &lt;3 '
                        '<pre><code class="language-python">x = 1</code></pre>')
    assert parsed.text == "😀 粗 link <3 x = 1"
    assert parsed.entities == [
        {"type": "bold", "offset": 3, "length": 1},
        {"type": "text_link", "url": "https://x.org/?a=1&b=2", "offset": 5, "length": 4},
        {"type": "pre", "language": "python", "offset": 13, "length": 5},
    ]


# --------------------------------------------------------------------------- dispatcher


async def test_dispatcher_polling_echoes_a_message(
    emulator: BotApiEmulator, client: EmulatorClient
) -> None:
    bot = make_bot(emulator)
    dp = Dispatcher()

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text}")

    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        sent = await client.send(ALICE, "你好")
        reply = await client.wait_for_message(ALICE, "echo: 你好", after=sent["message_id"])
        assert reply["text"] == "echo: 你好"
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 5)
    methods = {c["method"] for c in await client.calls()}
    assert {"getMe", "getUpdates", "sendMessage"} <= methods
