"""事件质量评分: a configurable per-event scoring rule, averaged per street and month.

The rule is data (quality_rule.json, or GRIDOPS_QUALITY_RULE pointing at another file): each
criterion names a check and its points; the default sums to 30, a 60-point rule is one file away.
An event's score is the sum of the points of the criteria it meets; the indicator (computed in
event_queries) is the average score of the events reported in a month, and over a longer period
the average of those months.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Float, Text, case, cast, func

from server.events.models import Event

DEFAULT_RULE = Path(__file__).with_name("quality_rule.json")
RULE_60 = Path(__file__).with_name("quality_rule_60.json")  # the same criteria on the 60-point scale

CHECKS: dict[str, Callable[[Any], ColumnElement[bool]]] = {
    "description_min_chars": lambda n: func.length(Event.description) >= int(n),
    "has_photo": lambda _: func.length(cast(Event.photos, Text())) > 2,  # the JSON text '[]' means none
    "gps_accuracy_max_m": lambda m: Event.gps_accuracy_m <= float(m),
    "has_address": lambda _: func.length(func.coalesce(Event.address, "")) > 0,
    "subcategory": lambda _: Event.category_code.contains("."),
}


@dataclass(frozen=True)
class Rule:
    max_points: float
    criteria: tuple[tuple[str, Any, float, str], ...]  # (check, value, points, label)


@lru_cache
def load_rule(path: str | None = None) -> Rule:
    raw = json.loads(Path(path or DEFAULT_RULE).read_text(encoding="utf-8"))
    criteria = []
    for c in raw["criteria"]:
        if c["check"] not in CHECKS:
            raise ValueError(f"quality rule: unknown check {c['check']!r}; known: {sorted(CHECKS)}")
        criteria.append((c["check"], c.get("value"), float(c["points"]), c.get("label", c["check"])))
    total = sum(c[2] for c in criteria)
    if abs(total - float(raw["max_points"])) > 1e-9:
        raise ValueError(f"quality rule: criteria sum to {total}, max_points is {raw['max_points']}")
    return Rule(float(raw["max_points"]), tuple(criteria))


def score_expression(rule: Rule) -> ColumnElement[float]:
    return sum((case((CHECKS[check](value), points), else_=0.0) for check, value, points, _ in rule.criteria),
               start=cast(0.0, Float))  # type: ignore[return-value]


def rules_hash(rules: list[Rule]) -> str:
    """A fingerprint of what the rules score (not of their files' layout): kept with the rollup's
    sums, which hold scores computed with them."""
    text = json.dumps([[r.max_points, [list(c[:3]) for c in r.criteria]] for r in rules], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
