"""`gridops rentals import`: the rental ledger and the tenant registry export, all or nothing."""

from __future__ import annotations

import argparse
import getpass

from server.cli.common import guard, outcome, read_upload, row_error_lines


def cli_actor() -> str:
    """Who ran an import from the command line, for the personal-data import log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return "cli"


def ledger_lines(report) -> list[str]:  # type: ignore[no-untyped-def]
    lines = [f"[出租屋台账] {line}" for line in row_error_lines(report.rental_errors)]
    lines += [f"[来穗人员] {line}" for line in row_error_lines(report.tenant_errors)]
    return lines


def split_ledgers(paths: list[str]):  # type: ignore[no-untyped-def]
    """(rental ledger, tenant registry) among the files, told apart by their headers."""
    from server.errors import InvalidInput
    from server.rentals.imports import LedgerFile, kind_of

    found: dict[str, LedgerFile] = {}
    for path in paths:
        ledger = LedgerFile(path, read_upload(path))
        kind = kind_of(ledger.sheet)
        if kind is None:
            raise InvalidInput(f"{path}: neither a rental ledger (a 房东姓名 column) nor a tenant registry (证件号码)",
                               f"{path}：既不是出租屋台账（需有“房东姓名”列）也不是来穗人员表（需有“证件号码”列）",
                               code="unknown_ledger")
        if kind in found:
            raise InvalidInput(f"{path} and {found[kind].filename} are the same kind of file: give one of each",
                               f"{path} 与 {found[kind].filename} 是同一种表，每种只能给一个", code="unknown_ledger")
        found[kind] = ledger
    return found.get("rentals"), found.get("tenants")


def _import(args: argparse.Namespace) -> int:
    from server.database.core import get_sessionmaker
    from server.database.types import utcnow
    from server.rentals.imports import import_ledgers

    rentals, tenants = split_ledgers(args.paths)
    with get_sessionmaker()() as db_session:
        report = import_ledgers(db_session=db_session, rentals=rentals, tenants=tenants, now=utcnow(),
                                apply=args.apply, user=None, actor=cli_actor(), channel="cli")
        if report.committed:
            db_session.commit()
    state, code = outcome(committed=report.committed,
                          blocked=any(e.blocking for e in report.rental_errors + report.tenant_errors))
    print("\n".join(ledger_lines(report)) or "没有错误 / no errors")
    print(f"出租屋 {report.rental_rows} 行：新增 {report.rentals_new}，已登记 {report.rentals_unchanged}；"
          f"来穗人员 {report.tenant_rows} 行：新增 {report.tenants_new}，已登记 {report.tenants_unchanged}；{state}")
    return code


def add_import(rentals: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    imp = rentals.add_parser(
        "import", help="import the rental ledger (出租屋台账) and/or the tenant registry export (来穗人员), "
                       ".xlsx or .csv (UTF-8/GBK); checks only unless --apply; all or nothing",
        description="Rental columns: 地址*, 楼栋, 房间数, 房东姓名*, 房东电话, 经度, 纬度, 坐标系, 网格编码, 是否纳管, "
                    "纳管日期, 登记日期. Tenant columns: 姓名*, 证件类型, 证件号码*, 联系电话, 居住地址*, 门禁卡号, 入住日期, "
                    "登记日期. A rental is placed by 网格编码 or by its point; a tenant by the rental's address. "
                    "ID numbers and phones are stored encrypted; each written file is logged (pii_import_log).")
    imp.add_argument("paths", nargs="+", metavar="FILE", help="出租屋台账.xlsx and/or 来穗人员.xlsx (told apart by headers)")
    imp.add_argument("--apply", action="store_true", help="write (default: check and report only)")
    imp.set_defaults(func=guard(_import))
