"""Declaration row name → catalogue code, conservatively: a wrong automatic match is worse than none.

Steps, each tried only if the previous found nothing:
1. **exact**: the normalised name equals a catalogue name or alias;
2. **contains**: aliases (≥ 3 characters) found inside the name ("网格事件办结率达标情况"); an alias
   found inside a longer alias found at the same place does not count ("办结率" inside "正常办结率");
3. **fuzzy**: difflib ratio ≥ FUZZY_THRESHOLD against every alias.
If a step finds aliases of two unrelated indicators ("来穗人员登记率、注销率") the row stays unmapped
("ambiguous"): the user decides in the mapping file. Variants of one indicator (the 30- and
60-point quality scores share their names) are told apart by the declared target.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from metrics.catalogue import CATALOGUE, Indicator, units_compatible
from metrics.targets import Target

FUZZY_THRESHOLD = 0.85
MIN_CONTAINED_ALIAS = 3
_NUMBERED_PREFIX = re.compile(r"^(?:指标|目标)?\d+[:：、.]")
_NOT_WORD = re.compile(r"[^0-9a-z\u4e00-\u9fff]+")


@dataclass(frozen=True)
class Match:
    """The code found (or None) and how: exact | contains | fuzzy | ambiguous | none."""

    code: str | None
    method: str


def normalise_name(text: str | None) -> str:
    """Full-width folded, lower case, no "指标1：" numbering, no spaces or punctuation."""
    folded = unicodedata.normalize("NFKC", text or "").strip().lower()
    folded = _NUMBERED_PREFIX.sub("", re.sub(r"\s+", "", folded))
    return _NOT_WORD.sub("", folded)


@lru_cache(maxsize=1)
def _aliases() -> tuple[tuple[str, str], ...]:
    """(normalised alias, code) for every catalogue name and alias."""
    pairs = {(normalise_name(a), i.code) for i in CATALOGUE.values() for a in (i.name_zh, *i.aliases)}
    return tuple(sorted(p for p in pairs if p[0]))


def _family(code: str) -> str:
    return CATALOGUE[code].variant_of or code


def _fits(indicator: Indicator, target: Target) -> bool:
    if not units_compatible(indicator.unit, target.unit):
        return False
    return indicator.upper_bound is None or target.value is None or target.value <= indicator.upper_bound


def _resolve(codes: set[str], target: Target | None, method: str) -> Match:
    """One family → the variant whose range fits the target best; two families → ambiguous."""
    families = {_family(c) for c in codes}
    if len(families) != 1:
        return Match(None, "ambiguous")
    base = families.pop()
    if target is None or not target.is_numeric or len(codes) == 1:
        return Match(base if base in codes else min(codes), method)
    fitting = [CATALOGUE[c] for c in codes if _fits(CATALOGUE[c], target)]
    if not fitting:
        return Match(base, method)
    best = min(fitting, key=lambda i: (i.upper_bound is None, i.upper_bound or 0.0, i.variant_of is not None))
    return Match(best.code, method)


def _contained(name: str) -> set[str]:
    spans: list[tuple[int, int, str]] = []
    for alias, code in _aliases():
        if len(alias) < MIN_CONTAINED_ALIAS:
            continue
        start = name.find(alias)
        while start != -1:
            spans.append((start, start + len(alias), code))
            start = name.find(alias, start + 1)
    return {code for s, e, code in spans
            if not any(s2 <= s and e <= e2 and (e2 - s2) > (e - s) for s2, e2, _ in spans)}


def _fuzzy(name: str) -> set[str]:
    scored = [(difflib.SequenceMatcher(None, name, alias).ratio(), code) for alias, code in _aliases()]
    good = [(r, c) for r, c in scored if r >= FUZZY_THRESHOLD]
    if not good:
        return set()
    best = max(r for r, _ in good)
    return {c for r, c in good if r == best}


def match_indicator(name: str | None, target: Target | None = None, *, fuzzy: bool = True) -> Match:
    """The catalogue code for a declaration's 三级指标 text, or Match(None, …) when unsure.
    Without `fuzzy`, only the exact and contained steps (for longer text such as a row's description)."""
    normalised = normalise_name(name)
    if not normalised:
        return Match(None, "none")
    steps = (("exact", lambda: {code for alias, code in _aliases() if alias == normalised}),
             ("contains", lambda: _contained(normalised)), ("fuzzy", lambda: _fuzzy(normalised)))
    for method, find in steps if fuzzy else steps[:2]:
        codes = find()
        if codes:
            return _resolve(codes, target, method)
    return Match(None, "none")
