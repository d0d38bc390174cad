"""The staff side of the chat: grid workers and supervisors acting on requests.

    button 受理/接管 ───────────────────────────▶ done
    button 办结/上报/退回/督办/交回 ──▶ type a note ──▶ done   (/cancel leaves it)
    button 转派 ──▶ pick a grid ──▶ done
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, Filter, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, TelegramObject

from handlers.callbacks import CorrectCB, DecideCB, ExtendCB, GridCB, RequestCB, UrgeCB
from handlers.magic import Magic
from handlers.refusals import refusal_text
from handlers.render import (
    EXTENSION_LENGTHS,
    URGE_LENGTHS,
    Renderer,
    category_name,
    choices_keyboard,
    correction_keyboard,
    extension_lengths_keyboard,
    fit,
    holder_keyboard,
    holder_label,
    urge_lengths_keyboard,
    worker_keyboard,
)
from handlers.texts import URGENCY, pick, t
from routing.desk import Desk, Outcome, Person
from routing.lifecycle import Action
from routing.sla import Duration

router = Router(name=__name__)
MAX_NOTE = 1000

# Actions that need a typed note, with the prompt and the use case that takes it.
NOTE_PROMPTS = {
    Action.RESOLVE: "ask_resolve",
    Action.ESCALATE: "ask_escalate",
    Action.RETURN: "ask_return",
    Action.URGE: "ask_urge",
    Action.HAND_BACK: "ask_hand_back",
}
STAFF_ACTIONS = set(NOTE_PROMPTS) | {
    Action.ACCEPT, Action.TAKE_OVER, Action.REASSIGN, Action.EXTEND, Action.CORRECT,
    Action.UNLINK}


class StaffForm(StatesGroup):
    """A staff member typing the note an action needs."""

    note = State()


class IsStaff(Filter):
    """Passes for accounts bound to a staff post."""

    async def __call__(self, event: TelegramObject, desk: Desk, person: Person) -> bool:
        return bool(await desk.roles(person.telegram_id))


router.message.filter(IsStaff())
router.callback_query.filter(IsStaff())


def _with_note(desk: Desk, action: Action) -> Callable[[Person, int, str], Awaitable[Outcome]]:
    return {
        Action.RESOLVE: desk.resolve,
        Action.ESCALATE: desk.escalate,
        Action.RETURN: desk.return_request,
        Action.URGE: desk.urge,
        Action.HAND_BACK: desk.hand_back,
    }[action]


def _done_text(action: Action, outcome: Outcome, lang: str, **extra: Any) -> str:
    view = outcome.view
    n = view.number if view else 0
    holder = holder_label(view, lang) if view else ""
    key = {
        Action.ACCEPT: "done_accept", Action.RESOLVE: "done_resolve",
        Action.ESCALATE: "done_escalate", Action.RETURN: "done_return",
        Action.URGE: "done_urge", Action.TAKE_OVER: "done_take",
        Action.HAND_BACK: "done_hand_back", Action.REASSIGN: "done_reassign",
        Action.EXTEND: "done_extension",
    }[action]
    return t(key, lang, n=n, holder=holder, grid=view.grid if view else "", **extra)


@router.callback_query(RequestCB.filter(F.action.in_(STAFF_ACTIONS)))
async def staff_button(query: CallbackQuery, callback_data: RequestCB, person: Person,
                       lang: str, desk: Desk, state: FSMContext) -> None:
    """Re-check on the server that this person may do this now, then act or ask for a note."""
    action, number = callback_data.action, callback_data.number
    message = query.message if isinstance(query.message, Message) else None
    if action == Action.ACCEPT or action == Action.TAKE_OVER:
        use_case = desk.accept if action == Action.ACCEPT else desk.take_over
        outcome = await use_case(person, number)
        if not outcome.ok:
            await query.answer(refusal_text(outcome, number, lang), show_alert=True)
            return
        await query.answer(_done_text(action, outcome, lang))
        if message is not None and outcome.view is not None:
            keyboard = (worker_keyboard(number, lang, accepted=True)
                        if outcome.view.level == 0 and action == Action.ACCEPT
                        else holder_keyboard(number, lang))
            await message.edit_reply_markup(reply_markup=keyboard)
        return
    if action == Action.UNLINK:
        outcome = await desk.unlink(person, number)
        if not outcome.ok:
            await query.answer(refusal_text(outcome, number, lang), show_alert=True)
            return
        await query.answer(t("done_unlink", lang, n=number), show_alert=True)
        if message is not None:
            await message.edit_reply_markup(reply_markup=None)
        return
    check = await desk.may(person.telegram_id, action, number)
    if not check.ok:
        await query.answer(refusal_text(check, number, lang), show_alert=True)
        return
    await query.answer()
    if action == Action.CORRECT:
        if message is not None and check.view is not None:
            await message.answer(
                t("pick_correction", lang, n=number, category=category_name(check.view, lang),
                  urgency=pick(URGENCY, check.view.urgency, lang)),
                reply_markup=correction_keyboard(number, desk.category_labels(lang), lang))
        return
    if action == Action.URGE:
        if message is not None:
            await message.answer(t("ask_urge_deadline", lang, n=number),
                                 reply_markup=urge_lengths_keyboard(number, lang))
        return
    if action == Action.EXTEND:
        if message is not None:
            await message.answer(t("ask_extension_length", lang, n=number),
                                 reply_markup=extension_lengths_keyboard(number))
        return
    if action == Action.REASSIGN:
        grids = await desk.grids_for_reassign(person.telegram_id, number)
        if message is not None:
            if not grids:
                await message.answer(t("no_grids", lang))
            else:
                await message.answer(t("pick_grid", lang, n=number),
                                     reply_markup=choices_keyboard(grids, "grid", number))
        return
    await state.set_state(StaffForm.note)
    origin = [message.chat.id, message.message_id] if message is not None else None
    await state.update_data(number=number, action=action.value, origin=origin)
    if message is not None:
        await message.answer(t(NOTE_PROMPTS[action], lang, n=number))


async def _ask_note_after_length(query: CallbackQuery, person: Person, lang: str, desk: Desk,
                                 state: FSMContext, action: Action, number: int, length: str,
                                 prompt: str) -> None:
    """A length was picked (延期 or 督办): check again, remember it, ask for the note."""
    check = await desk.may(person.telegram_id, action, number)
    if not check.ok:
        await query.answer(refusal_text(check, number, lang), show_alert=True)
        return
    await query.answer()
    await state.set_state(StaffForm.note)
    await state.update_data(number=number, action=action.value, length=length, origin=None)
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(t(prompt, lang, n=number))


@router.callback_query(ExtendCB.filter(F.length.in_(EXTENSION_LENGTHS)))
async def extension_length(query: CallbackQuery, callback_data: ExtendCB, person: Person,
                           lang: str, desk: Desk, state: FSMContext) -> None:
    await _ask_note_after_length(query, person, lang, desk, state, Action.EXTEND,
                                 callback_data.number, callback_data.length,
                                 "ask_extension_reason")


@router.callback_query(UrgeCB.filter(F.length.in_(URGE_LENGTHS)))
async def urge_length(query: CallbackQuery, callback_data: UrgeCB, person: Person, lang: str,
                      desk: Desk, state: FSMContext) -> None:
    await _ask_note_after_length(query, person, lang, desk, state, Action.URGE,
                                 callback_data.number, callback_data.length, "ask_urge")


@router.callback_query(CorrectCB.filter(F.field.in_({"c", "u"})))
async def corrected(query: CallbackQuery, callback_data: CorrectCB, person: Person, lang: str,
                    desk: Desk) -> None:
    number = callback_data.number
    field, value = callback_data.field, callback_data.value
    outcome = await desk.correct(person, number, category=value if field == "c" else None,
                                 urgency=value if field == "u" else None)
    if not outcome.ok or outcome.view is None:
        await query.answer(refusal_text(outcome, number, lang), show_alert=True)
        return
    text = t("done_correct", lang, n=number, category=category_name(outcome.view, lang),
             urgency=pick(URGENCY, outcome.view.urgency, lang))
    await query.answer(text)
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=None)


@router.callback_query(DecideCB.filter())
async def extension_decided(query: CallbackQuery, callback_data: DecideCB, person: Person,
                            lang: str, desk: Desk) -> None:
    number = callback_data.number
    outcome = await desk.decide_extension(person, number, callback_data.approve)
    if not outcome.ok:
        await query.answer(refusal_text(outcome, number, lang), show_alert=True)
        return
    await query.answer(t("done_decide", lang, n=number))
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)


@router.message(StateFilter(StaffForm.note), Magic(F.text & ~F.text.startswith("/")))
async def note_typed(message: Message, person: Person, lang: str, desk: Desk,
                     state: FSMContext) -> None:
    data = await state.get_data()
    await state.clear()
    action, number = Action(data["action"]), int(data["number"])
    note = (message.text or "")[:MAX_NOTE]
    if action == Action.EXTEND:
        outcome = await desk.ask_extension(person, number, Duration.parse(data["length"]), note)
    elif action == Action.URGE:
        length = data.get("length", "keep")
        deadline = None if length == "keep" else Duration.parse(length)
        outcome = await desk.urge(person, number, note, deadline)
    else:
        outcome = await _with_note(desk, action)(person, number, note)
    if not outcome.ok:
        await message.answer(refusal_text(outcome, number, lang))
        return
    await message.answer(_done_text(action, outcome, lang))
    origin = data.get("origin")
    if origin and action not in (Action.URGE, Action.EXTEND) and message.bot is not None:
        # The buttons under the original message no longer fit; a stale press would be refused
        # anyway, but removing them saves the worker a confusing tap.
        try:
            await message.bot.edit_message_reply_markup(
                chat_id=origin[0], message_id=origin[1], reply_markup=None)
        except Exception:  # the message may be too old or already edited
            pass


@router.message(StateFilter(StaffForm.note))
async def note_not_text(message: Message, lang: str) -> None:
    await message.answer(t("refuse_empty", lang))


@router.callback_query(GridCB.filter())
async def grid_picked(query: CallbackQuery, callback_data: GridCB, person: Person, lang: str,
                      desk: Desk) -> None:
    outcome = await desk.reassign(person, callback_data.number, callback_data.grid)
    if not outcome.ok:
        await query.answer(refusal_text(outcome, callback_data.number, lang), show_alert=True)
        return
    await query.answer(_done_text(Action.REASSIGN, outcome, lang))
    if isinstance(query.message, Message):
        await query.message.edit_text(_done_text(Action.REASSIGN, outcome, lang),
                                      reply_markup=None)


@router.message(Command("tasks"))
async def tasks(message: Message, person: Person, lang: str, desk: Desk,
                renderer: Renderer) -> None:
    views = await desk.tasks(person.telegram_id)
    await message.answer(renderer.listing_or_none("tasks", views, lang))


@router.message(Command("open", "overdue"))
async def area_lists(message: Message, person: Person, lang: str, desk: Desk,
                     renderer: Renderer) -> None:
    overdue = (message.text or "").startswith("/overdue")
    views = await desk.area_requests(person.telegram_id, overdue=overdue)
    await message.answer(renderer.listing_or_none("overdue" if overdue else "open", views, lang))


@router.message(Command("undelivered"))
async def undelivered(message: Message, person: Person, lang: str, desk: Desk,
                      renderer: Renderer) -> None:
    rows = await desk.undelivered(person.telegram_id)
    if not rows:
        await message.answer(t("undelivered_none", lang))
        return
    lines = [t("undelivered_title", lang)] + [
        f"· {renderer.when(r['at'], lang)} → {r['chat_id']}"
        f"{' #' + str(r['number']) if r['number'] else ''} {r['kind']}：{r['error'][:60]}"
        for r in rows]
    await message.answer(fit("\n".join(lines)))


@router.message(Magic(~F.text.startswith("/")))
async def plain_text(message: Message, lang: str) -> None:
    """Text, photos, voice or locations from a staff account are not a resident's request."""
    await message.answer(t("staff_plain_text", lang))


async def staff_only(message: Message, lang: str) -> None:
    await message.answer(t("staff_only", lang))


residents_asking_staff_commands = Router(name=f"{__name__}.not_staff")
residents_asking_staff_commands.message.register(staff_only, Command("tasks", "open", "overdue"))
