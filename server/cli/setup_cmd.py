"""`gridops setup FOLDER`: a district goes live from the files its office brings, in one command.

The folder holds files under their conventional names (any may be missing; its step is skipped):

    区划代码.csv|.xlsx          statistical division list (统计用区划代码, 城乡分类代码, 名称)
    社区边界.gpkg|.shp|.geojson  community boundaries (社区编码/code, 社区名称/name)
    网格.gpkg|.shp|.geojson      grid polygons (网格编码/code, 网格名称/name, …)
    花名册.xlsx|.csv            staff roster (姓名, 手机号, 角色, 街道, 社区, 网格, 专职/兼职, 上岗日期)
    点位台账.xlsx|.csv          device ledger
    出租屋台账.xlsx|.csv        rental-housing ledger
    来穗人员.xlsx|.csv          tenant registry export

The steps run in that order in one transaction, each seeing what the steps before it would
write, so the whole folder is checked as it will be written. Nothing is kept unless --apply is
given and no step has an error: then everything is committed at once, else rolled back.
"""

from __future__ import annotations

import argparse
import csv
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from server.cli.common import guard, read_upload, row_error_lines

GEO = (".gpkg", ".shp", ".geojson", ".json", ".zip")
SHEET = (".xlsx", ".csv")


@dataclass(frozen=True)
class FileKind:
    key: str
    names: tuple[str, ...]  # file stems, as offices name them
    suffixes: tuple[str, ...]


FILES = (
    FileKind("divisions", ("区划代码", "统计用区划代码"), SHEET),
    FileKind("boundaries", ("社区边界",), GEO),
    FileKind("grids", ("网格", "网格边界"), GEO),
    FileKind("roster", ("花名册",), SHEET),
    FileKind("devices", ("点位台账",), SHEET),
    FileKind("rentals", ("出租屋台账",), SHEET),
    FileKind("tenants", ("来穗人员",), SHEET),
)
SHAPEFILE_PARTS = (".shx", ".dbf", ".prj", ".cpg", ".sbn", ".sbx", ".qix", ".xml")


@dataclass
class StepResult:
    title: str
    files: list[str]
    summary: str = ""
    errors: list[str] = field(default_factory=list)  # blocking, one line each
    notes: list[str] = field(default_factory=list)  # warnings

    @property
    def blocked(self) -> bool:
        return bool(self.errors)


@dataclass
class Context:
    db_session: Session
    now: datetime
    files: dict[str, Path]
    args: argparse.Namespace
    passwords: list[Any] = field(default_factory=list)


def find_files(folder: Path) -> tuple[dict[str, Path], list[str], list[str]]:
    """{kind: path} by conventional name, problems (two candidates for one kind), files not recognised."""
    if not folder.is_dir():
        from common.errors import InputError

        raise InputError("missing_folder", f"找不到文件夹：{folder}", f"folder not found: {folder}")
    found: dict[str, Path] = {}
    problems, ignored = [], []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        kind = next((k for k in FILES if path.stem in k.names and path.suffix.lower() in k.suffixes), None)
        if kind is None:
            if path.suffix.lower() not in SHAPEFILE_PARTS and not path.name.startswith((".", "初始密码")):
                ignored.append(path.name)
        elif kind.key in found:
            problems.append(f"错误 {kind.names[0]} 有两个文件：{found[kind.key].name} 与 {path.name}，请只保留一个")
        else:
            found[kind.key] = path
    return found, problems, ignored


# ---------------------------------------------------------------- the steps
def _divisions(ctx: Context) -> StepResult:
    from server import sheets
    from server.divisions.imports import import_divisions

    path = ctx.files["divisions"]
    report = import_divisions(db_session=ctx.db_session, sheet=sheets.read(read_upload(str(path)), path.name), apply=True)
    lines = row_error_lines(report.errors)
    return StepResult("区划代码", [path.name], f"{report.rows} 行：新区 {report.districts}，新街道 {report.streets}，"
                      f"新社区 {report.communities}，已登记不变 {report.unchanged}",
                      [x for x, e in zip(lines, report.errors) if e.blocking],
                      [x for x, e in zip(lines, report.errors) if not e.blocking])


def _boundaries(ctx: Context) -> StepResult:
    from gis.shapefile_io import COMMUNITY_FIELDS
    from server.cli.divisions_cmd import boundary_lines
    from server.divisions.imports import import_boundaries

    path = ctx.files["boundaries"]
    result = _read_polygons(path, COMMUNITY_FIELDS, ctx.args)
    report = import_boundaries(db_session=ctx.db_session, features=result.features, source_epsg=result.source_epsg,
                               encoding=result.encoding, apply=True)
    return StepResult("社区边界", [path.name], f"{report.features} 个社区边界（EPSG:{report.source_epsg}）",
                      boundary_lines(report), [f"提示 {p.message_zh}" for p in result.problems])


def _read_polygons(path: Path, mapping: Any, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    import tempfile

    from gis.grid_files import read_polygons
    from server.config import get_settings
    from server.uploads import extract_shapefile_zip

    with tempfile.TemporaryDirectory() as tmp:
        if path.suffix.lower() == ".zip":
            path = extract_shapefile_zip(path, Path(tmp), max_total_bytes=get_settings().max_unzipped_mb << 20)
        return read_polygons(path, mapping=mapping, crs=args.crs, encoding=args.encoding)


def _grids(ctx: Context) -> StepResult:
    from gis.shapefile_io import FieldMapping
    from server.grids.imports import import_features

    path = ctx.files["grids"]
    result = _read_polygons(path, FieldMapping(), ctx.args)
    report = import_features(db_session=ctx.db_session, features=result.features, source_epsg=result.source_epsg,
                             encoding=result.encoding)
    lines = [(f.blocking, f"{'错误' if f.blocking else '提示'} {f.kind_zh}({f.kind}) {','.join(f.grid_codes)} "
                          f"{f.detail}") for f in report.findings]
    return StepResult("网格", [path.name], f"{report.features} 个网格（EPSG:{report.source_epsg}）：新增 "
                      f"{len(report.created) if report.committed else 0}，已登记不变 {len(report.unchanged)}",
                      [x for b, x in lines if b],
                      [x for b, x in lines if not b] + [f"提示 {p.message_zh}" for p in result.problems])


def _roster(ctx: Context) -> StepResult:
    from server.auth.roster import import_roster

    path = ctx.files["roster"]
    report = import_roster(ctx.db_session, path, filename=path.name, now=ctx.now, apply=True, actor=None)
    ctx.passwords = list(report.passwords)
    return StepResult("花名册", [path.name], f"{report.rows} 行：新用户 {len(report.users)}，已有 {len(report.existing)}，"
                      f"网格分配 {len(report.assignments)}", row_error_lines(report.errors))


def _devices(ctx: Context) -> StepResult:
    from server import sheets
    from server.devices.imports import import_rows

    path = ctx.files["devices"]
    report = import_rows(db_session=ctx.db_session, sheet=sheets.read(read_upload(str(path)), path.name), now=ctx.now)
    lines = row_error_lines(report.errors)
    return StepResult("点位台账", [path.name], f"{report.rows} 行：新设备 {len(report.created)}",
                      [x for x, e in zip(lines, report.errors) if e.blocking],
                      [x for x, e in zip(lines, report.errors) if not e.blocking])


def _rentals(ctx: Context) -> StepResult:
    from server.cli.rentals_cmd import cli_actor, ledger_lines
    from server.rentals.imports import LedgerFile, import_ledgers

    files = [ctx.files[k] for k in ("rentals", "tenants") if k in ctx.files]
    ledgers = {k: LedgerFile(p.name, read_upload(str(p))) for k in ("rentals", "tenants") if (p := ctx.files.get(k))}
    report = import_ledgers(db_session=ctx.db_session, rentals=ledgers.get("rentals"), tenants=ledgers.get("tenants"),
                            now=ctx.now, apply=True, user=None, actor=cli_actor(), channel="cli")
    lines = ledger_lines(report)
    errs = report.rental_errors + report.tenant_errors
    return StepResult("出租屋与来穗人员", [p.name for p in files],
                      f"出租屋 {report.rental_rows} 行（新增 {report.rentals_new}，已登记 {report.rentals_unchanged}），"
                      f"来穗人员 {report.tenant_rows} 行（新增 {report.tenants_new}，已登记 {report.tenants_unchanged}）",
                      [x for x, e in zip(lines, errs) if e.blocking], [x for x, e in zip(lines, errs) if not e.blocking])


STEPS: tuple[tuple[tuple[str, ...], str, Callable[[Context], StepResult]], ...] = (
    (("divisions",), "区划代码", _divisions),
    (("boundaries",), "社区边界", _boundaries),
    (("grids",), "网格", _grids),
    (("roster",), "花名册", _roster),
    (("devices",), "点位台账", _devices),
    (("rentals", "tenants"), "出租屋与来穗人员", _rentals),
)


def run_steps(ctx: Context) -> list[StepResult]:
    """Every step whose files are present, in order; a refused file is its step's error, not the end."""
    from common.errors import InputError
    from server.errors import GridopsError

    results = []
    for keys, title, step in STEPS:
        names = [ctx.files[k].name for k in keys if k in ctx.files]
        if not names:
            results.append(StepResult(title, [], "未提供文件，跳过"))
            continue
        try:
            with ctx.db_session.begin_nested():  # a step that fails half-way leaves nothing behind
                results.append(step(ctx))
        except (InputError, GridopsError) as exc:
            results.append(StepResult(title, names, "文件无法导入", [f"错误 [{exc.code}] {exc.message_zh} / {exc.message_en}"]))
    return results


# ---------------------------------------------------------------- the command
def _print(folder: Path, results: list[StepResult], problems: list[str], ignored: list[str], apply: bool,
           committed: bool) -> None:
    print(f"上线检查：{folder}")
    for line in problems:
        print(line)
    if ignored:
        print(f"提示 未识别、未导入的文件：{'、'.join(ignored)}")
    earlier = False
    for n, r in enumerate(results, 1):
        state = "有错误" if r.blocked else "通过"
        print(f"\n{n}. {r.title}（{'、'.join(r.files) or '—'}）：{r.summary}；{state if r.files else '—'}")
        if r.blocked and earlier:
            print("   （前面的步骤有错误：本步骤的部分错误可能由此引起，请先修正前面的文件）")
        for line in r.errors + r.notes:
            print(f"   {line}")
        earlier = earlier or r.blocked
    blocked = bool(problems) or any(r.blocked for r in results)
    errors = len(problems) + sum(len(r.errors) for r in results)
    print()
    if committed:
        print("结果：全部检查通过，已写入。")
    elif blocked:
        print(f"结果：共 {errors} 个错误，未写入任何数据。请修正文件后重新运行。")
    else:
        print("结果：全部检查通过（试运行，未写入）。确认无误后加 --apply 写入。" if not apply else "结果：未写入。")


def _write_passwords(path: Path, passwords: list[Any]) -> None:
    """Initial passwords, shown once: a CSV only its owner may read, to hand out and then delete."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(["用户名", "姓名", "初始密码"])
        w.writerows([p.username, p.full_name, p.password] for p in passwords)


def _setup(args: argparse.Namespace) -> int:
    from server.database.core import get_sessionmaker
    from server.database.types import utcnow

    folder = Path(args.folder)
    files, problems, ignored = find_files(folder)
    passwords_out = Path(args.passwords_out) if args.passwords_out else folder / "初始密码.csv"
    if args.apply and "roster" in files and not os.access(passwords_out.parent, os.W_OK):
        from common.errors import InputError  # checked first: passwords must not be lost after the commit

        raise InputError("unwritable_output", f"无法写入初始密码文件：{passwords_out}，请用 --passwords-out 指定可写的位置",
                         f"cannot write the initial passwords to {passwords_out}: pass --passwords-out")
    with get_sessionmaker()() as db_session:
        ctx = Context(db_session, utcnow(), files, args)
        results = run_steps(ctx)
        blocked = bool(problems) or any(r.blocked for r in results)
        committed = args.apply and not blocked
        if committed:
            db_session.commit()
        else:
            db_session.rollback()
    _print(folder, results, problems, ignored, args.apply, committed)
    if committed and ctx.passwords:
        _write_passwords(passwords_out, ctx.passwords)
        print(f"{len(ctx.passwords)} 个新用户的初始密码已写入 {passwords_out}（仅显示这一次，首次登录须修改；分发后请删除该文件）")
    return 1 if blocked else 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "setup", help="take a district live from one folder of its files (divisions, boundaries, grids, roster, "
                      "devices, rentals); checks only unless --apply",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", help="folder holding 区划代码.csv, 社区边界.gpkg, 网格.gpkg, 花名册.xlsx, …")
    p.add_argument("--apply", action="store_true", help="write everything, only if no step has an error "
                                                        "(default: check and report only)")
    p.add_argument("--passwords-out", metavar="CSV", help="where to write the roster's initial passwords "
                                                          "(default: FOLDER/初始密码.csv, readable by its owner only)")
    p.add_argument("--crs", type=int, help="EPSG code for boundary and grid files that declare none")
    p.add_argument("--encoding", help="shapefile attribute encoding (default: .cpg, else UTF-8, else GBK)")
    p.set_defaults(func=guard(_setup))
