"""`gridops metrics compute|self-eval|weekly-report`: indicators from data, tables for the budget office."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from server.cli.common import guard


def _fmt(value: float | None, unit: str) -> str:
    return "无数据" if value is None else f"{value:.2f}{unit}"


def _compute(args: argparse.Namespace) -> int:
    from server.database.core import get_sessionmaker
    from server.database.types import utcnow
    from server.indicators import service
    from server.indicators.periods import parse_period, parse_scope

    scope, period = parse_scope(args.scope), parse_period(args.period)
    with get_sessionmaker()() as db_session:
        codes = args.indicator or list(service.COMPUTE)
        values = [service.compute(db_session=db_session, code=c, scope=scope, period=period, now=utcnow())
                  for c in codes]
    if args.json:
        print(json.dumps([asdict(v) for v in values], ensure_ascii=False, indent=2))
        return 0
    print(f"{scope}  {period.label}")
    for v in values:
        target = "—" if v.target is None else f"{v.direction}{v.target:g}{v.unit}"
        mark = {"met": "达标", "not_met": "未达标", "no_data": "无数据"}[v.status]
        print(f"  {v.name_zh:<16} {_fmt(v.value, v.unit):>12}  目标 {target:<10} {mark}  "
              f"({v.numerator:g}/{v.denominator:g})")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    metrics = sub.add_parser("metrics", help="indicators computed from operational data").add_subparsers(
        dest="metrics_command", required=True)
    compute = metrics.add_parser("compute", help="indicator values for a scope and period")
    compute.add_argument("--scope", required=True, help="district:440112 | street:440112001 | community:… | grid:…")
    compute.add_argument("--period", required=True, help="2026 | 2026-Q3 | 2026-11 | 2026-W47 | 2026-01-01..2026-03-31")
    compute.add_argument("--indicator", action="append", help="only this indicator code (repeatable)")
    compute.add_argument("--json", action="store_true", help="JSON instead of a table")
    compute.set_defaults(func=guard(_compute))
