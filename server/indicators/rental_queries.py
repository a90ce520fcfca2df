"""Rental indicators (纳管率, 来穗人员登记率/注销率) for any scope, from the rentals domain's per-grid rates.

Definitions are the rentals domain's (server/rentals/rates.py): managed rate at the end of the
period (cut at now), registration and deregistration rates over the period.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from server.indicators.periods import Period, Scope
from server.indicators.results import Ratio, under_each
from server.rentals.service import rental_rates


# The catalogue's codes, which are also the fields of the rentals API's RentalRatesRead.
CODES = ("rental_managed_rate", "tenant_registration_rate", "tenant_deregistration_rate")


def _sum(rows) -> Ratio:  # type: ignore[no-untyped-def]
    return Ratio(float(sum(r.numerator for r in rows)), float(sum(r.denominator for r in rows)))


def rates(db_session: Session, scopes: Sequence[Scope], period: Period, now: datetime, which: str
          ) -> dict[Scope, Ratio]:
    """`which` is one of CODES. The per-grid rates are read once and summed for every scope: a map of
    every grid of a district costs three grouped statements, not three per grid."""
    end = min(period.end, now)
    if end <= period.start:
        return {scope: Ratio(0.0, 0.0) for scope in scopes}
    result = rental_rates(db_session=db_session, user=None, start=period.start, end=end, now=now, group_by="grid")
    rows = [r for r in getattr(result, which) if r.key not in ("total", "none")]
    return {scope: _sum(mine) for scope, mine in under_each(scopes, ((r.key, r) for r in rows)).items()}
