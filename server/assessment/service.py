"""The monthly assessment: scores as the data says, or as signed; manual items; sign-off; corrections.

A street's month is frozen by two signatures, the street admin's then the district's (a district
admin signs each street). The district's signature stores every worker's row (version 1); from
then on the month reads those rows, whatever happens to the events later. A correction stores a
new version of the street's rows from the data and the manual items as they are now, with its
reason; older versions stay. Every step is written to the admin log.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.codes import area_prefix
from server.assessment import compute as c
from server.assessment import pay
from server.assessment.models import (
    AssessmentAdjustment,
    AssessmentScore,
    AssessmentSignoff,
)
from server.assessment.rule import AssessmentRule, RuleError, current_rule
from server.auth import service as auth_service
from server.auth.enums import Role
from server.auth.models import User
from server.database.prefix import prefix_range
from server.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
)
from server.indicators import service as indicators
from server.indicators.service import Period, Scope, parse_period
from server.territory import territory

WorkerScore = c.WorkerScore
ItemScore = c.ItemScore
LEVELS = ("street", "district")


def rule() -> AssessmentRule:
    """The rule in force; a broken rule file stops every computation with its precise reason."""
    try:
        return current_rule()
    except RuleError as exc:
        raise ServiceUnavailable(f"the assessment rule cannot be used: {exc}", f"考核细则文件有误，未计算任何得分：{exc}",
                                 code="assessment_rule_invalid") from exc


def parse_month(text: str) -> Period:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text.strip()):
        raise InvalidInput(f"month {text!r}: use YYYY-MM, e.g. 2026-11", f"月份 {text!r} 格式无效，应为 2026-11",
                           code="bad_month")
    return parse_period(text.strip())


# ---------------------------------------------------------------- snapshots

def to_json(s: WorkerScore) -> dict[str, Any]:
    def plain(v: Any) -> Any:
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v
    return plain(asdict(s))


def _from_json(data: dict[str, Any], version: int) -> WorkerScore:
    def dec(v: Any) -> Decimal | None:
        return None if v is None else Decimal(v)
    items = [ItemScore(**{**i, "max_points": dec(i["max_points"]), "score": Decimal(i["score"])})
             for i in data["items"]]
    return WorkerScore(**{**data, "items": items, "coverage": Decimal(data["coverage"]), "total": Decimal(data["total"]),
                          "version": version})


def _frozen(db_session: Session, month: str, prefix: str | None,
            worker_ids: Collection[int] | None = None) -> dict[int, WorkerScore]:
    """The latest stored version of each frozen worker-month in the area."""
    latest = (select(AssessmentScore.worker_id, func.max(AssessmentScore.version).label("v"))
              .where(AssessmentScore.month == month).group_by(AssessmentScore.worker_id).subquery())
    stmt = select(AssessmentScore).join(latest, (latest.c.worker_id == AssessmentScore.worker_id)
                                        & (latest.c.v == AssessmentScore.version)).where(AssessmentScore.month == month)
    if prefix:
        stmt = stmt.where(prefix_range(AssessmentScore.street_code, prefix))
    if worker_ids is not None:
        stmt = stmt.where(AssessmentScore.worker_id.in_(list(worker_ids)))
    return {row.worker_id: _from_json(row.data, row.version) for row in db_session.scalars(stmt)}


def frozen_streets(db_session: Session, month: str) -> set[str]:
    return set(db_session.scalars(select(AssessmentScore.street_code).where(AssessmentScore.month == month).distinct()))


def scores(db_session: Session, *, month: Period, now: datetime, prefix: str | None = None,
           worker_ids: Collection[int] | None = None) -> list[WorkerScore]:
    """The month's rows: frozen streets as signed (or last corrected), the others from the data now."""
    live = c.compute(db_session, rule=rule(), month=month, now=now, street_prefix=prefix, worker_ids=worker_ids)
    area = prefix if prefix and len(prefix) <= 9 else None  # a community or grid: the workers with a part there
    named = worker_ids if worker_ids is not None or area or not prefix else {s.worker_id for s in live}
    frozen = _frozen(db_session, month.label, area, named)
    streets = frozen_streets(db_session, month.label) if frozen else set()
    rows = {s.worker_id: s for s in live if s.street_code not in streets}
    rows.update(frozen)
    return c.rank(list(rows.values()))


def street_averages(rows: list[WorkerScore]) -> dict[str, Decimal]:
    sums: dict[str, list[Decimal]] = {}
    for r in rows:
        if r.assessed:
            sums.setdefault(r.street_code, []).append(r.total)
    return {k: c.round2(sum(v, Decimal(0)) / len(v)) for k, v in sorted(sums.items())}


# ---------------------------------------------------------------- who may see and do what

def visible(db_session: Session, *, user: User, month: Period, scope: Scope, now: datetime) -> list[WorkerScore]:
    """A grid worker their own row only (the scope one of their grids); others the area of their territory."""
    indicators.check_scope(db_session=db_session, user=user, scope=scope, now=now)
    if territory(user, now).worker_id is not None:
        return scores(db_session, month=month, now=now, worker_ids=[user.id])
    return scores(db_session, month=month, now=now, prefix=scope.prefix)


def _street_of(user: User, scope: Scope, now: datetime) -> str:
    if scope.level != "street":
        raise InvalidInput("sign or correct one street at a time: scope=street:…", "请按街道签核：scope=street:…",
                           code="street_scope_required")
    if not territory(user, now).covers(scope.prefix):
        raise Forbidden(f"scope {scope} is outside your area", f"统计范围 {scope} 超出您的管辖范围",
                        code="scope_forbidden")
    return scope.code


def _signatures(db_session: Session, month: str, street: str) -> dict[str, AssessmentSignoff]:
    rows = db_session.scalars(select(AssessmentSignoff).where(AssessmentSignoff.month == month,
                                                              AssessmentSignoff.street_code == street))
    return {r.level: r for r in rows}


def status(db_session: Session, month: str, street: str) -> dict[str, Any]:
    signed = _signatures(db_session, month, street)
    version = db_session.scalar(select(func.max(AssessmentScore.version)).where(
        AssessmentScore.month == month, AssessmentScore.street_code == street))
    return {"street_code": street, "street_signed_at": signed["street"].at if "street" in signed else None,
            "district_signed_at": signed["district"].at if "district" in signed else None,
            "frozen": version is not None, "version": version or 0}


def _store(db_session: Session, *, month: Period, street: str, user: User | None, now: datetime,
           reason: str | None) -> int:
    """Store the street's rows from the data now as the next version; returns the version."""
    last = db_session.scalar(select(func.max(AssessmentScore.version)).where(
        AssessmentScore.month == month.label, AssessmentScore.street_code == street)) or 0
    version = last + 1
    the_rule = rule()
    for s in c.compute(db_session, rule=the_rule, month=month, now=now, street_prefix=street[:9]):
        s.version = version
        db_session.add(AssessmentScore(
            month=month.label, street_code=street, worker_id=s.worker_id, version=version, total=s.total,
            coverage=s.coverage, rule_version=the_rule.version, data=to_json(s), reason=reason,
            actor_id=user.id if user else None, created_at=now))
    db_session.flush()
    return version


def sign_off(db_session: Session, *, user: User, month: Period, scope: Scope, now: datetime) -> dict[str, Any]:
    """The street admin signs their street's month, then a district admin; the second signature freezes it."""
    street = _street_of(user, scope, now)
    if now < month.end:
        raise Conflict(f"{month.label} is not over yet", f"{month.label} 尚未结束，不能签核", code="month_not_over")
    signed = _signatures(db_session, month.label, street)
    level = {Role.street_admin.value: "street", Role.district_admin.value: "district"}.get(user.role)
    if level is None:
        raise Forbidden("only the street admin and then the district admin sign", "仅街道管理员和区级管理员可签核",
                        code="role_forbidden")
    if level in signed:
        raise Conflict(f"{month.label} of {street} is already signed at {level} level",
                       f"{street} {month.label} 已由{'街道' if level == 'street' else '区'}签核", code="already_signed")
    if level == "district" and "street" not in signed:
        raise Conflict("the street signs first", "须先由街道签核", code="street_not_signed")
    db_session.add(AssessmentSignoff(month=month.label, street_code=street, level=level, actor_id=user.id, at=now))
    db_session.flush()
    if level == "district":
        _store(db_session, month=month, street=street, user=user, now=now, reason=None)
    auth_service.record(db_session=db_session, actor=user, action="assessment_sign_off", now=now,
                        detail=f"{month.label} {street} {level}")
    return status(db_session, month.label, street)


def correct(db_session: Session, *, user: User, month: Period, scope: Scope, reason: str, now: datetime
            ) -> dict[str, Any]:
    """A frozen street-month computed again from the data and manual items now, stored as a new version."""
    street = _street_of(user, scope, now)
    if user.role != Role.district_admin.value:
        raise Forbidden("only the district admin corrects a signed month", "仅区级管理员可更正已签核的考核",
                        code="role_forbidden")
    if not status(db_session, month.label, street)["frozen"]:
        raise Conflict(f"{month.label} of {street} is not frozen: it follows the data until signed",
                       "该月尚未签核冻结，得分随数据变化，无需更正", code="not_frozen")
    version = _store(db_session, month=month, street=street, user=user, now=now, reason=reason)
    auth_service.record(db_session=db_session, actor=user, action="assessment_correction", now=now,
                        detail=f"{month.label} {street} v{version}: {reason}")
    return status(db_session, month.label, street)


def add_adjustment(db_session: Session, *, user: User, month: Period, username: str, item_code: str, reason: str,
                   now: datetime) -> AssessmentAdjustment:
    """A manual item for a worker of the admin's area (where the worker is ranked that month)."""
    the_rule = rule()
    item = the_rule.item(item_code)
    if item is None or item.kind != "manual":
        raise InvalidInput(f"{item_code!r} is not a manual item of the rule", f"{item_code!r} 不是考核细则中的人工评定项",
                           code="unknown_item", detail={"manual_items": the_rule.manual_codes})
    worker = db_session.scalar(select(User).where(User.username == username, User.role == Role.grid_worker.value))
    rows = c.compute(db_session, rule=the_rule, month=month, now=now, worker_ids=[worker.id]) if worker else []
    if not rows or not territory(user, now).covers(area_prefix(rows[0].street_code)):
        raise NotFound(f"no worker {username!r} assessed in your area in {month.label}",
                       f"{month.label} 您的辖区内无网格员 {username!r}", code="worker_not_found")
    assert item.per is not None and worker is not None
    adj = AssessmentAdjustment(month=month.label, worker_id=worker.id, item_code=item_code, points=c.round2(item.per),
                               reason=reason, actor_id=user.id, at=now)
    db_session.add(adj)
    db_session.flush()
    auth_service.record(db_session=db_session, actor=user, action="assessment_adjustment", now=now, target=worker,
                        detail=f"{month.label} {item_code} {item.per:+}: {reason}")
    return adj


# ---------------------------------------------------------------- incentive pay

def parse_pay_period(text: str) -> list[Period]:
    """A month (2026-11) or a quarter (2026-Q4): the months whose scores the pay is shared by."""
    text = text.strip()
    if re.fullmatch(r"\d{4}-Q[1-4]", text, re.IGNORECASE):
        return parse_period(text.upper()).months()
    return [parse_month(text)]


def pay_table(db_session: Session, *, period: str, pool: Decimal, now: datetime, prefix: str | None = None,
              street_pools: dict[str, Decimal] | None = None, draft: bool = False) -> list[pay.StreetShare]:
    """Each street's amount and each worker's share, from the frozen months (or, as a draft, from the data)."""
    months = parse_pay_period(period)
    rows = [scores(db_session, month=m, now=now, prefix=prefix) for m in months]
    unfrozen = sorted({(m.label, r.street_code) for m, rs in zip(months, rows, strict=True) for r in rs
                       if r.version == 0})
    if unfrozen and not draft:
        raise Conflict("the pay is shared from signed months only; these are not frozen (or ask for a draft)",
                       "奖励性绩效须依据已签核冻结的月度考核；以下街道月份尚未冻结（或以草稿方式试算）",
                       code="month_not_frozen", detail={"not_frozen": [f"{m} {s}" for m, s in unfrozen]})
    the_rule = rule()
    return pay.allocate(pay.shares(rows, the_rule.pay), pool, the_rule.pay, street_pools)
