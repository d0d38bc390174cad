"""The resident's side of the chat: binding, submitting, following, withdrawing, rating.

    /start CODE ──▶ bound ──▶ message ──▶ receipt #n ──(reply)──▶ detail added
    /start ──▶ community ──▶ building ──┘         │
                                        办结 ──▶ 满意 / 基本满意 ──▶ closed
                                              └▶ 不满意 ──▶ reason ──▶ reopened
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, Update

from handlers.callbacks import BuildingCB, CommunityCB, ForgetCB, RateCB, Rating, RequestCB
from handlers.common import bind_and_report
from handlers.magic import Magic
from handlers.refusals import refusal_text
from handlers.render import Renderer, choices_keyboard, fit, forget_keyboard, holder_label
from handlers.texts import STATES, pick, t
from routing.desk import Desk, Incoming, Person
from routing.lifecycle import Action

router = Router(name=__name__)
MAX_TEXT = 4000


class ResidentForm(StatesGroup):
    """A resident typing why a resolved request is not solved."""

    dissatisfied = State()


@router.callback_query(CommunityCB.filter())
async def picked_community(query: CallbackQuery, callback_data: CommunityCB, lang: str,
                           desk: Desk) -> None:
    buildings = await desk.buildings(callback_data.community)
    if not buildings or not isinstance(query.message, Message):
        await query.answer(t("refuse_button", lang), show_alert=True)
        return
    await query.answer()
    await query.message.edit_text(t("pick_building", lang),
                                  reply_markup=choices_keyboard(buildings, "building"))


@router.callback_query(BuildingCB.filter())
async def picked_building(query: CallbackQuery, callback_data: BuildingCB, person: Person,
                          lang: str, desk: Desk) -> None:
    if not isinstance(query.message, Message):
        await query.answer(t("refuse_button", lang), show_alert=True)
        return
    await query.answer()
    # Bind first: the picker's buttons go only when they did their job, so a forged press on
    # another message (a worker's task) changes nothing there.
    if await bind_and_report(query.message, desk, person, lang, callback_data.code):
        await query.message.edit_reply_markup(reply_markup=None)


@router.callback_query(RateCB.filter())
async def rated(query: CallbackQuery, callback_data: RateCB, person: Person, lang: str,
                desk: Desk, state: FSMContext) -> None:
    number = callback_data.number
    if callback_data.rating == Rating.DISSATISFIED:
        check = await desk.may(person.telegram_id, Action.RATE, number)
        if not check.ok:
            await query.answer(refusal_text(check, number, lang), show_alert=True)
            return
        await state.set_state(ResidentForm.dissatisfied)
        await state.update_data(number=number)
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.answer(t("ask_dissatisfied", lang, n=number))
        return
    outcome = await desk.rate(person, number, callback_data.rating.value_name)
    if not outcome.ok:
        await query.answer(refusal_text(outcome, number, lang), show_alert=True)
        return
    await state.clear()  # a half-typed 不满意 reason is moot once they are satisfied
    await query.answer(t("rated_thanks", lang, n=number))
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(t("rated_thanks", lang, n=number))


@router.message(StateFilter(ResidentForm.dissatisfied), Magic(F.text & ~F.text.startswith("/")))
async def dissatisfied_reason(message: Message, person: Person, lang: str, desk: Desk,
                              state: FSMContext, event_update: Update | None = None) -> None:
    number = int((await state.get_data()).get("number", 0))
    outcome = await desk.rate(person, number, "dissatisfied", (message.text or "")[:MAX_TEXT])
    await state.clear()
    if not outcome.ok or outcome.view is None:
        # The request moved on meanwhile (rated, closed): the text is news, not a reason.
        await incoming(message, person, lang, desk, event_update)
        return

    await message.answer(t("reopened_resident", lang, n=number,
                           holder=holder_label(outcome.view, lang)))


@router.callback_query(RequestCB.filter(F.action == Action.CHASE))
async def chase(query: CallbackQuery, callback_data: RequestCB, person: Person, lang: str,
                desk: Desk, renderer: Renderer) -> None:
    number = callback_data.number
    outcome = await desk.chase(person, number)
    if not outcome.ok:
        due = renderer.when(outcome.info.get("due"), lang)
        await query.answer(refusal_text(outcome, number, lang, due=due), show_alert=True)
        return
    await query.answer(t("chase_done", lang, n=number), show_alert=True)


@router.callback_query(RequestCB.filter(F.action.in_({Action.WITHDRAW, Action.SHOW})))
async def resident_button(query: CallbackQuery, callback_data: RequestCB, person: Person,
                          lang: str, desk: Desk, renderer: Renderer) -> None:
    number = callback_data.number
    if callback_data.action == Action.SHOW:
        shown = await desk.show(person.telegram_id, number)
        if shown is None:
            await query.answer(t("refuse_not_found", lang), show_alert=True)
            return
        await query.answer()
        if isinstance(query.message, Message):
            text, keyboard = renderer.detail(*shown, lang)
            await query.message.answer(text, reply_markup=keyboard)
        return
    outcome = await desk.withdraw(person, number)
    if not outcome.ok:
        await query.answer(refusal_text(outcome, number, lang), show_alert=True)
        return
    await query.answer(t("withdrawn_ok", lang, n=number))
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(t("withdrawn_ok", lang, n=number))


@router.message(Command("my"))
async def my_requests(message: Message, person: Person, lang: str, desk: Desk,
                      renderer: Renderer) -> None:
    views = await desk.my_requests(person.telegram_id)
    await message.answer(renderer.listing_or_none("my", views, lang))


@router.message(Command("mydata"))
async def my_data(message: Message, person: Person, lang: str, desk: Desk,
                  renderer: Renderer) -> None:
    data = await desk.my_data(person.telegram_id)
    requests = "".join(f"\n   #{n} {pick(STATES, state, lang)} {renderer.when(at, lang)}"
                       for n, state, at in data["requests"][:20])
    await message.answer(fit(t(
        "mydata", lang, telegram_id=data["telegram_id"], name=data["name"] or "—",
        building=data["building"] or "—", bound_at=renderer.when(data["bound_at"], lang),
        count=len(data["requests"]), requests=requests, pending=data["pending"])))


@router.message(Command("forgetme"))
async def forget_me(message: Message, lang: str) -> None:
    await message.answer(t("forget_confirm", lang), reply_markup=forget_keyboard(lang))


@router.callback_query(ForgetCB.filter())
async def forget_confirmed(query: CallbackQuery, callback_data: ForgetCB, person: Person,
                           lang: str, desk: Desk, state: FSMContext) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
    if not callback_data.confirm:
        if isinstance(query.message, Message):
            await query.message.answer(t("forget_kept", lang))
        return
    count = await desk.forget(person)
    await state.clear()
    if isinstance(query.message, Message):
        await query.message.answer(t("forget_done", lang, count=count))


@router.message(Command("show"))
async def show(message: Message, person: Person, lang: str, desk: Desk, renderer: Renderer,
               command: Any = None) -> None:
    arg = (message.text or "").split(maxsplit=1)[1:]
    number = arg[0].lstrip("#") if arg else ""
    if not number.isdigit():
        await message.answer(t("show_usage", lang))
        return
    shown = await desk.show(person.telegram_id, int(number))
    if shown is None:
        await message.answer(t("refuse_not_found", lang))
        return
    text, keyboard = renderer.detail(*shown, lang)
    await message.answer(text, reply_markup=keyboard)


@router.message(Magic(F.forward_origin))
async def forwarded(message: Message, lang: str) -> None:
    await message.answer(t("forwarded", lang))


@router.message(Magic(F.text & ~F.text.startswith("/") | F.photo | F.voice | F.location
                       | F.document | F.video))
async def incoming(message: Message, person: Person, lang: str, desk: Desk,
                   event_update: Update | None = None, first_delivery: bool = False) -> None:
    """A resident's message: a detail for the request it replies to, or a new request."""
    text = message.text or message.caption or ""
    if len(text) > MAX_TEXT:
        await message.answer(t("too_long", lang, limit=MAX_TEXT))
        return
    payload = Incoming(text=text, attachments=_attachments(message))
    reply = message.reply_to_message
    number = (await desk.linked_request(message.chat.id, reply.message_id)
              if reply is not None else None)
    if number is not None:
        outcome = await desk.add_detail(person, number, payload)
        if outcome.ok and outcome.view is not None:
            await message.answer(t("detail_added", lang, n=number,
                                   holder=holder_label(outcome.view, lang)))
            return
        if outcome.state == "resolved":
            await message.answer(t("detail_resolved", lang, n=number))
            return
        # A reply to a finished request is a new problem; it becomes a new request below.
    update_id = event_update.update_id if event_update is not None else None
    outcome = await desk.submit(person, payload, update_id, replay_possible=not first_delivery)
    if outcome.refusal is None:
        merged = outcome.info.get("merged_into")
        if merged is not None:
            await message.answer(t("merged_flood", lang, n=merged))
        return  # the receipt with its number comes through the outbox
    if outcome.refusal.value == "not_bound":
        await message.answer(t("kept_until_bound", lang),
                             reply_markup=choices_keyboard(await desk.communities(), "community"))
    else:
        await message.answer(refusal_text(outcome, 0, lang))


def _attachments(message: Message) -> tuple[tuple[str, str | None, dict[str, Any]], ...]:
    items: list[tuple[str, str | None, dict[str, Any]]] = []
    if message.photo:
        best = message.photo[-1]
        items.append(("photo", best.file_id, {"width": best.width, "height": best.height}))
    if message.voice:
        items.append(("voice", message.voice.file_id, {"duration": message.voice.duration}))
    if message.document:
        items.append(("document", message.document.file_id,
                      {"name": message.document.file_name or ""}))
    if message.video:
        items.append(("document", message.video.file_id, {"video": True}))
    if message.location:
        items.append(("location", None, {"latitude": message.location.latitude,
                                         "longitude": message.location.longitude}))
    return tuple(items)
