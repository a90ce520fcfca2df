"""Budget execution (预算执行) as the user enters it: the platform has no ledger, so these numbers are typed in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BudgetExecution:
    """预算数 and 执行数 in 万元; `planned_rate` is the spending plan's percentage for the period, if any."""

    budget_wan: float | None
    executed_wan: float | None
    planned_rate: float | None = None

    @property
    def rate(self) -> float | None:
        """执行率 in percent; None unless both amounts are known and the budget is positive."""
        if self.budget_wan is None or self.executed_wan is None or self.budget_wan <= 0:
            return None
        return self.executed_wan / self.budget_wan * 100.0
