"""Loading the organisation file into the database, and invite links for staff."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from routing.orgconfig import OrgConfig
from storage.models import Area, Building, Staff
from storage.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What a reload of the organisation file changed."""

    areas: int
    buildings: int
    staff: int
    moved_buildings: tuple[str, ...]
    retired: tuple[str, ...]


async def sync_organisation(uow: UnitOfWork, config: OrgConfig) -> SyncReport:
    """Make the stored organisation match the file; keep residents, requests and history."""
    wanted_areas: dict[str, tuple[str, str, str | None]] = {}
    district = config.district
    wanted_areas[district.id] = ("district", district.name, None)
    for town in district.towns:
        wanted_areas[town.id] = ("town", town.name, district.id)
        for community in town.communities:
            wanted_areas[community.id] = ("community", community.name, town.id)
            for grid in community.grids:
                wanted_areas[grid.id] = ("grid", grid.name, community.id)

    stored_areas = {a.id: a for a in await uow.organisation.areas()}
    retired: list[str] = []
    for position, (area_id, (kind, name, parent)) in enumerate(wanted_areas.items()):
        area = stored_areas.get(area_id)
        if area is None:
            uow.organisation.add(
                Area(id=area_id, kind=kind, name=name, parent_id=parent, position=position,
                     active=True)
            )
        else:
            area.kind, area.name, area.parent_id = kind, name, parent
            area.position, area.active = position, True
    for area_id, area in stored_areas.items():
        if area_id not in wanted_areas and area.active:
            area.active = False
            retired.append(area_id)

    stored_buildings = {b.code: b for b in await uow.organisation.buildings()}
    wanted_codes: set[str] = set()
    moved: list[str] = []
    position = 0
    for town in district.towns:
        for community in town.communities:
            for grid in community.grids:
                for b in grid.buildings:
                    code = b.code.upper()
                    wanted_codes.add(code)
                    position += 1
                    row = stored_buildings.get(code)
                    if row is None:
                        uow.organisation.add(
                            Building(code=code, name=b.name, households=b.households,
                                     grid_id=grid.id, position=position, active=True)
                        )
                        continue
                    if row.grid_id != grid.id:
                        moved.append(code)
                    row.name, row.households, row.grid_id = b.name, b.households, grid.id
                    row.position, row.active = position, True
    for code, row in stored_buildings.items():
        if code not in wanted_codes and row.active:
            row.active = False
            retired.append(code)

    stored_staff = {s.key: s for s in await uow.staff.all()}
    people = config.all_people()
    wanted_keys = {p.key for p in people}
    for person in people:
        member = stored_staff.get(person.key)
        if member is None:
            await uow.staff.add(
                Staff(key=person.key, name=person.name, role=person.role,
                      unit_kind=person.unit_kind, unit_id=person.unit_id,
                      telegram_id=person.telegram_id, active=True)
            )
            continue
        member.name, member.role = person.name, person.role
        member.unit_kind, member.unit_id, member.active = person.unit_kind, person.unit_id, True
        # An id in the file wins; without one, keep the account bound by an invite link.
        if person.telegram_id is not None:
            member.telegram_id = person.telegram_id
    for key, member in stored_staff.items():
        if key not in wanted_keys and member.active:
            member.active = False
            retired.append(key)
    await uow.session.flush()
    return SyncReport(
        areas=len(wanted_areas), buildings=len(wanted_codes), staff=len(people),
        moved_buildings=tuple(moved), retired=tuple(retired),
    )


async def issue_invite(uow: UnitOfWork, key: str) -> str | None:
    """A fresh one-time invite token for the staff member with this key (None if unknown)."""
    staff = await uow.staff.by_key(key)
    if staff is None:
        return None
    staff.invite_token = secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")
    return staff.invite_token
