"""One user's updates are handled one at a time and in order; nothing is kept per user after."""

from __future__ import annotations

import asyncio

from bot.intake import _Turns


async def test_one_users_updates_take_turns_in_order_and_others_do_not_wait() -> None:
    turns = _Turns()
    log: list[str] = []
    release = asyncio.Event()

    async def handle(user: int, name: str, hold: bool = False) -> None:
        async with turns.of(user):
            log.append(f"start {name}")
            if hold:
                await release.wait()
            log.append(f"end {name}")

    first = asyncio.create_task(handle(1, "a1", hold=True))
    await asyncio.sleep(0)
    later = [asyncio.create_task(handle(1, name)) for name in ("a2", "a3")]
    await asyncio.create_task(handle(2, "b1"))  # another user does not wait for user 1
    assert log == ["start a1", "start b1", "end b1"]
    assert len(turns) == 1, "user 2's lock went when their update was done"
    release.set()
    await asyncio.gather(first, *later)
    assert log[3:] == ["end a1", "start a2", "end a2", "start a3", "end a3"]
    assert len(turns) == 0, "no lock is kept for a user with nothing waiting"


async def test_a_failed_update_frees_the_users_turn() -> None:
    turns = _Turns()

    async def fail() -> None:
        async with turns.of(7):
            raise ValueError("handler failed")

    for _ in range(2):
        try:
            await fail()
        except ValueError:
            pass
    assert len(turns) == 0
