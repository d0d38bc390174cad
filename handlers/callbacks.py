"""Callback data of every button: typed, short, and treated as untrusted input.

Protocol version 1. Prefixes: rq (request action), rt (rating), pc (pick community),
pb (pick building), pg (pick grid for 转派). Each stays well under Telegram's 64 bytes.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from routing.lifecycle import Action


class Rating(StrEnum):
    """A resident's verdict on a resolved request."""

    SATISFIED = "s"
    BASIC = "b"
    DISSATISFIED = "d"

    @property
    def value_name(self) -> str:
        return {"s": "satisfied", "b": "basic", "d": "dissatisfied"}[self.value]


class RequestCB(CallbackData, prefix="rq1"):
    """An action on a request by number."""

    action: Action
    number: int


class RateCB(CallbackData, prefix="rt1"):
    """A rating button under a resolved request."""

    number: int
    rating: Rating


class CommunityCB(CallbackData, prefix="pc1"):
    """A community in the building picker."""

    community: str


class BuildingCB(CallbackData, prefix="pb1"):
    """A building in the building picker."""

    code: str


class GridCB(CallbackData, prefix="pg1"):
    """A grid to reassign a request to."""

    number: int
    grid: str


class ExtendCB(CallbackData, prefix="ex1"):
    """How much more time a holder asks for (a duration such as 1d or 3wd)."""

    number: int
    length: str


class DecideCB(CallbackData, prefix="dx1"):
    """A supervisor's answer to a request for more time."""

    number: int
    approve: bool


class UrgeCB(CallbackData, prefix="ug1"):
    """The deadline a supervisor sets with 督办 ("keep" leaves the clock alone)."""

    number: int
    length: str


class CorrectCB(CallbackData, prefix="cc1"):
    """A corrected category ("c") or urgency ("u") for a request."""

    number: int
    field: str
    value: str


class ForgetCB(CallbackData, prefix="fg1"):
    """The resident's confirmation of /forgetme."""

    confirm: bool


class PageCB(CallbackData, prefix="tl1"):
    """A page of a request's timeline in /show (page 1 is the oldest)."""

    number: int
    page: int
