"""The emulator turned hostile: flood limits with 429s, 5xx, timeouts and dropped connections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError

from bot.emulator import BotApiEmulator
from bot.emulator_client import EmulatorClient, EmulatorClientError
from bot.emulator_state import FloodControl

FIRST_USER = 2001
T = TypeVar("T")


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    server = BotApiEmulator()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(emulator: BotApiEmulator) -> AsyncIterator[EmulatorClient]:
    control = EmulatorClient(emulator.base_url)
    for offset in range(40):
        await control.add_user(FIRST_USER + offset, f"User {offset}")
    yield control
    await control.close()


@pytest.fixture
async def bot(emulator: BotApiEmulator) -> AsyncIterator[Bot]:
    """A bot without any limiter: it sends as fast as it is told to."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))
    raw = Bot(emulator.token, session=session)
    yield raw
    await raw.session.close()


async def outcome(call: Awaitable[T]) -> T | Exception:
    """The result of a call, or the exception it raised."""
    try:
        return await call
    except Exception as error:  # the test inspects it
        return error


async def test_over_the_global_limit_calls_get_429_and_are_not_delivered(
        client: EmulatorClient, bot: Bot) -> None:
    await client.set_faults(enforce_limits=True)
    chats = [FIRST_USER + n for n in range(35)]
    results = await asyncio.gather(*(outcome(bot.send_message(c, "hi")) for c in chats))
    refused = [r for r in results if isinstance(r, TelegramRetryAfter)]
    assert len(refused) == 5
    assert all(r.retry_after == 1 for r in refused)
    assert "Too Many Requests: retry after 1" in str(refused[0])
    stats = await client.stats()
    assert stats["delivered_total"] == 30 and stats["too_many_requests"] == 5
    violations = await client.violations()
    assert len(violations) == 5
    assert {v["limit"] for v in violations} == {"global"}
    assert {v["method"] for v in violations} == {"sendMessage"}
    assert all(v["chat_id"] in chats and v["at"] > 0 for v in violations)


async def test_a_private_chat_gets_a_burst_of_three_then_one_a_second(
        client: EmulatorClient, bot: Bot) -> None:
    await client.set_faults(enforce_limits=True)
    for n in range(3):
        await bot.send_message(FIRST_USER, f"burst {n}")
    with pytest.raises(TelegramRetryAfter) as refused:
        await bot.send_message(FIRST_USER, "one too many")
    assert refused.value.retry_after == 1
    assert [v["limit"] for v in await client.violations()] == ["chat"]
    assert len(await client.bot_messages(FIRST_USER)) == 3
    await asyncio.sleep(1.05)
    await bot.send_message(FIRST_USER, "after a second")
    assert len(await client.bot_messages(FIRST_USER)) == 4


async def test_limits_are_counted_but_not_enforced_by_default(
        client: EmulatorClient, bot: Bot) -> None:
    for n in range(5):
        await bot.send_message(FIRST_USER, f"message {n}")
    assert len(await client.bot_messages(FIRST_USER)) == 5
    assert await client.violations() == []
    assert (await client.stats())["delivered"] == {FIRST_USER: 5}


async def test_edits_and_callback_answers_do_not_count(client: EmulatorClient, bot: Bot) -> None:
    await client.set_faults(enforce_limits=True)
    sent = await bot.send_message(FIRST_USER, "edit me 0")
    for n in range(1, 6):
        await bot.edit_message_text(f"edit me {n}", chat_id=FIRST_USER,
                                    message_id=sent.message_id)
    stats = await client.stats()
    assert stats["counted"] == 1 and stats["too_many_requests"] == 0
    assert await client.violations() == []


async def test_server_errors_fail_the_call_without_delivering(
        client: EmulatorClient, bot: Bot) -> None:
    await client.set_faults(error_rate=1.0, seed=3)
    for _ in range(4):
        with pytest.raises(TelegramServerError) as failed:
            await bot.send_message(FIRST_USER, "lost?")
        assert str(failed.value).endswith(("Internal Server Error", "Bad Gateway"))
    stats = await client.stats()
    assert stats["server_errors"] == 4 and stats["delivered_total"] == 0
    assert await client.bot_messages(FIRST_USER) == []
    calls = await client.calls("sendMessage")
    assert {c["error_code"] for c in calls} <= {500, 502}


async def test_a_held_call_times_out_for_an_impatient_client_and_is_not_delivered(
        client: EmulatorClient, bot: Bot) -> None:
    await client.set_faults(timeout_rate=1.0, timeout_s=2)
    with pytest.raises(TelegramNetworkError, match="timeout"):
        await bot.send_message(FIRST_USER, "hello?", request_timeout=1)
    await client.set_faults(timeout_rate=1.0, timeout_s=0.1)
    with pytest.raises(TelegramServerError, match="Gateway Timeout"):
        await bot.send_message(FIRST_USER, "hello again?")
    await asyncio.sleep(1.2)  # the first call's hold ends: it must not deliver late either
    stats = await client.stats()
    assert stats["timeouts"] == 2 and stats["delivered_total"] == 0
    assert await client.bot_messages(FIRST_USER) == []


async def test_a_dropped_connection_is_a_network_error_and_delivers_nothing(
        client: EmulatorClient, bot: Bot) -> None:
    await client.set_faults(drop_rate=1.0)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(FIRST_USER, "anyone there?")
    await client.set_faults()
    await bot.send_message(FIRST_USER, "back again")
    assert [m["text"] for m in await client.bot_messages(FIRST_USER)] == ["back again"]
    assert (await client.stats())["drops"] == 1


async def test_polling_is_spared_unless_asked(client: EmulatorClient, bot: Bot) -> None:
    await client.set_faults(error_rate=1.0)
    assert await bot.get_updates(timeout=0) == []
    await client.set_faults(error_rate=1.0, include_polling=True)
    with pytest.raises(TelegramServerError):
        await bot.get_updates(timeout=0)


async def test_a_seed_repeats_the_same_faults(client: EmulatorClient, bot: Bot) -> None:
    async def pattern() -> list[bool]:
        await client.set_faults(error_rate=0.5, seed=42)
        return [isinstance(await outcome(bot.send_message(FIRST_USER + 1, "x")), Exception)
                for _ in range(12)]

    first = await pattern()
    assert first == await pattern()
    assert any(first) and not all(first)


async def test_flood_waits_answer_429_without_a_violation(
        client: EmulatorClient, bot: Bot) -> None:
    await client.set_faults(flood_rate=1.0, flood_retry_after=3)
    with pytest.raises(TelegramRetryAfter) as refused:
        await bot.send_message(FIRST_USER, "x")
    assert refused.value.retry_after == 3
    assert await client.violations() == []
    assert await client.bot_messages(FIRST_USER) == []


async def test_bad_fault_settings_are_refused(client: EmulatorClient) -> None:
    with pytest.raises(EmulatorClientError, match="error_rate"):
        await client.set_faults(error_rate=1.5)
    with pytest.raises(EmulatorClientError, match="unknown"):
        await client.set_faults(eror_rate=0.5)
    with pytest.raises(EmulatorClientError, match="exceed"):
        await client.set_faults(error_rate=0.6, drop_rate=0.6)


def test_flood_control_counts_group_posts_in_a_sixty_second_window() -> None:
    flood = FloodControl()
    group = -100123
    for n in range(20):
        assert flood.check(group, n * 0.1) is None
        flood.record(group, n * 0.1)
    limit, wait = flood.check(group, 2.0) or ("", 0.0)
    assert limit == "group" and wait == pytest.approx(58.0)
    assert flood.check(group, 60.0) is None


def test_flood_control_refills_a_private_chat_continuously() -> None:
    flood = FloodControl()
    for _ in range(3):
        assert flood.check(FIRST_USER, 0.0) is None
        flood.record(FIRST_USER, 0.0)
    limit, wait = flood.check(FIRST_USER, 0.25) or ("", 0.0)
    assert limit == "chat" and wait == pytest.approx(0.75)
    assert flood.check(FIRST_USER, 1.0) is None


def test_flood_control_global_window_slides() -> None:
    flood = FloodControl()
    for n in range(30):
        flood.record(FIRST_USER + n, 0.5 + n * 0.01)
    limit, wait = flood.check(FIRST_USER + 31, 1.0) or ("", 0.0)
    assert limit == "global" and wait == pytest.approx(0.5)
    assert flood.check(FIRST_USER + 31, 1.5) is None
