"""The organisation file: units, people, buildings, departments and SLA windows of a deployment.

`load_org_config` reads the YAML, validates its shape with pydantic and then checks what
pydantic cannot see (unique ids, known areas and categories, ...). Every problem found is
reported at once in a ConfigError, one line each: the file, the place, and what to do.
"""

from __future__ import annotations

import difflib
import itertools
import re
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from routing.sla import Duration, WorkCalendar
from routing.taxonomy import DEFAULT_CATEGORIES, Category, Taxonomy, Urgency

Loc = tuple[str | int, ...]
UnitKind = Literal["grid", "community", "town", "district", "department"]
Level = Literal["community", "town", "district"]
UrgencyId = Literal["urgent", "normal", "low"]

_LEVEL_ORDER: dict[str, int] = {"community": 1, "town": 2, "district": 3}
# Ids end up in staff keys ("<unit id>/<name>") and callback data, building codes in
# t.me/<bot>?start=<code> links, whose payload Telegram limits to these characters.
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_QUIET_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


# --- field types -----------------------------------------------------------------------------


def _check_id(value: str) -> str:
    """Accept an id usable in links and keys."""
    if not _ID_RE.match(value):
        raise ValueError(
            f"'{value}' is not a usable id: use Latin letters, digits, '-' and '_', "
            "starting with a letter or digit (e.g. songyun-1)"
        )
    return value


def _check_code(value: str) -> str:
    """Accept a building code that fits a Telegram /start deep link."""
    if not _CODE_RE.match(value):
        raise ValueError(
            f"'{value}' is not a usable building code: residents send it in a t.me/<bot>?start="
            "<code> link, so use at most 64 Latin letters, digits, '-' and '_' (e.g. SY-1)"
        )
    return value


def _check_name(value: str) -> str:
    """Refuse blank names: people and units are shown and keyed by name."""
    if not value:
        raise ValueError("the name is empty: write the name shown to people, e.g. name: 陈亮")
    return value


def _to_duration(value: object) -> Duration:
    """Read a duration written as text in the file (15m, 2h, 1wd)."""
    if isinstance(value, Duration):
        return value
    return Duration.parse(value)  # type: ignore[arg-type]  # parse explains non-text values


Id = Annotated[str, AfterValidator(_check_id)]
Name = Annotated[str, AfterValidator(_check_name)]
BuildingCode = Annotated[str, AfterValidator(_check_code)]
DurationField = Annotated[
    Duration, PlainValidator(_to_duration), PlainSerializer(str, return_type=str)
]


class _Model(BaseModel):
    """Base of the file's sections: unknown keys are errors so that typos surface."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# --- the organisation --------------------------------------------------------------------------


class PersonConfig(_Model):
    """A grid worker, supervisor or department member; telegram_id may come later by invite."""

    name: Name
    telegram_id: int | None = Field(default=None, gt=0)


class BuildingConfig(_Model):
    """A building (or area) residents bind to by its code."""

    code: BuildingCode
    name: Name
    households: int = Field(default=0, ge=0)


class GridConfig(_Model):
    """A grid: its workers and the buildings they hold."""

    id: Id
    name: Name
    workers: list[PersonConfig]
    buildings: list[BuildingConfig]

    @field_validator("workers")
    @classmethod
    def _has_workers(cls, workers: list[PersonConfig]) -> list[PersonConfig]:
        if not workers:
            raise ValueError(
                "this grid has no workers: add at least one, e.g. workers: [{name: 陈亮}] "
                "(telegram_id may be left out and bound later with an invite link)"
            )
        return workers


class CommunityConfig(_Model):
    """A community (社区/村) and its supervisors."""

    id: Id
    name: Name
    supervisors: list[PersonConfig] = []
    grids: list[GridConfig]


class TownConfig(_Model):
    """A town or street office (街道/镇) and its supervisors."""

    id: Id
    name: Name
    supervisors: list[PersonConfig] = []
    communities: list[CommunityConfig]


class DistrictConfig(_Model):
    """The district at the top of the ladder."""

    id: Id
    name: Name
    supervisors: list[PersonConfig] = []
    towns: list[TownConfig]


class DepartmentConfig(_Model):
    """A functional department requests can be handed to (吹哨报到), by category and area."""

    id: Id
    name: Name
    categories: list[str]
    areas: list[str]
    members: list[PersonConfig]

    @field_validator("members")
    @classmethod
    def _has_members(cls, members: list[PersonConfig]) -> list[PersonConfig]:
        if not members:
            raise ValueError(
                "this department has no members: add at least one, e.g. members: [{name: 值班}]"
            )
        return members


class WindowConfig(_Model):
    """How long a holder has to accept and to resolve a request."""

    acknowledge: DurationField
    resolve: DurationField


class SlaConfig(_Model):
    """Response windows by urgency, reminders, the escalation ladder and quiet hours."""

    urgent: WindowConfig
    normal: WindowConfig
    low: WindowConfig
    remind_at: float = 0.5
    escalation: list[Level] = ["community", "town", "district"]
    quiet_hours: str | None = None
    categories: dict[str, dict[UrgencyId, WindowConfig]] = {}

    @field_validator("remind_at")
    @classmethod
    def _remind_inside_window(cls, value: float) -> float:
        if not 0 < value < 1:
            raise ValueError(
                f"remind_at is {value}: write the share of a window after which the holder is "
                "reminded, a number between 0 and 1 (not included), e.g. 0.5"
            )
        return value

    @field_validator("escalation")
    @classmethod
    def _strictly_upward(cls, levels: list[Level]) -> list[Level]:
        ranks = [_LEVEL_ORDER[level] for level in levels]
        if any(b <= a for a, b in itertools.pairwise(ranks)):
            raise ValueError(
                f"escalation {levels} does not go strictly upward: list each level once, from "
                "low to high, e.g. [community, town, district]"
            )
        return levels

    @field_validator("quiet_hours", mode="before")
    @classmethod
    def _quiet_hours_format(cls, value: object) -> object:
        if value is not None and _parse_quiet_hours(value) is None:
            raise ValueError(
                f"quiet_hours {value!r} is not a time range: write it in quotes as "
                "'HH:MM-HH:MM' in the deployment's time zone, e.g. '22:00-07:30'"
            )
        return value

    @property
    def quiet_window(self) -> tuple[time, time] | None:
        """Quiet hours as (start, end) local times; end before start means past midnight."""
        return None if self.quiet_hours is None else _parse_quiet_hours(self.quiet_hours)

    def window(self, category: str, urgency: Urgency | str) -> WindowConfig:
        """The windows for a request: the category's override if any, else the urgency's."""
        level = Urgency(urgency).value
        for key, window in self.categories.get(category, {}).items():
            if key == level:
                return window
        return {"urgent": self.urgent, "normal": self.normal, "low": self.low}[level]


class LinkingConfig(_Model):
    """When a new request joins an open one as a duplicate (same grid and category)."""

    window: Duration = Duration.parse("1d")
    similarity: float = Field(default=0.3, gt=0, le=1)

    @field_validator("window", mode="before")
    @classmethod
    def _duration(cls, value: object) -> Duration:
        return _to_duration(value)


class CategoryConfig(_Model):
    """A category of the deployment's own taxonomy (replaces the default list when given)."""

    id: Id
    zh: Name
    en: str = ""
    department: str = ""


@dataclass(frozen=True, slots=True)
class AreaPath:
    """The chain of units above a grid, for alerts and department areas."""

    district_id: str
    town_id: str
    community_id: str
    grid_id: str

    @property
    def ids(self) -> tuple[str, str, str, str]:
        """The unit ids from the grid up to the district."""
        return (self.grid_id, self.community_id, self.town_id, self.district_id)

    def unit_id(self, kind: Literal["grid", "community", "town", "district"]) -> str:
        """The id of the unit of this kind on the path."""
        return {
            "grid": self.grid_id,
            "community": self.community_id,
            "town": self.town_id,
            "district": self.district_id,
        }[kind]


@dataclass(frozen=True, slots=True)
class StaffEntry:
    """One place a staff member holds: a person can hold several (worker and supervisor)."""

    key: str  # "<unit id>/<name>": stable across reloads while the file keeps both
    name: str
    role: Literal["worker", "supervisor", "department"]
    unit_kind: UnitKind
    unit_id: str
    telegram_id: int | None


@dataclass
class _Index:
    """Lookups derived from a loaded config, built on first use."""

    taxonomy: Taxonomy
    calendar: WorkCalendar
    buildings: dict[str, tuple[BuildingConfig, GridConfig]] = field(default_factory=dict)
    grids: dict[str, tuple[GridConfig, AreaPath]] = field(default_factory=dict)
    people: list[StaffEntry] = field(default_factory=list)
    people_by_key: dict[str, StaffEntry] = field(default_factory=dict)


class OrgConfig(_Model):
    """The whole organisation file of a deployment."""

    name: Name
    timezone: str = "Asia/Shanghai"
    language: Literal["zh", "en"] = "zh"
    sla: SlaConfig
    district: DistrictConfig
    departments: list[DepartmentConfig] = []
    categories: list[CategoryConfig] | None = Field(default=None, min_length=1)
    keywords: dict[str, Any] | None = None
    keywords_file: str | None = None
    # Models of the deployment's own (huying classify --train-urgency / --train-category),
    # instead of the shipped ones; "none" turns a model off and leaves its part to the keywords.
    urgency_model_file: str | None = None
    category_model_file: str | None = None
    # 民情日报告: when each supervisor and worker gets the morning digest (local time).
    digest_at: time = time(8, 0)
    linking: LinkingConfig = LinkingConfig()

    _source: Path = PrivateAttr(default=Path("<memory>"))
    _index: _Index | None = PrivateAttr(default=None)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone '{value}': use an IANA name such as Asia/Shanghai"
            ) from None
        return value

    @property
    def source(self) -> Path:
        """The file this config was loaded from; relative paths in it are relative to it."""
        return self._source

    def keywords_path(self) -> Path | None:
        """Where keywords_file points, resolved against the organisation file's folder."""
        if self.keywords_file is None:
            return None
        return self._source.parent / self.keywords_file

    def model_path(self, which: Literal["urgency", "category"]) -> Path | None:
        """Where urgency_model_file or category_model_file points, resolved against the
        organisation file's folder (None: the shipped model; see model_off)."""
        name = self._model_file(which)
        if name is None or self.model_off(which):
            return None
        return self._source.parent / name

    def model_off(self, which: Literal["urgency", "category"]) -> bool:
        return (self._model_file(which) or "").strip().lower() == "none"

    def _model_file(self, which: Literal["urgency", "category"]) -> str | None:
        return self.urgency_model_file if which == "urgency" else self.category_model_file

    def taxonomy(self) -> Taxonomy:
        """The categories in use: the file's own list, or the defaults of routing.taxonomy."""
        return self._idx().taxonomy

    def calendar(self) -> WorkCalendar:
        """The working-day calendar in the deployment's time zone."""
        return self._idx().calendar

    def building(self, code: str) -> BuildingConfig | None:
        """The building with this code, ignoring case (residents type codes by hand)."""
        found = self._idx().buildings.get(code.strip().casefold())
        return found[0] if found else None

    def grid_of_building(self, code: str) -> GridConfig | None:
        """The grid holding the building with this code."""
        found = self._idx().buildings.get(code.strip().casefold())
        return found[1] if found else None

    def grid(self, grid_id: str) -> GridConfig | None:
        """The grid with this id."""
        found = self._idx().grids.get(grid_id)
        return found[0] if found else None

    def area_path(self, grid_id: str) -> AreaPath:
        """The units above a grid; KeyError for an unknown grid id."""
        found = self._idx().grids.get(grid_id)
        if found is None:
            raise KeyError(f"no grid '{grid_id}' in {self._source.name}")
        return found[1]

    def all_people(self) -> list[StaffEntry]:
        """Every worker, supervisor and department member, in file order."""
        return list(self._idx().people)

    def person(self, key: str) -> StaffEntry | None:
        """The staff entry with this key ("<unit id>/<name>")."""
        return self._idx().people_by_key.get(key)

    def people_in(self, unit_id: str) -> list[StaffEntry]:
        """The workers, supervisors or members of one unit."""
        return [p for p in self._idx().people if p.unit_id == unit_id]

    def departments_for(self, category: str, grid_id: str) -> list[DepartmentConfig]:
        """Departments that take this category in an area containing the grid."""
        area = set(self.area_path(grid_id).ids)
        return [d for d in self.departments if category in d.categories and area & set(d.areas)]

    def _idx(self) -> _Index:
        """The lookups, built on first use; the model is frozen, so they never go stale."""
        if self._index is None:
            self._index = _build_index(self)
        return self._index


def _build_index(config: OrgConfig) -> _Index:
    """Walk the tree once; on duplicates (only possible without the loader) the first wins."""
    index = _Index(
        taxonomy=_taxonomy_of(config.categories), calendar=WorkCalendar(config.timezone)
    )

    def add_people(
        people: list[PersonConfig],
        role: Literal["worker", "supervisor", "department"],
        kind: UnitKind,
        unit_id: str,
    ) -> None:
        for person in people:
            entry = StaffEntry(
                f"{unit_id}/{person.name}", person.name, role, kind, unit_id, person.telegram_id
            )
            index.people.append(entry)
            index.people_by_key.setdefault(entry.key, entry)

    district = config.district
    add_people(district.supervisors, "supervisor", "district", district.id)
    for town in district.towns:
        add_people(town.supervisors, "supervisor", "town", town.id)
        for community in town.communities:
            add_people(community.supervisors, "supervisor", "community", community.id)
            for grid in community.grids:
                add_people(grid.workers, "worker", "grid", grid.id)
                path = AreaPath(district.id, town.id, community.id, grid.id)
                index.grids.setdefault(grid.id, (grid, path))
                for building in grid.buildings:
                    index.buildings.setdefault(building.code.casefold(), (building, grid))
    for department in config.departments:
        add_people(department.members, "department", "department", department.id)
    return index


def _taxonomy_of(categories: list[CategoryConfig] | None) -> Taxonomy:
    """Build the taxonomy; blank en/department of a default id keep the default's text."""
    if categories is None:
        return Taxonomy()
    defaults = {c.id: c for c in DEFAULT_CATEGORIES}
    built = []
    for c in categories:
        default = defaults.get(c.id)
        en = c.en or (default.en if default else c.zh)
        department = c.department or (default.department if default else "")
        built.append(Category(c.id, c.zh, en, department))
    return Taxonomy(tuple(built))


def _parse_quiet_hours(value: object) -> tuple[time, time] | None:
    """Parse 'HH:MM-HH:MM' into two times, or None when it is not one."""
    if not isinstance(value, str):
        return None
    match = _QUIET_RE.match(value)
    if match is None:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) == (h2, m2):
        return None
    return time(h1, m1), time(h2, m2)


# --- errors ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in the file: where, what, and (unless `message` says it) the fix."""

    loc: Loc
    message: str
    hint: str = ""
    line: int | None = None

    @property
    def place(self) -> str:
        """The YAML path, e.g. district.towns[0].communities[1].grids[0].workers[0]."""
        return _place(self.loc)

    def render(self, file: str) -> str:
        """The problem as one line: `file[:line]: place: message. hint`."""
        where = f"{file}:{self.line}" if self.line is not None else file
        parts = [where, self.place] if self.loc else [where]
        text = self.message + (f". {self.hint}" if self.hint else "")
        return ": ".join([*parts, text])


class ConfigError(Exception):
    """The organisation file cannot be used; the message lists every problem, one per line."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        super().__init__("\n".join(p.render(file) for p in problems))


def _place(loc: Loc) -> str:
    """A location as a YAML path: district.towns[0].communities[1]."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# --- loading -----------------------------------------------------------------------------------


def load_org_config(path: str | Path) -> OrgConfig:
    """Read and check an organisation file; ConfigError lists everything wrong with it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), [Problem((), "no such file", _MISSING_FILE_HINT)]) from None
    except IsADirectoryError:
        raise ConfigError(
            str(path), [Problem((), "this is a folder, not a file", _MISSING_FILE_HINT)]
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            str(path), [Problem((), "the file is not UTF-8 text", "Save it as UTF-8.")]
        ) from None
    except OSError as error:
        raise ConfigError(
            str(path),
            [Problem((), f"cannot read the file ({error.strerror})", "Check its permissions.")],
        ) from None
    return parse_org_config(text, source=path)


_MISSING_FILE_HINT = (
    "Check the path (HUYING_CONFIG); bot/data/taibaihu.yaml is an example to start from"
)


def parse_org_config(text: str, source: str | Path = "<memory>") -> OrgConfig:
    """Check an organisation file's text; `source` names it in errors and anchors paths."""
    source = Path(source)
    file = str(source)
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        what = getattr(error, "problem", None) or str(error)
        raise ConfigError(
            file,
            [
                Problem(
                    (),
                    f"not valid YAML ({what})",
                    "Fix the syntax there: check the indentation, and quote values "
                    "containing ': ' or ' #'",
                    None if mark is None else mark.line + 1,
                )
            ],
        ) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        found = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ConfigError(
            file,
            [
                Problem(
                    (),
                    f"expected a mapping with the keys name, sla and district, found {found}",
                    "Start from bot/data/taibaihu.yaml",
                )
            ],
        )

    problems = _duplicate_keys(root, ())
    config: OrgConfig | None = None
    try:
        config = OrgConfig.model_validate(data)
    except ValidationError as error:
        problems += [_from_pydantic(e) for e in error.errors(include_url=False)]
    base = None if file == "<memory>" else source.parent
    if config is not None:
        config._source = source
        problems += _cross_check(_Sections.of(config), base)
    else:
        problems += _cross_check(_Sections.salvage(data), base)
    if problems:
        located = [_locate(p, root) for p in problems]
        located.sort(key=lambda p: (p.line is None, p.line or 0))
        raise ConfigError(file, located)
    assert config is not None  # no problems means pydantic succeeded
    return config


# --- checks pydantic cannot do -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Sections:
    """The parts of the file the cross-checks read; None where a part failed validation."""

    district: DistrictConfig | None
    departments: list[DepartmentConfig] | None
    categories: list[CategoryConfig] | None
    categories_valid: bool
    sla_categories: list[str]
    keywords_file: str | None

    @classmethod
    def of(cls, config: OrgConfig) -> _Sections:
        return cls(
            config.district,
            config.departments,
            config.categories,
            True,
            list(config.sla.categories),
            config.keywords_file,
        )

    @classmethod
    def salvage(cls, data: dict[str, Any]) -> _Sections:
        """Validate sections one by one, so one shape error does not hide other problems."""

        def valid(kind: Any, key: str, default: Any = None) -> tuple[bool, Any]:
            try:
                return True, TypeAdapter(kind).validate_python(data.get(key, default))
            except ValidationError:
                return False, None

        sla = data.get("sla")
        overrides = sla.get("categories") if isinstance(sla, dict) else None
        keywords_file = data.get("keywords_file")
        categories_valid, categories = valid(list[CategoryConfig] | None, "categories")
        return cls(
            valid(DistrictConfig, "district")[1],
            valid(list[DepartmentConfig], "departments", [])[1],
            categories,
            categories_valid,
            [k for k in overrides if isinstance(k, str)] if isinstance(overrides, dict) else [],
            keywords_file if isinstance(keywords_file, str) else None,
        )


def _cross_check(parts: _Sections, base: Path | None) -> list[Problem]:
    """Problems that need the whole file: uniqueness and references between sections."""
    problems: list[Problem] = []
    units = list(_units(parts))

    seen_ids: dict[str, Loc] = {}
    for loc, _, unit_id, _ in units:
        if unit_id in seen_ids:
            problems.append(
                Problem(
                    (*loc, "id"),
                    f"id '{unit_id}' is already used at {_place(seen_ids[unit_id])}",
                    "Give every district, town, community, grid and department its own id",
                )
            )
        else:
            seen_ids[unit_id] = loc

    seen_codes: dict[str, Loc] = {}
    for loc, _, _, unit in units:
        if not isinstance(unit, GridConfig):
            continue
        for i, building in enumerate(unit.buildings):
            code = building.code.casefold()
            here: Loc = (*loc, "buildings", i, "code")
            if code in seen_codes:
                problems.append(
                    Problem(
                        here,
                        f"building code '{building.code}' is already used at "
                        f"{_place(seen_codes[code])}",
                        "Give every building its own code (codes are compared ignoring case)",
                    )
                )
            else:
                seen_codes[code] = here

    for loc, _, _, unit in units:
        problems += _people_problems(loc, unit)

    taxonomy: Taxonomy | None = None
    if parts.categories_valid:
        taxonomy = _taxonomy_of(parts.categories)
        problems += _category_problems(parts.categories)
    hint = _category_hint(parts.categories, taxonomy)

    area_ids = [unit_id for _, kind, unit_id, _ in units if kind != "department"]
    department_ids = {unit_id for _, kind, unit_id, _ in units if kind == "department"}
    for d, department in enumerate(parts.departments or []):
        for i, category in enumerate(department.categories):
            if taxonomy is not None and category not in taxonomy:
                problems.append(
                    Problem(
                        ("departments", d, "categories", i), f"unknown category '{category}'", hint
                    )
                )
        for i, area in enumerate(department.areas):
            if parts.district is not None and area not in area_ids:
                problems.append(
                    Problem(
                        ("departments", d, "areas", i),
                        f"'{area}' is a department, not an area"
                        if area in department_ids
                        else f"unknown area '{area}'",
                        "Use the id of the district, a town, a community or a grid defined "
                        f"in this file (known: {_some(area_ids)})",
                    )
                )

    for category in parts.sla_categories:
        if taxonomy is not None and category not in taxonomy:
            problems.append(
                Problem(("sla", "categories", category), f"unknown category '{category}'", hint)
            )

    keywords_file = parts.keywords_file
    if base is not None and keywords_file is not None and not (base / keywords_file).is_file():
        problems.append(
            Problem(
                ("keywords_file",),
                f"no file '{keywords_file}' next to this file",
                f"Write the path relative to this file's folder ({base}), or remove the key",
            )
        )
    return problems


def _people_problems(loc: Loc, unit: BaseModel) -> list[Problem]:
    """The same name or Telegram id twice in one unit (across units is fine)."""
    problems: list[Problem] = []
    people_key, people = _people_of(unit)
    names: set[str] = set()
    telegram_ids: set[int] = set()
    for i, person in enumerate(people):
        if person.name in names:
            problems.append(
                Problem(
                    (*loc, people_key, i, "name"),
                    f"'{person.name}' is listed twice here",
                    "List each person once per unit; add a distinguishing mark to two "
                    "different people with the same name, e.g. 陈亮(大)",
                )
            )
        names.add(person.name)
        if person.telegram_id is not None and person.telegram_id in telegram_ids:
            problems.append(
                Problem(
                    (*loc, people_key, i, "telegram_id"),
                    f"telegram_id {person.telegram_id} is given to two people here",
                    "Each person has their own Telegram id; leave it out to bind the person "
                    "with an invite link instead",
                )
            )
        if person.telegram_id is not None:
            telegram_ids.add(person.telegram_id)
    return problems


def _category_problems(categories: list[CategoryConfig] | None) -> list[Problem]:
    """A category id defined twice in the file's own taxonomy."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, category in enumerate(categories or []):
        if category.id in seen:
            problems.append(
                Problem(
                    ("categories", i, "id"),
                    f"category '{category.id}' is defined twice",
                    "Keep one definition per category id",
                )
            )
        seen.add(category.id)
    return problems


def _units(parts: _Sections) -> Iterator[tuple[Loc, UnitKind, str, BaseModel]]:
    """Every unit with its place in the file, its kind and its id, in file order."""
    district = parts.district
    if district is not None:
        yield ("district",), "district", district.id, district
        for t, town in enumerate(district.towns):
            town_loc: Loc = ("district", "towns", t)
            yield town_loc, "town", town.id, town
            for c, community in enumerate(town.communities):
                community_loc: Loc = (*town_loc, "communities", c)
                yield community_loc, "community", community.id, community
                for g, grid in enumerate(community.grids):
                    yield (*community_loc, "grids", g), "grid", grid.id, grid
    for d, department in enumerate(parts.departments or []):
        yield ("departments", d), "department", department.id, department


def _people_of(unit: BaseModel) -> tuple[str, list[PersonConfig]]:
    """The key under which a unit lists its people, and the people."""
    if isinstance(unit, GridConfig):
        return "workers", unit.workers
    if isinstance(unit, DepartmentConfig):
        return "members", unit.members
    assert isinstance(unit, CommunityConfig | TownConfig | DistrictConfig)
    return "supervisors", unit.supervisors


def _category_hint(categories: list[CategoryConfig] | None, taxonomy: Taxonomy | None) -> str:
    """Which category ids may be used, for messages about unknown ones."""
    where = (
        "the categories list of this file" if categories is not None else "the default taxonomy"
    )
    ids = ", ".join(taxonomy.ids) if taxonomy is not None else ""
    return f"Use a category id from {where}: {ids}"


def _some(ids: list[str], limit: int = 12) -> str:
    """A readable list of ids, cut short when long."""
    shown = ", ".join(ids[:limit])
    return shown + (", ..." if len(ids) > limit else "")


# --- translating pydantic's errors -------------------------------------------------------------


_EXAMPLES: dict[str, str] = {
    "name": "name: 颂运水庭社区",
    "id": "id: songyun",
    "sla": "sla: {urgent: {acknowledge: 15m, resolve: 4h}, normal: ..., low: ...}",
    "district": "district: {id: taibaihu, name: 太白湖新区, towns: [...]}",
    "towns": "towns: [{id: xuzhuang, name: 许庄街道, communities: [...]}]",
    "communities": "communities: [{id: songyun, name: 颂运水庭社区, grids: [...]}]",
    "grids": "grids: [{id: songyun-1, name: 颂运水庭第一网格, workers: [...], buildings: [...]}]",
    "workers": "workers: [{name: 陈亮, telegram_id: 100001}]",
    "members": "members: [{name: 供水客服}]",
    "buildings": "buildings: [{code: SY-1, name: 1号楼, households: 36}]",
    "code": "code: SY-1",
    "categories": "categories: [utilities]",
    "areas": "areas: [taibaihu]",
    "urgent": "urgent: {acknowledge: 15m, resolve: 4h}",
    "normal": "normal: {acknowledge: 2h, resolve: 1d}",
    "low": "low: {acknowledge: 1wd, resolve: 5wd}",
    "acknowledge": "acknowledge: 2h",
    "resolve": "resolve: 1d",
    "zh": "zh: 物业维修",
}

_TOP_EXAMPLES: dict[str, str] = {
    "name": "name: 太白湖新区网格化服务",
    "sla": _EXAMPLES["sla"],
    "district": _EXAMPLES["district"],
}

_KINDS: dict[str, tuple[str, str]] = {
    # pydantic error type: (what was expected, how to write it)
    "string_type": ("text", "Put it in quotes if it looks like a number or a date, e.g. '101'"),
    "int_type": ("a whole number", "Write digits only, e.g. 36"),
    "int_parsing": ("a whole number", "Write digits only, e.g. 36"),
    "int_from_float": ("a whole number", "Write digits only, e.g. 36"),
    "float_type": ("a number", "Write a number, e.g. 0.5"),
    "float_parsing": ("a number", "Write a number, e.g. 0.5"),
    "list_type": ("a list", "Write [a, b] or one '- item' per line"),
    "dict_type": ("a mapping", "Write 'key: value' pairs, indented under this key"),
    "model_type": ("a mapping", "Write 'key: value' pairs, indented under this key"),
    "model_attributes_type": ("a mapping", "Write 'key: value' pairs, indented under this key"),
}


def _from_pydantic(error: Mapping[str, Any]) -> Problem:
    """One pydantic error as a Problem with a plain-English fix."""
    loc: Loc = tuple(error["loc"])
    kind: str = error["type"]
    given = _short(error.get("input"))
    if kind == "missing":
        key = str(loc[-1])
        is_person = len(loc) >= 3 and loc[-3] in ("workers", "supervisors", "members")
        if is_person:
            example: str | None = "{name: 陈亮, telegram_id: 100001}"
        elif len(loc) == 1:
            example = _TOP_EXAMPLES.get(key)
        else:
            example = _EXAMPLES.get(key)
        hint = f"Add it, e.g. {example}" if example else f"Add the key '{key}'"
        where = "" if len(loc) > 1 else " at the top level"
        return Problem(loc[:-1], f"'{key}' is missing{where}", hint)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"Did you mean '{close[0]}'? " if close else "Check the spelling. "
        hint += f"Keys allowed here: {', '.join(allowed)}" if allowed else ""
        return Problem(loc, f"unknown key '{key}'", hint.strip())
    if loc and loc[-1] == "[key]":
        expected = error.get("ctx", {}).get("expected", "")
        return Problem(loc[:-1], f"unknown key '{loc[-2]}'", f"Use {expected}")
    if kind == "value_error":
        return Problem(loc, str(error["ctx"]["error"]))
    if kind == "literal_error":
        return Problem(loc, f"{given} is not allowed", f"Use {error['ctx']['expected']}")
    if kind in _KINDS:
        expected, hint = _KINDS[kind]
        if error.get("input") is None:  # `key:` with nothing after it
            return Problem(loc, "has no value", f"Write {expected} after the colon")
        return Problem(loc, f"expected {expected}, found {given}", hint)
    ctx = error.get("ctx", {})
    if kind == "greater_than":
        return Problem(loc, f"{given} is too small", f"Use a number greater than {ctx['gt']}")
    if kind == "greater_than_equal":
        return Problem(loc, f"{given} is too small", f"Use {ctx['ge']} or more")
    if kind == "too_short":
        return Problem(
            loc,
            f"needs at least {ctx['min_length']} item",
            "Add items, or leave the key out to use the default",
        )
    return Problem(loc, f"{given}: {error['msg']}", "Correct the value")


def _short(value: object) -> str:
    """A value as quoted in messages: short, and lists and mappings by kind only."""
    text = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _allowed_keys(loc: Loc) -> list[str]:
    """The keys of the section at `loc`, for 'did you mean'."""
    current: Any = OrgConfig
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            if not isinstance(part, str) or part not in current.model_fields:
                return []
            current = current.model_fields[part].annotation
        elif get_origin(current) in (list, dict):
            current = get_args(current)[-1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """Strip Optional and Annotated down to the type that holds keys or items."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    return annotation


# --- YAML positions ----------------------------------------------------------------------------


def _locate(problem: Problem, root: yaml.Node | None) -> Problem:
    """The problem with the line of its place in the file, as far as the place exists."""
    if root is None or problem.line is not None:
        return problem
    node = root
    for part in problem.loc:
        child = _child(node, part)
        if child is None:
            break
        node = child
    return Problem(problem.loc, problem.message, problem.hint, node.start_mark.line + 1)


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    """The node under a mapping key or at a list index, if the file has it."""
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                return value  # type: ignore[no-any-return]
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]  # type: ignore[no-any-return]
    return None


def _duplicate_keys(
    node: yaml.Node | None, loc: Loc, seen: set[int] | None = None
) -> list[Problem]:
    """Keys written twice in one mapping: YAML would silently keep only the last."""
    seen = set() if seen is None else seen
    if node is None or id(node) in seen:  # aliases may point back up the tree
        return []
    seen.add(id(node))
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name is not None and name in keys:
                problems.append(
                    Problem(
                        (*loc, name),
                        f"'{name}' is written twice here",
                        "Keep one of them; YAML would silently use the last",
                        key.start_mark.line + 1,
                    )
                )
            if name is not None:
                keys.add(name)
            problems += _duplicate_keys(value, (*loc, name if name is not None else "?"), seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += _duplicate_keys(item, (*loc, i), seen)
    return problems
