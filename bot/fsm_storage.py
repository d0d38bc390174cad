"""aiogram FSM storage in the database, so half-finished conversations survive a restart."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, KeyBuilder, StorageKey

from storage.uow import UnitOfWorkFactory


class DatabaseStorage(BaseStorage):
    """Keeps each chat's FSM state and data in the chat_states table."""

    def __init__(self, uow: UnitOfWorkFactory, key_builder: KeyBuilder | None = None) -> None:
        self._uow = uow
        self._keys = key_builder or DefaultKeyBuilder(prefix="fsm")

    async def set_state(self, key: StorageKey, state: str | State | None = None) -> None:
        value = state.state if isinstance(state, State) else state
        async with self._uow() as uow:
            await uow.chat_states.put(self._keys.build(key), state=value)
            await uow.commit()

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._uow().reading() as uow:
            row = await uow.chat_states.get(self._keys.build(key))
            return row.state if row else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        async with self._uow() as uow:
            await uow.chat_states.put(self._keys.build(key), data=data)
            await uow.commit()

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._uow().reading() as uow:
            row = await uow.chat_states.get(self._keys.build(key))
            return dict(row.data) if row else {}

    async def close(self) -> None:
        return None
