"""奖励性绩效核定: a pool split into streets, then into workers, in yuan to the cent, summing exactly.

Arithmetic is exact (fractions of a cent) until the last step, the largest-remainder rule at cent
level: every share is first rounded down to the cent, then the cents left over go one each to the
shares that lost most in rounding; equal remainders go to the higher score, then the username in
alphabetical order (streets: the lower code). So the same frozen months always give the same table.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, TypeVar

from server.assessment.compute import WorkerScore
from server.assessment.rule import PayRule
from server.errors import InvalidInput

K = TypeVar("K", bound=Hashable)


@dataclass
class WorkerShare:
    worker_id: int
    username: str
    full_name: str
    street_code: str
    score: Decimal  # the month's total, or the months' average over a quarter
    coverage: Decimal  # months on duty (a quarter: up to 3)
    weight: Fraction  # score × time on duty of the months that count
    amount: Decimal = Decimal("0.00")
    note: str = ""


@dataclass
class StreetShare:
    street_code: str
    headcount: Fraction  # full-time workers, each by their time on duty
    amount: Decimal = Decimal("0.00")
    fixed: bool = False  # the amount came from the street pools file
    workers: list[WorkerShare] = field(default_factory=list)


def to_cents(amount: Decimal, what: str) -> int:
    if amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput(f"{what} {amount}: a non-negative amount in yuan with at most 2 decimals",
                           f"{what} {amount} 须为不小于0、最多两位小数的金额（元）", code="bad_amount")
    return int(amount * 100)


def largest_remainder(cents: int, shares: dict[K, Fraction], order: Callable[[K], Any]) -> dict[K, int]:
    """Cents per key, proportional to `shares` (exact fractions that sum to `cents`), summing to `cents`."""
    floors = {k: v.numerator // v.denominator for k, v in shares.items()}
    left = cents - sum(floors.values())
    for k in sorted(shares, key=lambda k: (-(shares[k] - floors[k]), order(k)))[:left]:
        floors[k] += 1
    return floors


def proportional(total: Fraction, weights: dict[K, Fraction]) -> dict[K, Fraction]:
    w = sum(weights.values(), Fraction(0))
    if w == 0:
        return {k: total / len(weights) for k in weights} if weights else {}
    return {k: total * v / w for k, v in weights.items()}


def clamp(total: Fraction, weights: dict[K, Fraction], lo: Fraction, hi: Fraction) -> dict[K, Fraction]:
    """Proportional shares, each held between lo and hi (lo ≤ total / n ≤ hi makes this always possible):
    those outside are fixed at the bound and the rest shared again among the others."""
    fixed: dict[K, Fraction] = {}
    for _ in range(len(weights) + 1):
        free = {k: v for k, v in weights.items() if k not in fixed}
        shares = proportional(total - sum(fixed.values(), Fraction(0)), free)
        low = {k for k, s in shares.items() if s < lo}
        high = {k for k, s in shares.items() if s > hi}
        if not low and not high:
            return {**fixed, **shares}
        # fix the side that is further out first; fixing both at once can overshoot the total
        if sum(lo - shares[k] for k in low) >= sum(shares[k] - hi for k in high):
            fixed.update({k: lo for k in low})
        else:
            fixed.update({k: hi for k in high})
    return {**fixed, **proportional(total - sum(fixed.values(), Fraction(0)),
                                    {k: v for k, v in weights.items() if k not in fixed})}


def _cents(c: int) -> Decimal:
    return (Decimal(c) / 100).quantize(Decimal("0.01"))


def shares(months: Sequence[list[WorkerScore]], rule: PayRule) -> list[StreetShare]:
    """Each street's workers and weights over the months of the period (amounts still zero)."""
    workers: dict[int, WorkerShare] = {}
    totals: dict[int, list[Decimal]] = {}
    headcount: dict[str, Fraction] = {}
    for rows in months:
        for r in rows:
            w = workers.setdefault(r.worker_id, WorkerShare(r.worker_id, r.username, r.full_name, r.street_code,
                                                            Decimal(0), Decimal(0), Fraction(0)))
            w.street_code = r.street_code  # the latest month's street
            if not r.assessed:
                w.note = w.note or "在岗不足，不参评"
                continue
            if rule.eligible == "full_time" and r.full_time is False:
                w.note = "兼职，不参与分配"
                continue
            w.coverage += r.coverage
            totals.setdefault(r.worker_id, []).append(r.total)
            headcount[r.street_code] = headcount.get(r.street_code, Fraction(0)) + Fraction(r.coverage)
            if r.total < rule.min_score:
                w.note = f"得分低于{rule.min_score}分，该月不参与分配"
                continue
            w.weight += Fraction(r.total) * Fraction(r.coverage)
    streets: dict[str, StreetShare] = {}
    for w in workers.values():
        if w.worker_id in totals:
            w.score = (sum(totals[w.worker_id], Decimal(0)) / len(totals[w.worker_id])).quantize(Decimal("0.01"))
        streets.setdefault(w.street_code, StreetShare(w.street_code, headcount.get(w.street_code, Fraction(0))))
        streets[w.street_code].workers.append(w)
    for s in streets.values():
        s.workers.sort(key=lambda w: (-w.weight, w.username))
    return sorted(streets.values(), key=lambda s: s.street_code)


def allocate(streets: list[StreetShare], pool: Decimal, rule: PayRule,
             street_pools: dict[str, Decimal] | None = None) -> list[StreetShare]:
    """Fill in the amounts: streets from the district pool (or the street pools file), then workers."""
    pool_cents = to_cents(pool, "pool")
    fixed = {code: to_cents(amount, f"street pool {code}") for code, amount in (street_pools or {}).items()}
    known = {s.street_code for s in streets}
    if unknown := sorted(set(fixed) - known):
        raise InvalidInput(f"street pools name streets with no assessed worker: {unknown}",
                           f"街道资金表中的街道无参评网格员：{unknown}", code="unknown_street")
    rest = pool_cents - sum(fixed.values())
    others = {s.street_code: (s.headcount if rule.street_weight == "headcount"
                              else sum((w.weight for w in s.workers), Fraction(0)))
              for s in streets if s.street_code not in fixed}
    if rest < 0 or (not others and rest != 0):
        raise InvalidInput(f"the street pools sum to {_cents(sum(fixed.values()))}, the pool is {pool}",
                           f"街道资金合计 {_cents(sum(fixed.values()))} 元与总额 {pool} 元不符", code="pools_mismatch")
    cents = {**fixed, **largest_remainder(rest, proportional(Fraction(rest), others), lambda code: code)}
    for s in streets:
        s.fixed = s.street_code in fixed
        s.amount = _cents(cents[s.street_code])
        paid = [w for w in s.workers if w.weight > 0]
        if not paid:
            continue  # the street's amount stays unallocated there: shown, and the sheet says why
        mean = Fraction(cents[s.street_code]) / len(paid)
        exact = clamp(Fraction(cents[s.street_code]), {w.worker_id: w.weight for w in paid},
                      mean * Fraction(rule.floor), mean * Fraction(rule.cap))
        by_id = {w.worker_id: w for w in paid}
        split = largest_remainder(cents[s.street_code], exact,
                                  lambda wid, by_id=by_id: (-by_id[wid].score, by_id[wid].username))
        for w in paid:
            w.amount = _cents(split[w.worker_id])
    return streets
