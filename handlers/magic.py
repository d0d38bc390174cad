"""Filters checked on the event loop instead of in a thread.

aiogram calls a filter that is a plain function through `asyncio.to_thread`: each message it
is tried on then costs a hop to a worker thread and back, several per message. A bare `F…`
rule and a bare FSM `State` are such functions; wrap the first in `Magic` and the second in
aiogram's `StateFilter`, which are coroutines doing the same test.
"""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.utils.magic_filter import MagicFilter


class Magic(Filter):
    """The same test as the bare magic filter `rule`, as a coroutine (it only reads the
    update's attributes, so it need not leave the event loop)."""

    def __init__(self, rule: MagicFilter) -> None:
        self.rule = rule

    async def __call__(self, event: Any) -> Any:
        return self.rule.resolve(event)

    def __str__(self) -> str:
        return f"Magic({self.rule!r})"
