"""`gridops assessment run|pay`: the month's worker assessment (网格员月度考核) and the incentive pay table."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from server.cli.common import guard
from server.database.types import utcnow


def _prefix(args: argparse.Namespace) -> str | None:
    from server.indicators.periods import parse_scope

    if args.street:
        return parse_scope(f"street:{args.street}").prefix
    return parse_scope(f"district:{args.district}").prefix if args.district else None


def _street_names(db_session: Any) -> dict[str, str]:
    from sqlalchemy import select

    from server.divisions.models import Street

    return {code: name for code, name in db_session.execute(select(Street.code, Street.name))}


@guard
def _run(args: argparse.Namespace) -> int:
    from server.assessment import service, sheets
    from server.database.core import get_sessionmaker

    month = service.parse_month(args.month)
    with get_sessionmaker()() as db_session:
        rows = service.scores(db_session, month=month, now=utcnow(), prefix=_prefix(args))
        names = _street_names(db_session)
        frozen = {s: service.status(db_session, month.label, s)["version"] for s in {r.street_code for r in rows}}
        if args.xlsx:
            Path(args.xlsx).write_bytes(sheets.assessment_workbook(rows, service.rule(), month.label, names, frozen))
    if args.json:
        print(json.dumps([service.to_json(r) for r in rows], ensure_ascii=False, indent=2))
        return 0
    the_rule = service.rule()
    print(f"{month.label} 网格员月度考核  细则 {the_rule.version}  共 {len(rows)} 人")
    codes = [i.code for i in the_rule.items]
    print(f"{'街道':<10}{'排名':>4}  {'网格员':<14}{'在岗':>6}" + "".join(f"{c[:10]:>12}" for c in codes) + f"{'合计':>8}")
    for r in rows:
        scores = {i.code: i.score for i in r.items}
        state = f"v{frozen[r.street_code]}" if frozen.get(r.street_code) else ""
        print(f"{names.get(r.street_code, r.street_code)[:8]:<10}{r.rank or '—':>4}  {r.username:<14}{r.coverage:>6.0%}"
              + "".join(f"{scores[c]:>12}" for c in codes) + f"{r.total:>8} {state}")
    for street, average in service.street_averages(rows).items():
        print(f"街道平均 {names.get(street, street)}: {average}")
    if args.xlsx:
        print(f"考核表: {args.xlsx}")
    return 0


def _street_pools(path: str | None) -> dict[str, Decimal]:
    """A JSON object {street code: yuan}, or a CSV/xlsx with columns 街道编码 and 金额."""
    if not path:
        return {}
    from server.errors import InvalidInput
    from server.sheets import read

    try:
        if path.endswith(".json"):
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
            return {str(k): Decimal(str(v)) for k, v in raw.items()}
        sheet = read(Path(path).read_bytes(), path)
        return {str(row.get("街道编码") or row.get("street_code")).strip(): Decimal(str(row.get("金额") or row.get("amount")))
                for _, row in sheet.rows}
    except (OSError, ValueError, InvalidOperation, AttributeError) as exc:
        raise InvalidInput(f"street pools {path}: {exc}; use JSON {{\"440112001000\": 123456.78}} or columns 街道编码, 金额",
                           f"街道资金表 {path} 无法读取", code="bad_street_pools") from exc


@guard
def _pay(args: argparse.Namespace) -> int:
    from server.assessment import service, sheets
    from server.database.core import get_sessionmaker
    from server.errors import InvalidInput

    period = args.month or args.quarter
    try:
        pool = Decimal(args.pool)
    except InvalidOperation:
        raise InvalidInput(f"pool {args.pool!r} is not an amount", f"资金总额 {args.pool!r} 不是金额",
                           code="bad_amount") from None
    pools = _street_pools(args.street_pools)
    with get_sessionmaker()() as db_session:
        streets = service.pay_table(db_session, period=period, pool=pool, now=utcnow(), prefix=_prefix(args),
                                    street_pools=pools, draft=args.draft)
        names = _street_names(db_session)
    if args.xlsx:
        Path(args.xlsx).write_bytes(sheets.pay_workbook(streets, service.rule(), period, pool, names, args.draft))
    print(f"{period} 奖励性绩效  总额 {pool:,.2f} 元{'（草稿）' if args.draft else ''}")
    for s in streets:
        print(f"  {names.get(s.street_code, s.street_code)}  {float(s.headcount):.2f} 人  {s.amount:>14,.2f} 元"
              + ("（街道资金表）" if s.fixed else ""))
        if args.workers:
            for w in s.workers:
                print(f"      {w.username:<14}{w.score:>8}{w.amount:>14,.2f}  {w.note}")
    paid = sum((w.amount for s in streets for w in s.workers), Decimal(0))
    print(f"  合计 {sum((s.amount for s in streets), Decimal(0)):,.2f} 元，分到个人 {paid:,.2f} 元")
    if args.xlsx:
        print(f"核定表: {args.xlsx}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cmd = sub.add_parser("assessment", help="grid workers' monthly assessment (考核) and incentive pay (奖励性绩效)")
    a = cmd.add_subparsers(dest="assessment_command", required=True)
    run = a.add_parser("run", help="every worker's score for a month, with ranks and street averages",
                       description="Frozen streets show their signed (or corrected) version; others follow the data. "
                                   "The rule is GRIDOPS_ASSESSMENT_RULE or server/assessment/rule_2026.json.")
    run.add_argument("--month", required=True, help="YYYY-MM (Asia/Shanghai), e.g. 2026-11")
    run.add_argument("--street", help="a street code (9 or 12 digits): its workers only")
    run.add_argument("--district", help="a district code (6 digits)")
    run.add_argument("--xlsx", metavar="FILE", help="also write the 考核表 (one sheet per street, then 明细)")
    run.add_argument("--json", action="store_true", help="every row with its items and records as JSON")
    run.set_defaults(func=_run)
    pay = a.add_parser("pay", help="share a pool among streets and workers, to the cent",
                       description="Largest remainder at cent level; equal remainders go to the higher score, then "
                                   "the username. Months must be frozen (signed by street and district) unless --draft.")
    when = pay.add_mutually_exclusive_group(required=True)
    when.add_argument("--month", help="YYYY-MM")
    when.add_argument("--quarter", help="YYYY-Qn, e.g. 2026-Q4: the three months' scores")
    pay.add_argument("--pool", required=True, help="the district's pool in yuan, e.g. 1234567.89")
    pay.add_argument("--street-pools", metavar="FILE",
                     help="streets with their own amounts: JSON {code: yuan}, or CSV/xlsx with 街道编码, 金额")
    pay.add_argument("--district", help="a district code (6 digits)")
    pay.add_argument("--street", help=argparse.SUPPRESS)
    pay.add_argument("--draft", action="store_true", help="from the data now, for months not yet frozen")
    pay.add_argument("--workers", action="store_true", help="list every worker's amount too")
    pay.add_argument("--xlsx", metavar="FILE", help="write the pay table for sign-off")
    pay.set_defaults(func=_pay)
