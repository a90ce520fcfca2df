"""An indicator's value for one scope and period, with what it was computed from."""

from __future__ import annotations

from dataclasses import dataclass


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
