"""`gridops metrics compute|self-eval|weekly-report`: indicators from data, tables for the budget office."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from server.cli.common import guard, single_job

if TYPE_CHECKING:  # the commands import the server lazily, so that --help stays fast
    from server.indicators.periods import Scope
    from server.indicators.service import IndicatorValue


def _fmt(value: float | None, unit: str) -> str:
    from metrics.numbers import number

    return "无数据" if value is None else number(value, unit)


def _compute(args: argparse.Namespace) -> int:
    from server.database.core import get_sessionmaker
    from server.database.types import utcnow
    from server.indicators import service
    from server.indicators.periods import parse_period, parse_scope

    scope, period = parse_scope(args.scope), parse_period(args.period)
    with get_sessionmaker()() as db_session:
        codes = args.indicator or list(service.COMPUTABLE)
        scopes = [scope, *(service.scopes_below(db_session, scope, args.by, period) if args.by else [])]
        values = service.compute_many(db_session=db_session, scopes=scopes, codes=codes, period=period, now=utcnow())
    if args.json:
        print(json.dumps([asdict(v) for v in values.values()], ensure_ascii=False, indent=2))
        return 0
    if args.by:
        _print_areas(scopes, codes, values)
        return 0
    from metrics.numbers import plain

    print(f"{scope}  {period.label}")
    for v in values.values():
        target = "—" if v.target is None else f"{v.direction}{plain(v.target, v.unit)}"
        mark = {"met": "达标", "not_met": "未达标", "no_data": "无数据"}[v.status]
        print(f"  {v.name_zh:<16} {_fmt(v.value, v.unit):>12}  目标 {target:<10} {mark}  "
              f"({plain(v.numerator)}/{plain(v.denominator)})")
    return 0


def _print_areas(scopes: list[Scope], codes: list[str], values: dict[tuple[Scope, str], IndicatorValue]) -> None:
    """One row per area, one column per indicator; * marks a missed target."""
    first = values[scopes[0], codes[0]]
    print(f"{first.period}  " + "  ".join(f"{c}={values[scopes[0], c].name_zh}" for c in codes))
    print(f"{'scope':<26}" + "".join(f"{c[:14]:>16}" for c in codes))
    for sc in scopes:
        cells = []
        for c in codes:
            v = values[sc, c]
            cells.append(f"{_fmt(v.value, v.unit) + ('*' if v.status == 'not_met' else ''):>16}")
        print(f"{str(sc):<26}" + "".join(cells))


def _declaration(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from metrics.declaration import load_mapping, read_declaration

    mapping = load_mapping(args.mapping) if args.mapping else None
    return read_declaration(args.declaration, sheet=args.sheet, mapping=mapping)


def _budget(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from server.indicators.tables import budget_of

    return budget_of(args.budget, args.executed)


def _warn(declaration, args: argparse.Namespace) -> None:  # type: ignore[no-untyped-def]
    """The year/budget disagreements printed on the sheet, on stderr too (with the option to check)."""
    from metrics.self_evaluation import table_context

    context = table_context(declaration, year=args.year, budget=_budget(args))
    for warning in context.warnings:
        option = "--year" if "年度" in warning else "--budget"
        print(f"warning: {warning}（{option}）", file=sys.stderr)


def _self_eval(args: argparse.Namespace) -> int:
    from metrics.declaration import write_mapping
    from metrics.self_evaluation import evaluate
    from server.database.core import get_sessionmaker
    from server.database.types import utcnow
    from server.indicators import tables
    from server.indicators.periods import parse_scope

    declaration = _declaration(args)
    with get_sessionmaker()() as db_session:
        actuals = tables.self_evaluation(db_session=db_session, declaration=declaration,
                                         scope=parse_scope(args.scope), year=args.year, out=Path(args.output),
                                         now=utcnow(), budget=_budget(args), unit_name=args.unit_name)
    out = Path(args.output)
    _warn(declaration, args)
    evaluated = evaluate(declaration, actuals)
    computed = sum(1 for e in evaluated if e.achieved is not None)
    missed = sum(1 for e in evaluated if e.achieved is False)
    print(f"{out}: {len(evaluated)} rows, {computed} computed from data ({missed} not met, each with a 明细 sheet), "
          f"{len(evaluated) - computed} for manual input")
    if args.write_mapping:
        unmapped = len(declaration.unmapped)
        print(f"mapping to review: {write_mapping(args.write_mapping, declaration)} "
              f"({len(declaration.rows)} rows, {unmapped} unmapped)")
    return 0


def _monitoring(args: argparse.Namespace) -> int:
    from server.database.core import get_sessionmaker
    from server.database.types import utcnow
    from server.indicators import tables
    from server.indicators.periods import parse_scope

    declaration = _declaration(args)
    with get_sessionmaker()() as db_session:
        out = tables.monitoring(db_session=db_session, declaration=declaration, scope=parse_scope(args.scope),
                                year=args.year, quarter=args.quarter, out=Path(args.output), now=utcnow(),
                                budget=_budget(args), unit_name=args.unit_name)
    _warn(declaration, args)
    print(f"{out}: quarterly monitoring to Q{args.quarter} {args.year}")
    return 0


def _weekly(args: argparse.Namespace) -> int:
    from datetime import date

    from server.database.core import get_sessionmaker
    from server.database.types import utcnow
    from server.reports.service import produce_weekly

    now = utcnow()
    week = date.fromisoformat(args.week) if args.week else now.date()
    with get_sessionmaker()() as db_session:
        row, files = produce_weekly(db_session=db_session, district_code=args.district, area=args.area or args.district,
                                    week_start=week, now=now, user=None, out_dir=Path(args.output))
        db_session.commit()
    assert files is not None
    print(f"weekly report for the week of {row.week_start}: {files.markdown}"
          + (f", {files.docx}" if files.docx else ""))
    return 0


def _table_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--declaration", required=True, help="绩效目标表 xlsx")
    p.add_argument("--sheet", help="sheet name (default: the first with an indicator table)")
    p.add_argument("--mapping", help="reviewed row → indicator mapping CSV (see --write-mapping)")
    p.add_argument("--year", type=int, required=True,
                   help="the year evaluated, printed in the title; a declaration of another year is warned about")
    p.add_argument("--scope", default="district:440112", help="whose figures (default district:440112)")
    p.add_argument("--budget", type=float,
                   help="预算数 (万元), for the budget execution row (default: the declaration's budget)")
    p.add_argument("--executed", type=float, help="执行数 (万元)")
    p.add_argument("--unit-name", default="", help="填报单位, printed under the title")
    p.add_argument("-o", "--output", required=True, help="xlsx to write")


def _rollup(args: argparse.Namespace) -> int:
    """Roll up the events settled since the last run, in batches; kept single across processes."""
    import time

    from server.database.core import get_sessionmaker
    from server.database.types import utcnow
    from server.indicators.rollup import prepare, roll_up_all, roll_up_batch

    def run() -> str:
        total, started = 0, time.perf_counter()
        with get_sessionmaker()() as db_session:
            if prepare(db_session, utcnow()):
                print("the quality rules changed: the rollup is emptied and made anew "
                      "(质量评分规则已变更，重新汇总)", flush=True)
            db_session.commit()
            if args.all_at_once:
                total = roll_up_all(db_session, utcnow())
                db_session.commit()
            while n := roll_up_batch(db_session, utcnow(), args.batch):
                db_session.commit()
                total += n
        return f"{total:,} events rolled up in {time.perf_counter() - started:.1f} s"

    return single_job("metrics rollup", args.every, run)


def _check_rollup(args: argparse.Namespace) -> int:
    from server.database.core import get_sessionmaker
    from server.indicators.periods import parse_scope
    from server.indicators.rollup import check

    scope = parse_scope(args.scope) if args.scope else None
    with get_sessionmaker()() as db_session:
        problems = check(db_session, scope)
    for p in problems[:args.limit]:
        print(p)
    if len(problems) > args.limit:
        print(f"… and {len(problems) - args.limit:,} more")
    if problems:
        print(f"rollup differs from the events: {len(problems):,} differences (汇总与事件不一致)", file=sys.stderr)
        return 1
    print("rollup matches the events (汇总与事件一致)")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    metrics = sub.add_parser("metrics", help="indicators computed from operational data").add_subparsers(
        dest="metrics_command", required=True)
    compute = metrics.add_parser("compute", help="indicator values for a scope and period")
    compute.add_argument("--scope", required=True, help="district:440112 | street:440112001 | community:… | grid:…")
    compute.add_argument("--period", required=True, help="2026 | 2026-Q3 | 2026-11 | 2026-W47 | 2026-01-01..2026-03-31")
    compute.add_argument("--indicator", action="append", help="only this indicator code (repeatable)")
    compute.add_argument("--by", choices=["street", "community", "grid"],
                         help="also every area of this level inside the scope, one row each (one pass over the data)")
    compute.add_argument("--json", action="store_true", help="JSON instead of a table")
    compute.set_defaults(func=guard(_compute))

    rollup = metrics.add_parser(
        "rollup", help="sum the events unchanged for 10 minutes into the rollup the statistics read (README: "
                       "Indicators); run it every minute or few, any number of copies (one works)")
    rollup.add_argument("--every", type=float, default=0, metavar="SECONDS",
                        help="repeat every SECONDS (default: run once, e.g. from cron)")
    rollup.add_argument("--batch", type=int, default=50_000, help="events per transaction")
    rollup.add_argument("--all-at-once", action="store_true",
                        help="first run on a database already holding millions of events: two set-based statements "
                             "in one transaction instead of batches (event writers wait until it commits)")
    rollup.set_defaults(func=guard(_rollup))
    check_rollup = metrics.add_parser(
        "check-rollup", help="recompute the rollup from the events and compare every cell; exit 1 on a difference")
    check_rollup.add_argument("--scope", help="only this area: district:440112 | street:… | community:… | grid:…")
    check_rollup.add_argument("--limit", type=int, default=50, help="differences printed (all are counted)")
    check_rollup.set_defaults(func=guard(_check_rollup))

    self_eval = metrics.add_parser("self-eval", help="绩效自评表 from a declaration and the data")
    _table_args(self_eval)
    self_eval.add_argument("--write-mapping", metavar="CSV",
                           help="write every row's mapping (code, name, how matched) here for review; edit and "
                                "pass back with --mapping")
    self_eval.set_defaults(func=guard(_self_eval))

    monitoring = metrics.add_parser("monitoring", help="绩效运行监控表: progress by quarter")
    _table_args(monitoring)
    monitoring.add_argument("--quarter", type=int, choices=[1, 2, 3, 4], default=4, help="up to this quarter")
    monitoring.set_defaults(func=guard(_monitoring))

    weekly = metrics.add_parser("weekly-report", help="Friday situation report (周报): Markdown, docx, charts")
    weekly.add_argument("--week", help="any day of the week (YYYY-MM-DD); default: this week")
    weekly.add_argument("--district", default="440112", help="6-digit district code")
    weekly.add_argument("--area", help="name printed in the title (default: the code)")
    weekly.add_argument("-o", "--output", default="var/reports", help="folder for the files")
    weekly.set_defaults(func=guard(_weekly))
