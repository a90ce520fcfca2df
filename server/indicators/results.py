"""An indicator's value for one scope and period, with what it was computed from."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from server.areas import Scope

T = TypeVar("T")


@dataclass(frozen=True)
class Ratio:
    """numerator / denominator; value None means "no data" (never a fake 100 %)."""

    numerator: float
    denominator: float
    scale: float = 100.0  # percentages by default; 1.0 for per-worker averages

    @property
    def value(self) -> float | None:
        if not self.denominator:
            return None
        return round(self.numerator / self.denominator * self.scale, 4)


def under_each(scopes: Sequence[Scope], items: Iterable[tuple[str | None, T]]) -> dict[Scope, list[T]]:
    """The items whose code starts with each scope's prefix, from one pass per prefix length: testing
    every item against every scope costs grids × grids on a map of every grid of a city (10,000 ×
    10,000), this costs grids × levels. Items without a code belong to no scope."""
    lengths = {len(sc.prefix) for sc in scopes}
    index: dict[tuple[int, str], list[T]] = defaultdict(list)
    for key, item in items:
        if key:
            for n in lengths:
                if len(key) >= n:
                    index[n, key[:n]].append(item)
    return {sc: index.get((len(sc.prefix), sc.prefix), []) for sc in scopes}
