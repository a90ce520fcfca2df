"""`gridops divisions import|boundaries`: the administrative tree from the district's own files."""

from __future__ import annotations

import argparse
from pathlib import Path

from server.cli.common import guard, outcome, read_upload, row_error_lines


def _import(args: argparse.Namespace) -> int:
    from server import sheets
    from server.database.core import get_sessionmaker
    from server.divisions.imports import import_divisions

    sheet = sheets.read(read_upload(args.path), args.path)
    with get_sessionmaker()() as db_session:
        report = import_divisions(db_session=db_session, sheet=sheet, apply=args.apply)
        if report.committed:
            db_session.commit()
    state, code = outcome(committed=report.committed, blocked=any(e.blocking for e in report.errors))
    print("\n".join(row_error_lines(report.errors)) or "没有错误 / no errors")
    print(f"{report.rows} 行：新区 {report.districts}，新街道 {report.streets}，新社区 {report.communities}，"
          f"已登记不变 {report.unchanged}；{state}")
    return code


def boundary_lines(report) -> list[str]:  # type: ignore[no-untyped-def]
    lines = []
    for f in report.findings:
        area = f" {f.area_m2:,.2f} m²" if f.area_m2 is not None else ""
        lines.append(f"错误 {f.kind_zh}({f.kind}) {','.join(f.community_codes)}{area} {f.detail}")
    return lines


def _boundaries(args: argparse.Namespace) -> int:
    from gis.grid_files import read_polygons
    from gis.shapefile_io import COMMUNITY_FIELDS
    from server.database.core import get_sessionmaker
    from server.divisions.imports import import_boundaries

    result = read_polygons(Path(args.path), mapping=COMMUNITY_FIELDS, crs=args.crs, encoding=args.encoding,
                           layer=args.layer)
    with get_sessionmaker()() as db_session:
        report = import_boundaries(db_session=db_session, features=result.features, source_epsg=result.source_epsg,
                                   encoding=result.encoding, apply=args.apply)
        if report.committed:
            db_session.commit()
    state, code = outcome(committed=report.committed, blocked=bool(report.findings))
    print("\n".join(boundary_lines(report)) or "没有错误 / no errors")
    print(f"EPSG:{report.source_epsg} {report.encoding}：{report.features} 个社区边界；{state}")
    return code


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    div = sub.add_parser("divisions", help="streets and communities from the statistical division list, "
                                           "community boundaries").add_subparsers(dest="divisions_command",
                                                                                   required=True)
    imp = div.add_parser(
        "import", help="import the 统计用区划代码 list (.csv UTF-8/GBK or .xlsx: 统计用区划代码, 城乡分类代码, 名称); "
                       "checks only unless --apply; all or nothing",
        description="Level from the 12-digit code: district (GB/T 2260, first 6 digits), street (9), community (12). "
                    "Each parent must be in the file or already registered; names are kept as given.")
    imp.add_argument("path", help="区划代码.csv or .xlsx")
    imp.add_argument("--apply", action="store_true", help="write (default: check and report only)")
    imp.set_defaults(func=guard(_import))

    bnd = div.add_parser("boundaries", help="set community boundaries from a shapefile, GeoPackage or GeoJSON "
                                            "(fields 社区编码/code, 社区名称/name); checks only unless --apply")
    bnd.add_argument("path", help="社区边界.gpkg, .shp or .geojson")
    bnd.add_argument("--apply", action="store_true", help="write (default: check and report only)")
    bnd.add_argument("--crs", type=int, help="EPSG code when the file declares none (e.g. 4490, 4526)")
    bnd.add_argument("--encoding", help="shapefile attribute encoding (default: .cpg, else UTF-8, else GBK)")
    bnd.add_argument("--layer", help="GeoPackage layer when the file holds several")
    bnd.set_defaults(func=guard(_boundaries))
