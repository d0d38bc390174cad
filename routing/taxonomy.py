"""The request categories and urgency levels, with the stable ids of shared/taxonomy.md."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Urgency(StrEnum):
    """How soon a request must be answered; the ids are a contract (reports, classify)."""

    URGENT = "urgent"
    NORMAL = "normal"
    LOW = "low"

    @property
    def zh(self) -> str:
        return {"urgent": "紧急", "normal": "一般", "low": "咨询"}[self.value]


@dataclass(frozen=True, slots=True)
class Category:
    """One request category: stable id, Chinese and English names, default department."""

    id: str
    zh: str
    en: str
    department: str


DEFAULT_CATEGORIES: tuple[Category, ...] = (
    Category("property_repair", "物业维修", "Property repair", "物业公司"),
    Category("sanitation", "环境卫生", "Sanitation", "环卫所"),
    Category("public_facilities", "市政设施", "Public facilities", "市政/城管"),
    Category("utilities", "水电气暖", "Water, power, gas, heating", "供水/供电/燃气/供热公司"),
    Category("noise", "噪音扰民", "Noise", "城管/派出所"),
    Category("parking_traffic", "停车交通", "Parking and traffic", "交警/物业公司"),
    Category("neighbor_dispute", "邻里纠纷", "Neighbour dispute", "社区调解委员会"),
    Category("public_safety", "治安消防", "Public safety and fire", "派出所/消防"),
    Category("hardship", "困难帮扶", "Hardship support", "民政/社保"),
    Category("illegal_construction", "违建占道", "Illegal construction", "城管执法"),
    Category("policy_inquiry", "政策咨询", "Policy inquiry", "便民服务中心"),
    Category("other", "其他", "Other", "社区居委会"),
)

FALLBACK_CATEGORY = "other"


class Taxonomy:
    """The categories a deployment uses: the defaults, optionally renamed, added or removed."""

    def __init__(self, categories: tuple[Category, ...] = DEFAULT_CATEGORIES) -> None:
        self.categories = categories
        self._by_id = {c.id: c for c in categories}

    def __contains__(self, category_id: object) -> bool:
        return category_id in self._by_id

    def get(self, category_id: str) -> Category:
        return self._by_id.get(category_id) or self._by_id.get(FALLBACK_CATEGORY) or Category(
            category_id, category_id, category_id, ""
        )

    def zh(self, category_id: str) -> str:
        return self.get(category_id).zh

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.categories]
