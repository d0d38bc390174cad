"""The chat interface: aiogram routers, callback data, FSM, and rendering."""

from __future__ import annotations

from aiogram import Router

from handlers import common, resident, staff


def build_router() -> Router:
    """All routers in the order they must see an update."""
    root = Router(name="huying")
    root.message.outer_middleware(common.person_middleware)
    root.callback_query.outer_middleware(common.person_middleware)
    root.edited_message.outer_middleware(common.person_middleware)
    children = (
        common.router,
        staff.router,
        staff.residents_asking_staff_commands,
        resident.router,
        common.fallback,
    )
    for child in children:
        # Module routers are singletons; a second dispatcher in one process (the tests, the
        # demo) takes them over from the first, which is finished by then.
        child._parent_router = None
    root.include_routers(*children)
    return root
