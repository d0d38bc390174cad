"""What every chat shares: who is writing, /start and its deep links, /help, /cancel, errors."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, ErrorEvent, Message, TelegramObject, User

from handlers.callbacks import PageCB
from handlers.magic import Magic
from handlers.render import Renderer, choices_keyboard
from handlers.texts import lang_of, t
from routing.desk import Desk, Person

log = logging.getLogger(__name__)
router = Router(name=__name__)
INVITE_PREFIX = "inv-"


async def person_middleware(
    handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
    event: TelegramObject,
    data: dict[str, Any],
) -> Any:
    """Hands every handler the acting `person` and their `lang`."""
    user: User | None = data.get("event_from_user")
    if user is not None:
        lang = lang_of(user.language_code)
        data["person"] = Person(telegram_id=user.id, name=user.full_name, language=lang)
        data["lang"] = lang
    return await handler(event, data)


@router.callback_query(PageCB.filter())
async def timeline_page(query: CallbackQuery, callback_data: PageCB, person: Person, lang: str,
                        desk: Desk, renderer: Renderer) -> None:
    """◀ 更早 / 更新 ▶ under /show: the same message shows another page of the timeline."""
    shown = await desk.show(person.telegram_id, callback_data.number)  # re-checks who may see
    if shown is None:
        await query.answer(t("refuse_not_found", lang), show_alert=True)
        return
    text, keyboard = renderer.detail(*shown, lang, page=callback_data.page)
    await query.answer()
    if isinstance(query.message, Message):
        # Pressed twice, the page is already shown: Telegram answers "message is not modified".
        with contextlib.suppress(TelegramBadRequest):
            await query.message.edit_text(text, reply_markup=keyboard)


@router.message(Magic(F.chat.type != "private"))
async def in_group(message: Message, lang: str = "zh") -> None:
    if message.text and message.text.startswith("/"):
        await message.reply(t("group_chat", lang))


@router.edited_message()
async def edited(message: Message, lang: str = "zh") -> None:
    if message.chat.type == "private":
        await message.answer(t("edited", lang))


@router.message(CommandStart(deep_link=True, magic=F.args.startswith(INVITE_PREFIX)))
async def start_invite(message: Message, command: CommandObject, person: Person, lang: str,
                       desk: Desk) -> None:
    outcome = await desk.bind_staff(person, (command.args or "")[len(INVITE_PREFIX):])
    if not outcome.ok:
        await message.answer(t("invite_invalid", lang))
        return
    await message.answer(t("staff_bound", lang, name=outcome.info["name"],
                           unit=outcome.info["unit"]))


@router.message(CommandStart())
async def start(message: Message, command: CommandObject, person: Person, lang: str,
                desk: Desk, state: FSMContext) -> None:
    """/start CODE binds to a building (the QR code); plain /start shows where and a picker."""
    await state.clear()
    code = (command.args or "").strip()
    if code:
        await bind_and_report(message, desk, person, lang, code)
        return
    if await desk.roles(person.telegram_id):
        await message.answer(t("help_staff", lang))
        return
    place = await desk.resident_building(person.telegram_id)
    communities = await desk.communities()
    if place:
        await message.answer(t("welcome_bound", lang, place=place))
        await message.answer(t("change_building", lang) + "：",
                             reply_markup=choices_keyboard(communities, "community"))
        return
    if not communities:
        await message.answer(t("no_communities", lang))
        return
    await message.answer(t("welcome_unbound", lang),
                         reply_markup=choices_keyboard(communities, "community"))


async def bind_and_report(message: Message, desk: Desk, person: Person, lang: str,
                          code: str) -> bool:
    """Bind the resident and tell them; their kept messages' receipts come via the outbox."""
    outcome = await desk.bind(person, code)
    if outcome.refusal is not None:
        await message.answer(t("unknown_building", lang, code=code[:64]),
                             reply_markup=choices_keyboard(await desk.communities(), "community"))
        return False
    place = f"{outcome.community}{outcome.building}"
    if outcome.submitted:
        await message.answer(t("bound_with_pending", lang, place=place,
                               count=len(outcome.submitted)))
    else:
        await message.answer(t("bound", lang, place=place, worker=outcome.worker or "—"))
    return True


@router.message(Command("help"))
async def help_(message: Message, person: Person, lang: str, desk: Desk) -> None:
    staff = await desk.roles(person.telegram_id)
    await message.answer(t("help_staff" if staff else "help_resident", lang))


@router.message(Command("cancel"))
async def cancel(message: Message, state: FSMContext, lang: str) -> None:
    if await state.get_state() is None:
        await message.answer(t("nothing_to_cancel", lang))
        return
    await state.clear()
    await message.answer(t("cancelled", lang))


@router.errors()
async def on_error(event: ErrorEvent) -> bool:
    """Log the failure and tell the user politely instead of leaving them with silence."""
    log.exception("update %s failed", event.update.update_id, exc_info=event.exception)
    update = event.update
    user = (update.message.from_user if update.message else
            update.callback_query.from_user if update.callback_query else None)
    lang = lang_of(user.language_code if user else None)
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(t("error", lang), show_alert=True)
        elif update.message is not None:
            await update.message.answer(t("error", lang))
    except Exception:  # the reply is a courtesy; the failure is already logged
        log.warning("could not tell the user about the failure", exc_info=True)
    return True


fallback = Router(name=f"{__name__}.fallback")


@fallback.message(Magic(F.text.startswith("/")))
async def unknown_command(message: Message, lang: str = "zh") -> None:
    await message.answer(t("unknown_command", lang))


@fallback.message(Magic(F.sticker))
async def sticker(message: Message, lang: str = "zh") -> None:
    await message.answer(t("sticker", lang))


@fallback.message()
async def unsupported(message: Message, lang: str = "zh") -> None:
    await message.answer(t("unsupported", lang))


@fallback.callback_query()
async def stale_button(query: CallbackQuery, lang: str = "zh") -> None:
    log.warning("unrecognised callback data %r from %s", query.data, query.from_user.id)
    await query.answer(t("refuse_button", lang), show_alert=True)


__all__ = ["router", "fallback", "person_middleware", "Renderer"]
