"""重点人员信息掌握率 and the managed rate of each key-person type, for any scope, at the period's end.

A person counts when on the register at the instant (the period's end, cut at now) and updated
within their type's follow-up interval before it (server.keypersons.service.follow_up_counts).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from server.indicators.periods import Period, Scope
from server.indicators.results import Ratio, under_each
from server.keypersons import service as keypersons
from server.keypersons.service import key_person_types

INFO_RATE = "key_person_info_rate"
CODES = (INFO_RATE, "mental_health_managed_rate", "community_correction_managed_rate")


def type_codes_of(indicator: str) -> set[str] | None:
    """The key-person types an indicator counts (None: every type)."""
    if indicator == INFO_RATE:
        return None
    return {t.code for t in key_person_types().values() if t.indicator == indicator}


def rates(db_session: Session, scopes: Sequence[Scope], period: Period, now: datetime, which: str
          ) -> dict[Scope, Ratio]:
    at = min(period.end, now)
    if at <= period.start:
        return {scope: Ratio(0.0, 0.0) for scope in scopes}
    kinds = type_codes_of(which)
    counts = [c for c in keypersons.follow_up_counts(db_session, at=at) if kinds is None or c.type_code in kinds]
    return {scope: Ratio(float(sum(c.current for c in mine)), float(sum(c.active for c in mine)))
            for scope, mine in under_each(scopes, ((c.grid_code, c) for c in counts)).items()}


def behind(db_session: Session, scope: Scope, period: Period, now: datetime, limit: int, *, which: str
           ) -> list[dict[str, object]]:
    """Drill-down: who was not updated within their interval at the period's end (masked)."""
    at = min(period.end, now)
    rows = keypersons.not_current(db_session, at=at, grid_prefix=scope.prefix, type_codes=type_codes_of(which),
                                  limit=limit)
    return [{"人员编号": r.id, "类别": r.type_name, "姓名": r.name, "网格": r.grid_code,
             "最近更新": r.last_update_at.isoformat() if r.last_update_at else None,
             "应更新日期": r.next_due_at.isoformat()} for r in rows]
