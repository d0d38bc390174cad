"""The organisation file: the shipped example loads, lookups work, mistakes are explained."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from routing.orgconfig import (
    AreaPath,
    ConfigError,
    OrgConfig,
    StaffEntry,
    load_org_config,
    parse_org_config,
)
from routing.sla import Duration
from routing.taxonomy import Urgency

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "bot" / "data" / "taibaihu.yaml"
REFERENCE = Path("/work/shared/examples/taibaihu.yaml")
EXAMPLE = SHIPPED.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def org() -> OrgConfig:
    return load_org_config(SHIPPED)


def write(tmp_path: Path, text: str, name: str = "org.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def variant(old: str, new: str, base: str = EXAMPLE) -> str:
    """The example with one edit; fails loudly if the example no longer has `old`."""
    assert base.count(old) == 1, f"{old!r} should occur once in the example"
    return base.replace(old, new)


def error_for(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text, "broken-org.yaml")
    with pytest.raises(ConfigError) as caught:
        load_org_config(path)
    return str(caught.value)


def line_of(text: str, fragment: str) -> int:
    """The 1-based line of the first occurrence of `fragment`."""
    return text[: text.index(fragment)].count("\n") + 1


# --- the shipped example -----------------------------------------------------------------


def test_shipped_example_is_a_byte_copy_of_the_reference() -> None:
    if not REFERENCE.exists():
        pytest.skip("the shared reference is not present in this checkout")
    assert SHIPPED.read_bytes() == REFERENCE.read_bytes()


@pytest.mark.parametrize("path", [SHIPPED, REFERENCE], ids=["shipped", "reference"])
def test_example_loads_with_its_whole_organisation(path: Path) -> None:
    if not path.exists():
        pytest.skip("the shared reference is not present in this checkout")
    org = load_org_config(path)
    towns = org.district.towns
    communities = [c for t in towns for c in t.communities]
    grids = [g for c in communities for g in c.grids]
    buildings = [b for g in grids for b in g.buildings]
    # the brief said 8 buildings; the file holds 9 (SY-1..4, MD-1..3, SQ-A, SQ-B)
    assert (len(towns), len(communities), len(grids), len(buildings)) == (2, 3, 4, 9)
    assert len(org.departments) == 3
    assert org.name == "太白湖新区网格化服务"
    assert org.source == path
    assert org.sla.low.resolve == Duration.parse("5wd")
    assert org.sla.escalation == ["community", "town", "district"]
    assert org.sla.remind_at == 0.5


def test_example_uses_the_default_taxonomy(org: OrgConfig) -> None:
    assert org.categories is None
    assert "property_repair" in org.taxonomy()
    assert org.taxonomy().zh("noise") == "噪音扰民"


def test_calendar_is_in_the_deployment_zone(org: OrgConfig) -> None:
    assert str(org.calendar().zone) == "Asia/Shanghai"
    assert org.calendar() is org.calendar()


# --- lookups -----------------------------------------------------------------------------


def test_building_lookup_ignores_case(org: OrgConfig) -> None:
    building = org.building("sy-3")
    assert building is not None
    assert (building.code, building.name, building.households) == ("SY-3", "3号楼", 48)
    assert org.building(" SQ-a ") is not None
    assert org.building("SY-9") is None


def test_grid_of_building(org: OrgConfig) -> None:
    grid = org.grid_of_building("md-2")
    assert grid is not None and grid.id == "mingde-1"
    assert org.grid_of_building("nope") is None


def test_area_path_names_every_level(org: OrgConfig) -> None:
    assert org.area_path("shiqiao-1") == AreaPath(
        "taibaihu", "shiqiao", "shiqiao-village", "shiqiao-1"
    )
    assert org.area_path("songyun-2").unit_id("community") == "songyun"
    with pytest.raises(KeyError):
        org.area_path("songyun-9")


def test_all_people_have_stable_keys(org: OrgConfig) -> None:
    people = org.all_people()
    keys = [p.key for p in people]
    assert len(people) == 13 and len(set(keys)) == 13
    assert {"songyun-1/陈亮", "songyun/刘敏", "taibaihu/陈燕", "water-company/供水客服"} <= set(
        keys
    )
    assert org.person("songyun-1/陈亮") == StaffEntry(
        "songyun-1/陈亮", "陈亮", "worker", "grid", "songyun-1", 100001
    )
    assert org.person("songyun/刘敏") == StaffEntry(
        "songyun/刘敏", "刘敏", "supervisor", "community", "songyun", 700001
    )
    assert org.person("xuzhuang-police/值班民警") == StaffEntry(
        "xuzhuang-police/值班民警",
        "值班民警",
        "department",
        "department",
        "xuzhuang-police",
        600003,
    )


def test_people_in_a_unit(org: OrgConfig) -> None:
    assert [p.name for p in org.people_in("xuzhuang")] == ["王强"]


def test_departments_for_a_category_in_a_grid(org: OrgConfig) -> None:
    assert [d.id for d in org.departments_for("utilities", "shiqiao-1")] == ["water-company"]
    assert [d.id for d in org.departments_for("noise", "songyun-1")] == ["xuzhuang-police"]
    assert org.departments_for("noise", "shiqiao-1") == []
    assert [d.id for d in org.departments_for("property_repair", "songyun-2")] == [
        "songyun-property"
    ]


def test_telegram_id_may_be_left_out(tmp_path: Path) -> None:
    text = variant("{name: 赵磊, telegram_id: 100002}", "{name: 赵磊}")
    org = load_org_config(write(tmp_path, text))
    assert org.person("songyun-2/赵磊") is not None
    assert org.person("songyun-2/赵磊").telegram_id is None  # type: ignore[union-attr]


def test_one_person_may_be_worker_and_supervisor(tmp_path: Path) -> None:
    # 刘敏 also holds grid 1: same Telegram account in two different units.
    text = variant("{name: 陈亮, telegram_id: 100001}", "{name: 刘敏, telegram_id: 700001}")
    org = load_org_config(write(tmp_path, text))
    assert {p.key for p in org.all_people() if p.telegram_id == 700001} == {
        "songyun/刘敏",
        "songyun-1/刘敏",
    }


# --- SLA ---------------------------------------------------------------------------------


def test_window_by_urgency(org: OrgConfig) -> None:
    window = org.sla.window("sanitation", Urgency.URGENT)
    assert (str(window.acknowledge), str(window.resolve)) == ("15m", "4h")
    assert str(org.sla.window("sanitation", "low").resolve) == "5wd"


def test_per_category_override(tmp_path: Path) -> None:
    text = variant(
        "  escalation: [community, town, district]\n",
        "  escalation: [community, town, district]\n"
        "  categories:\n"
        "    utilities: {urgent: {acknowledge: 5m, resolve: 1h}}\n",
    )
    sla = load_org_config(write(tmp_path, text)).sla
    overridden = sla.window("utilities", "urgent")
    assert (str(overridden.acknowledge), str(overridden.resolve)) == ("5m", "1h")
    assert str(sla.window("utilities", "normal").resolve) == "1d"  # not overridden
    assert str(sla.window("noise", "urgent").acknowledge) == "15m"


def test_quiet_hours_parse(tmp_path: Path) -> None:
    text = variant(
        "  escalation: [community, town, district]\n",
        "  escalation: [community, town, district]\n  quiet_hours: 22:00-07:30\n",
    )
    sla = load_org_config(write(tmp_path, text)).sla
    assert sla.quiet_window == (time(22, 0), time(7, 30))


def test_escalation_may_skip_a_level(tmp_path: Path) -> None:
    text = variant("escalation: [community, town, district]", "escalation: [community, district]")
    assert load_org_config(write(tmp_path, text)).sla.escalation == ["community", "district"]


def test_durations_serialise_back_to_text(org: OrgConfig) -> None:
    assert org.model_dump()["sla"]["low"] == {"acknowledge": "1wd", "resolve": "5wd"}


# --- a deployment's own taxonomy ---------------------------------------------------------

CUSTOM_CATEGORIES = """
categories:
  - {id: property_repair, zh: 房屋维修}
  - {id: utilities, zh: 水电气暖}
  - {id: public_safety, zh: 平安建设}
  - {id: noise, zh: 噪音}
  - {id: parking_traffic, zh: 停车}
  - {id: elevator, zh: 电梯, en: Lifts, department: 特检院}
  - {id: other, zh: 其他}
"""


def test_own_categories_replace_the_defaults(tmp_path: Path) -> None:
    org = load_org_config(write(tmp_path, EXAMPLE + CUSTOM_CATEGORIES))
    taxonomy = org.taxonomy()
    assert taxonomy.ids == [
        "property_repair",
        "utilities",
        "public_safety",
        "noise",
        "parking_traffic",
        "elevator",
        "other",
    ]
    assert taxonomy.zh("property_repair") == "房屋维修"
    assert taxonomy.get("property_repair").en == "Property repair"  # kept from the defaults
    assert taxonomy.get("elevator").department == "特检院"
    assert "sanitation" not in taxonomy


def test_department_category_must_exist_in_own_taxonomy(tmp_path: Path) -> None:
    text = EXAMPLE + CUSTOM_CATEGORIES.replace("  - {id: noise, zh: 噪音}\n", "")
    message = error_for(tmp_path, text)
    assert "departments[2].categories[1]: unknown category 'noise'" in message
    assert "the categories list of this file" in message


# --- broken files ------------------------------------------------------------------------


BROKEN = [
    pytest.param(
        "id: mingde\n",
        "id: songyun\n",
        "district.towns[0].communities[1].id: id 'songyun' is already used at "
        "district.towns[0].communities[0]",
        "its own id",
        id="duplicate-community-id",
    ),
    pytest.param(
        "id: water-company",
        "id: shiqiao",
        "departments[1].id: id 'shiqiao' is already used at district.towns[1]",
        "its own id",
        id="department-id-clashes-with-town",
    ),
    pytest.param(
        "{code: SY-4,",
        "{code: sy-1,",
        "district.towns[0].communities[0].grids[1].buildings[1].code: building code 'sy-1' "
        "is already used",
        "ignoring case",
        id="duplicate-building-code",
    ),
    pytest.param(
        "{code: MD-3,",
        "{code: 明德3号,",
        "district.towns[0].communities[1].grids[0].buildings[2].code",
        "Latin letters",
        id="building-code-unfit-for-links",
    ),
    pytest.param(
        "workers: [{name: 周凯, telegram_id: 100004}]",
        "workers: []",
        "district.towns[1].communities[0].grids[0].workers: this grid has no workers",
        "add at least one",
        id="grid-without-workers",
    ),
    pytest.param(
        "{name: 赵磊, telegram_id: 100002}",
        "{telegram_id: 100002}",
        "district.towns[0].communities[0].grids[1].workers[0]: 'name' is missing",
        "Add it, e.g. {name: 陈亮, telegram_id: 100001}",
        id="worker-without-name",
    ),
    pytest.param(
        "{name: 赵磊, telegram_id: 100002}",
        "{name: '  ', telegram_id: 100002}",
        "district.towns[0].communities[0].grids[1].workers[0].name: the name is empty",
        "write the name",
        id="worker-with-blank-name",
    ),
    pytest.param(
        "{name: 物业值班, telegram_id: 600001}",
        "{name: '', telegram_id: 600001}",
        "departments[0].members[0].name: the name is empty",
        "write the name",
        id="member-without-name",
    ),
    pytest.param(
        "{name: 陈亮, telegram_id: 100001}",
        "{name: 陈亮, telegram_id: 100001}, {name: 张伟, telegram_id: 100001}",
        "district.towns[0].communities[0].grids[0].workers[1].telegram_id: telegram_id 100001 "
        "is given to two people here",
        "invite link",
        id="telegram-id-twice-in-one-grid",
    ),
    pytest.param(
        "{name: 陈亮, telegram_id: 100001}",
        "{name: 陈亮, telegram_id: 100001}, {name: 陈亮}",
        "district.towns[0].communities[0].grids[0].workers[1].name: '陈亮' is listed twice",
        "once per unit",
        id="same-name-twice-in-one-grid",
    ),
    pytest.param(
        "areas: [songyun]",
        "areas: [songyun-9]",
        "departments[0].areas[0]: unknown area 'songyun-9'",
        "Use the id of the district, a town, a community or a grid defined in this file "
        "(known: taibaihu, xuzhuang, songyun,",
        id="unknown-department-area",
    ),
    pytest.param(
        "areas: [taibaihu]",
        "areas: [xuzhuang-police]",
        "departments[1].areas[0]: 'xuzhuang-police' is a department, not an area",
        "Use the id of the district",
        id="department-as-area",
    ),
    pytest.param(
        "categories: [utilities]",
        "categories: [utility]",
        "departments[1].categories[0]: unknown category 'utility'",
        "Use a category id from the default taxonomy: property_repair, sanitation",
        id="unknown-department-category",
    ),
    pytest.param(
        "acknowledge: 2h,",
        "acknowledge: 2 hours,",
        "sla.normal.acknowledge: '2 hours' is not a duration",
        "write a number and a unit, e.g. 90s, 15m, 2h, 1d or 1wd (working days)",
        id="bad-duration",
    ),
    pytest.param(
        "resolve: 5wd}",
        "resolve: 5}",
        "sla.low.resolve: 5 is not a duration",
        "e.g. 90s, 15m, 2h, 1d or 1wd",
        id="duration-without-unit",
    ),
    pytest.param(
        "remind_at: 0.5",
        "remind_at: 1.5",
        "sla.remind_at: remind_at is 1.5",
        "between 0 and 1",
        id="remind-at-out-of-range",
    ),
    pytest.param(
        "remind_at: 0.5",
        "remind_at: 0",
        "sla.remind_at: remind_at is 0",
        "between 0 and 1",
        id="remind-at-zero",
    ),
    pytest.param(
        "escalation: [community, town, district]",
        "escalation: [town, community, district]",
        "sla.escalation: escalation ['town', 'community', 'district'] does not go strictly up",
        "e.g. [community, town, district]",
        id="escalation-downward",
    ),
    pytest.param(
        "escalation: [community, town, district]",
        "escalation: [community, community]",
        "sla.escalation: escalation",
        "list each level once",
        id="escalation-repeats",
    ),
    pytest.param(
        "escalation: [community, town, district]",
        "escalation: [community, street]",
        "sla.escalation[1]: 'street' is not allowed",
        "Use 'community', 'town' or 'district'",
        id="escalation-unknown-level",
    ),
    pytest.param(
        "timezone: Asia/Shanghai",
        "timezone: Asia/Jining",
        "timezone: unknown time zone 'Asia/Jining'",
        "IANA name such as Asia/Shanghai",
        id="unknown-timezone",
    ),
    pytest.param(
        "  escalation: [community, town, district]\n",
        "  escalation: [community, town, district]\n  quiet_hours: '22:00 to 7:30'\n",
        "sla.quiet_hours: quiet_hours '22:00 to 7:30' is not a time range",
        "e.g. '22:00-07:30'",
        id="quiet-hours-malformed",
    ),
    pytest.param(
        "  escalation: [community, town, district]\n",
        "  escalation: [community, town, district]\n  quiet_hours: 25:00-07:30\n",
        "sla.quiet_hours",
        "'HH:MM-HH:MM'",
        id="quiet-hours-impossible-time",
    ),
    pytest.param(
        "{name: 李浩洋, telegram_id: 100003}",
        "{name: 李浩洋, telegram_di: 100003}",
        "district.towns[0].communities[1].grids[0].workers[0].telegram_di: unknown key "
        "'telegram_di'",
        "Did you mean 'telegram_id'?",
        id="misspelt-key",
    ),
    pytest.param(
        "households: 36",
        "households: many",
        "district.towns[0].communities[0].grids[0].buildings[0].households: expected a whole "
        "number, found 'many'",
        "Write digits only",
        id="wrong-type",
    ),
    pytest.param(
        "buildings:\n                - {code: SQ-A,",
        "buildings:\n\n              unused:\n                - {code: SQ-A,",
        "district.towns[1].communities[0].grids[0].buildings: has no value",
        "Write a list after the colon",
        id="key-without-value",
    ),
    pytest.param(
        "{name: 马健, telegram_id: 800002}",
        "{name: 马健, telegram_id: 0}",
        "district.towns[1].supervisors[0].telegram_id: 0 is too small",
        "greater than 0",
        id="telegram-id-zero",
    ),
    pytest.param(
        "      communities:\n        - id: songyun\n",
        "      communities:\n        - id: songyun\n          id: songyun2\n",
        "district.towns[0].communities[0].id: 'id' is written twice here",
        "YAML would silently use the last",
        id="yaml-duplicate-key",
    ),
    pytest.param(
        "language: zh",
        "language: fr",
        "language: 'fr' is not allowed",
        "Use 'zh' or 'en'",
        id="unknown-language",
    ),
    pytest.param(
        "  escalation: [community, town, district]\n",
        "  escalation: [community, town, district]\n"
        "  categories:\n    lifts: {urgent: {acknowledge: 5m, resolve: 1h}}\n",
        "sla.categories.lifts: unknown category 'lifts'",
        "Use a category id from the default taxonomy",
        id="override-of-unknown-category",
    ),
    pytest.param(
        "  escalation: [community, town, district]\n",
        "  escalation: [community, town, district]\n"
        "  categories:\n    noise: {critical: {acknowledge: 5m, resolve: 1h}}\n",
        "sla.categories.noise.critical: unknown key 'critical'",
        "Use 'urgent', 'normal' or 'low'",
        id="override-of-unknown-urgency",
    ),
    pytest.param(
        "language: zh\n",
        "language: zh\nkeywords_file: keywords.yaml\n",
        "keywords_file: no file 'keywords.yaml' next to this file",
        "relative to this file's folder",
        id="keywords-file-missing",
    ),
    pytest.param(
        "name: 太白湖新区网格化服务\n",
        "",
        "broken-org.yaml:3: 'name' is missing at the top level",
        "Add it, e.g. name: 太白湖新区网格化服务",
        id="missing-top-level-key",
    ),
]


@pytest.mark.parametrize(("old", "new", "place_and_problem", "hint"), BROKEN)
def test_broken_file_is_explained(
    tmp_path: Path, old: str, new: str, place_and_problem: str, hint: str
) -> None:
    message = error_for(tmp_path, variant(old, new))
    assert "broken-org.yaml:" in message
    assert place_and_problem in message
    assert hint in message
    assert "Traceback" not in message and "pydantic" not in message.lower()


def test_problem_names_the_line(tmp_path: Path) -> None:
    text = variant("areas: [songyun]", "areas: [songyun-9]")
    message = error_for(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'broken-org.yaml'}:{line_of(text, 'songyun-9')}: ")


def test_every_problem_is_reported_one_per_line(tmp_path: Path) -> None:
    text = variant("areas: [songyun]", "areas: [songyun-9]")
    text = variant("remind_at: 0.5", "remind_at: 2", text)
    text = variant("language: zh", "language: fr", text)
    lines = error_for(tmp_path, text).splitlines()
    assert len(lines) == 3
    assert all(line.startswith(str(tmp_path / "broken-org.yaml")) for line in lines)
    # in file order, so the list reads top to bottom alongside the file
    assert [line.split(": ")[1] for line in lines] == [
        "language",
        "sla.remind_at",
        "departments[0].areas[0]",
    ]


def test_a_shape_error_in_one_section_does_not_hide_checks_of_another(tmp_path: Path) -> None:
    # departments fail validation; the district's duplicate code is still found
    text = variant("{code: SY-4,", "{code: sy-1,")
    text = variant("members: [{name: 供水客服, telegram_id: 600002}]", "members: 供水客服", text)
    lines = error_for(tmp_path, text).splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "district.towns[0].communities[0].grids[1].buildings[1].code",
        "departments[1].members",
    ]


def test_pydantic_and_cross_file_problems_keep_their_own_lines(tmp_path: Path) -> None:
    problems = []
    try:
        load_org_config(write(tmp_path, variant("households: 36", "households: -1")))
    except ConfigError as error:
        problems = error.problems
    assert [p.place for p in problems] == [
        "district.towns[0].communities[0].grids[0].buildings[0].households"
    ]
    assert problems[0].line == line_of(EXAMPLE, "households: 36")


@pytest.mark.parametrize(
    ("text", "problem", "hint"),
    [
        ("name: [unclosed\nsla: {\n", "not valid YAML", "check the indentation"),
        ("", "found an empty file", "Start from bot/data/taibaihu.yaml"),
        ("- a\n- b\n", "found a list", "Start from bot/data/taibaihu.yaml"),
        ("name: a\n---\nname: b\n", "not valid YAML", "check the indentation"),
    ],
    ids=["syntax-error", "empty", "not-a-mapping", "two-documents"],
)
def test_file_that_is_not_an_organisation(
    tmp_path: Path, text: str, problem: str, hint: str
) -> None:
    message = error_for(tmp_path, text)
    assert message.startswith(str(tmp_path / "broken-org.yaml"))
    assert problem in message and hint in message


def test_syntax_error_names_its_line(tmp_path: Path) -> None:
    text = "name: x\nsla:\n  urgent: {acknowledge: 15m\n  normal: 2h\n"
    message = error_for(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'broken-org.yaml'}:4: not valid YAML (")


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError) as caught:
        load_org_config(path)
    assert (
        str(caught.value) == f"{path}: no such file. Check the path (HUYING_CONFIG); "
        "bot/data/taibaihu.yaml is an example to start from"
    )


def test_parse_from_text_names_the_given_source() -> None:
    with pytest.raises(ConfigError, match=r"^inline\.yaml:1: not valid YAML"):
        parse_org_config("a: [", source="inline.yaml")
    assert parse_org_config(EXAMPLE).district.id == "taibaihu"
