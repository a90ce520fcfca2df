"""The assessment rule (考核细则): items, points and the pay allocation as data, one file per year.

rule_2026.json is the default; GRIDOPS_ASSESSMENT_RULE points at a district's own file. The file is
checked whole before anything is computed: a rule with an error names the item and the problem, and
no score is produced from half a rule.

Item kinds:
- `target`: points × min(1, n / (target × share of the month on duty)), n from `source`
  (events_reported, visits_counted, app_days);
- `quality`: points × the worker's average event quality score / its maximum (indicators' quality rule);
- `ratio`: points × done / due, full points when nothing was due (on_time_handling, key_person_updates);
- `deduction`: `per` (negative) per record of `source` (overdue_events, rejected_visits), at most `cap`;
- `manual`: `per` per entry made by the street admin with a reason, at most `cap` (either sign).
The positive items sum to `max_points`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from server.config import get_settings

DEFAULT_RULE = Path(__file__).with_name("rule_2026.json")
SOURCES = {
    "target": {"events_reported", "visits_counted", "app_days"},
    "ratio": {"on_time_handling", "key_person_updates"},
    "deduction": {"overdue_events", "rejected_visits"},
    "quality": set(), "manual": set(),
}
STREET_WEIGHTS = {"headcount", "score"}


class RuleError(ValueError):
    """The rule file cannot be used; the message names the item and the problem."""


@dataclass(frozen=True)
class Item:
    code: str
    name_zh: str
    kind: str
    source: str | None = None
    points: Decimal = Decimal(0)  # the most a positive item gives
    target: Decimal | None = None
    per: Decimal | None = None  # deductions and manual items: points per record or entry
    cap: Decimal | None = None  # … and their total at most (same sign as per)


@dataclass(frozen=True)
class PayRule:
    street_weight: str  # headcount | score
    eligible: str  # full_time | all
    min_score: Decimal
    floor: Decimal  # × the street's mean share
    cap: Decimal
    text: str


@dataclass(frozen=True)
class AssessmentRule:
    version: str
    year: int
    name: str
    source: str
    source_zh: str  # the same for the sheet's footer ("" if the file has none)
    max_points: Decimal
    min_coverage: Decimal
    proration_text: str
    items: tuple[Item, ...]
    pay: PayRule

    def item(self, code: str) -> Item | None:
        return next((i for i in self.items if i.code == code), None)

    @property
    def manual_codes(self) -> list[str]:
        return [i.code for i in self.items if i.kind == "manual"]


def _dec(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RuleError(f"{what}: expected a number, got {value!r}")
    try:
        d = Decimal(str(value))
    except ArithmeticError as exc:
        raise RuleError(f"{what}: expected a number, got {value!r}") from exc
    if not d.is_finite():
        raise RuleError(f"{what}: expected a finite number, got {value!r}")
    return d


def _item(raw: Any, n: int, where: str, seen: set[str]) -> Item:
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: item #{n} is not an object")
    code = raw.get("code")
    label = f"{where}: item #{n} {code!r}"
    if not isinstance(code, str) or not code.isidentifier() or code in seen:
        raise RuleError(f"{label}: code must be a unique identifier")
    kind = raw.get("kind")
    if kind not in SOURCES:
        raise RuleError(f"{label}: unknown kind {kind!r}; known: {sorted(SOURCES)}")
    if not isinstance(raw.get("name_zh"), str) or not raw["name_zh"].strip():
        raise RuleError(f"{label}: name_zh is required")
    source = raw.get("source")
    if SOURCES[kind] and source not in SOURCES[kind]:
        raise RuleError(f"{label}: kind {kind} needs source in {sorted(SOURCES[kind])}, got {source!r}")
    item = Item(code=code, name_zh=raw["name_zh"], kind=kind, source=source)
    if kind in ("target", "quality", "ratio"):
        points = _dec(raw.get("points"), f"{label} points")
        if points <= 0:
            raise RuleError(f"{label}: points must be positive, got {points}")
        target = None
        if kind == "target":
            target = _dec(raw.get("target"), f"{label} target")
            if target <= 0:
                raise RuleError(f"{label}: target must be positive, got {target}")
        return Item(**{**item.__dict__, "points": points, "target": target})
    per, cap = _dec(raw.get("per"), f"{label} per"), _dec(raw.get("cap"), f"{label} cap")
    if per == 0 or (kind == "deduction" and per > 0):
        raise RuleError(f"{label}: per must be {'negative' if kind == 'deduction' else 'non-zero'}, got {per}")
    if (cap > 0) != (per > 0) or abs(cap) < abs(per):
        raise RuleError(f"{label}: cap {cap} must have the sign of per {per} and be at least as large")
    return Item(**{**item.__dict__, "per": per, "cap": cap})


def _pay(raw: Any, where: str) -> PayRule:
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: pay: expected an object")
    if raw.get("street_weight") not in STREET_WEIGHTS:
        raise RuleError(f"{where}: pay: street_weight must be one of {sorted(STREET_WEIGHTS)}")
    if raw.get("eligible") not in ("full_time", "all"):
        raise RuleError(f"{where}: pay: eligible must be full_time or all")
    floor, cap = _dec(raw.get("floor", 0), f"{where}: pay floor"), _dec(raw.get("cap", 1000), f"{where}: pay cap")
    if not 0 <= floor <= 1 <= cap:
        raise RuleError(f"{where}: pay: need 0 ≤ floor ≤ 1 ≤ cap (multiples of the mean share), got {floor}, {cap}")
    return PayRule(street_weight=raw["street_weight"], eligible=raw["eligible"],
                   min_score=_dec(raw.get("min_score", 0), f"{where}: pay min_score"), floor=floor, cap=cap,
                   text=str(raw.get("text", "")))


def parse(raw: Any, where: str) -> AssessmentRule:
    if not isinstance(raw, dict) or not isinstance(raw.get("items"), list) or not raw["items"]:
        raise RuleError(f"{where}: expected {{\"version\", \"year\", \"items\": [...], \"pay\": {{...}}}}")
    for key in ("version", "source"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise RuleError(f"{where}: {key} is required (text)")
    if not isinstance(raw.get("year"), int) or not 2000 <= raw["year"] <= 2100:
        raise RuleError(f"{where}: year must be a year, got {raw.get('year')!r}")
    seen: set[str] = set()
    items = []
    for n, entry in enumerate(raw["items"], 1):
        items.append(_item(entry, n, where, seen))
        seen.add(items[-1].code)
    max_points = _dec(raw.get("max_points"), f"{where}: max_points")
    total = sum((i.points for i in items), Decimal(0))
    if total != max_points:
        raise RuleError(f"{where}: the positive items sum to {total}, max_points is {max_points}")
    proration = raw.get("proration") or {}
    min_coverage = _dec(proration.get("min_coverage", 0), f"{where}: proration min_coverage")
    if not 0 <= min_coverage <= 1:
        raise RuleError(f"{where}: proration min_coverage must be 0–1, got {min_coverage}")
    return AssessmentRule(version=raw["version"], year=raw["year"], name=str(raw.get("name", "")),
                          source=raw["source"], source_zh=str(raw.get("source_zh", "")), max_points=max_points, min_coverage=min_coverage,
                          proration_text=str(proration.get("text", "")), items=tuple(items),
                          pay=_pay(raw.get("pay"), where))


@lru_cache(maxsize=4)
def load(path: str) -> AssessmentRule:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RuleError(f"{path}: {exc}") from exc
    return parse(raw, path)


def current_rule() -> AssessmentRule:
    return load(get_settings().assessment_rule or str(DEFAULT_RULE))
