"""Rental indicators, per street, grid or district, for the rentals the user may see.

* rental_managed_rate (纳管率) at instant t = rentals managed at t / rentals let at t.
  Let at t: registered before t and not closed at t. Managed at t: managed_at ≤ t (the
  current management state; un-managing clears managed_at). Target ≥ 98 %.
* tenant_registration_rate (来穗人员登记率) over [start, end) = registrations confirmed before `end`
  / registrations due, where due = every registration record that occurred in the period
  (a move-in reported by a worker, or a new card at the rental's access controller) and was
  not rejected as a false detection. "Of the people who moved in, the share registered."
* tenant_deregistration_rate (注销率) over [start, end): the same for deregistration records (card
  revoked, no entry for N days, or reported move-outs). "Of those who left, the share deregistered."
Each is None when its denominator is 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from gis.codes import district_of, street_of

from server.auth.models import User
from server.errors import InvalidInput
from server.grids.models import Grid
from server.rentals.models import Rental, Tenant, TenantRecord
from server.rentals.schemas import RentalRateRow, RentalRatesRead
from server.rentals.scope import rentals_query
from server.territory import territory

AREA_OF: dict[str, Callable[[str], str]] = {"district": district_of, "street": street_of, "grid": lambda code: code}


def _rows(result: Any, group_by: str) -> list[RentalRateRow]:
    """Counts per grid code (None: outside every grid), rolled up to the areas of `group_by`."""
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for grid_code, n, d in result:
        cell = sums[AREA_OF[group_by](grid_code) if grid_code is not None else "none"]
        cell[0] += int(n or 0)
        cell[1] += int(d or 0)
    rows = [RentalRateRow(key=k, numerator=n, denominator=d, rate=n / d if d else None)
            for k, (n, d) in sorted(sums.items())]
    total_n, total_d = sum(r.numerator for r in rows), sum(r.denominator for r in rows)
    return rows + [RentalRateRow(key="total", numerator=total_n, denominator=total_d,
                                 rate=total_n / total_d if total_d else None)]


def _managed(db_session: Session, user: User | None, now: datetime, at: datetime, group_by: str) -> list[RentalRateRow]:
    scoped = rentals_query(user, now=now, let_at=at).with_only_columns(Rental.id)
    q = (select(Grid.code, func.sum(case((Rental.managed_at <= at, 1), else_=0)), func.count())
         .select_from(Rental).outerjoin(Grid, Grid.id == Rental.grid_id)
         .where(Rental.id.in_(scoped))
         .group_by(Grid.code))
    return _rows(db_session.execute(q), group_by)


def _records(db_session: Session, user: User | None, now: datetime, kind: str, start: datetime, end: datetime,
             group_by: str) -> list[RentalRateRow]:
    scoped = select(Rental.id).where(territory(user, now).grids(Rental.grid_id))  # closed ones too
    confirmed = case(((TenantRecord.status == "confirmed") & (TenantRecord.decided_at < end), 1), else_=0)
    q = (select(Grid.code, func.sum(confirmed), func.count())
         .select_from(TenantRecord).join(Tenant, Tenant.id == TenantRecord.tenant_id)
         .join(Rental, Rental.id == Tenant.rental_id).outerjoin(Grid, Grid.id == Rental.grid_id)
         .where(Rental.id.in_(scoped), TenantRecord.kind == kind, TenantRecord.status != "rejected",
                TenantRecord.occurred_at >= start, TenantRecord.occurred_at < end)
         .group_by(Grid.code))
    return _rows(db_session.execute(q), group_by)


def rental_rates(*, db_session: Session, user: User | None, start: datetime, end: datetime, now: datetime,
                 group_by: str = "street") -> RentalRatesRead:
    if group_by not in AREA_OF:
        raise InvalidInput(f"group_by must be one of {sorted(AREA_OF)}", "分组方式无效", code="invalid_group_by")
    if end <= start:
        raise InvalidInput("the period must end after it starts", "统计期间无效：结束须晚于开始", code="invalid_period")
    return RentalRatesRead(
        start=start, end=end, group_by=group_by,
        rental_managed_rate=_managed(db_session, user, now, end, group_by),
        tenant_registration_rate=_records(db_session, user, now, "registration", start, end, group_by),
        tenant_deregistration_rate=_records(db_session, user, now, "deregistration", start, end, group_by),
    )
