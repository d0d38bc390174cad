"""Every filter of every handler runs on the event loop.

aiogram calls a filter that is a plain function through a worker thread: a bare ``F…`` rule or
a bare ``State`` costs a thread round trip for every update it is tried on (measured at about a
fifth of an update's CPU). Wrap rules in ``handlers.magic.Magic`` and states in ``StateFilter``.
"""

from __future__ import annotations

from aiogram import Router

from handlers import build_router


def _routers(router: Router) -> list[Router]:
    found = [router]
    for sub in router.sub_routers:
        found += _routers(sub)
    return found


def test_no_handler_filter_leaves_the_event_loop() -> None:
    sync = [
        f"{router.name}.{name}: {handler.callback.__name__} {flt.callback!r}"
        for router in _routers(build_router())
        for name, observer in router.observers.items()
        for handler in observer.handlers
        for flt in handler.filters or ()
        if not flt.awaitable
    ]
    assert sync == []
