"""`gridops grids import|export|check`: shapefile, GeoPackage or GeoJSON in, shapefile out."""

from __future__ import annotations

import argparse
import sys
import tempfile
import zipfile
from pathlib import Path

from tqdm import tqdm

from gis.grid_files import read_polygons
from gis.shapefile_io import FieldMapping, write_grids
from gis.topology import CheckInput, check_grids, report_json, report_text
from server.config import get_settings
from server.cli.common import guard


def _progress() -> tuple[tqdm, object]:
    bar = tqdm(total=0, unit="grid", desc="reading", file=sys.stderr, disable=not sys.stderr.isatty())

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, update


def _read(args: argparse.Namespace, tmp: str):  # type: ignore[no-untyped-def]
    path = Path(args.path)
    if path.suffix.lower() == ".zip":
        from server.uploads import extract_shapefile_zip

        path = extract_shapefile_zip(path, Path(tmp), max_total_bytes=get_settings().max_unzipped_mb << 20)
    bar, update = _progress()
    with bar:
        return read_polygons(path, mapping=FieldMapping(args.code_field, args.name_field, args.community_field,
                                                        args.type_field),
                             crs=args.crs, encoding=args.encoding, layer=args.layer, progress=update)


def _import(args: argparse.Namespace) -> int:
    from server.database.core import get_sessionmaker
    from server.grids.imports import import_features

    with tempfile.TemporaryDirectory() as tmp:
        result = _read(args, tmp)
    with get_sessionmaker()() as db_session:
        report = import_features(db_session=db_session, features=result.features, source_epsg=result.source_epsg,
                                 encoding=result.encoding, dry_run=args.dry_run,
                                 overlap_tolerance_m2=args.overlap_tolerance, gap_tolerance_m2=args.gap_tolerance)
        if report.committed:
            db_session.commit()
    for f in report.findings:
        area = f"{f.area_m2:.2f} m²" if f.area_m2 is not None else "-"
        print(f"{'ERROR' if f.blocking else 'WARN '} {f.kind_zh}({f.kind}) {','.join(f.grid_codes)} {area} {f.detail}")
    print(f"EPSG:{report.source_epsg} {report.encoding}: {report.features} grids read, {len(report.created)} created, "
          f"{len(report.unchanged)} unchanged, committed={report.committed}")
    return 0 if report.committed or (args.dry_run and not any(f.blocking for f in report.findings)) else 1


def _export(args: argparse.Namespace) -> int:
    from server.database.core import get_sessionmaker
    from server.database.types import utcnow
    from server.grids import service

    with get_sessionmaker()() as db_session:
        features = service.export_features(db_session=db_session, user=None,
                                           flt=service.GridFilter(street_code=args.street), now=utcnow())
    out = Path(args.out)
    if out.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in write_grids(Path(tmp) / "grids.shp", features, epsg=args.epsg):
                zf.write(p, p.name)
    else:
        write_grids(out, features, epsg=args.epsg)
    print(f"exported {len(features)} grids to {out} (EPSG:{args.epsg})")
    return 0


def _stored_inputs() -> tuple[list[CheckInput], dict]:
    from sqlalchemy import select
    from sqlalchemy.orm import joinedload

    from server.database.core import get_sessionmaker
    from server.divisions.models import Community
    from server.geometry import to_shapely
    from server.grids.models import Grid

    with get_sessionmaker()() as s:
        grids = s.scalars(select(Grid).options(joinedload(Grid.community)).where(Grid.retired_at.is_(None)))
        inputs = [CheckInput(g.code, to_shapely(g.geom), g.community.code) for g in grids]
        bounds = {c.code: to_shapely(c.boundary) for c in s.scalars(select(Community)) if c.boundary is not None}
    return inputs, bounds


def _check(args: argparse.Namespace) -> int:
    if args.path:
        with tempfile.TemporaryDirectory() as tmp:
            result = _read(args, tmp)
        inputs = [CheckInput(f.code, f.geometry, f.community_code or None) for f in result.features]
        bounds: dict = {}
    else:
        inputs, bounds = _stored_inputs()
    findings = check_grids(inputs, community_boundaries=bounds, overlap_tolerance_m2=args.overlap_tolerance,
                           gap_tolerance_m2=args.gap_tolerance)
    print(report_json(findings) if args.json else report_text(findings))
    return 1 if any(f.kind != "gap" for f in findings) else 0


def _source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--crs", type=int, help="EPSG code to use when the file declares none (a shapefile without .prj; "
                                           "e.g. 4490, 4526)")
    p.add_argument("--layer", help="GeoPackage layer to read when the file holds several")
    p.add_argument("--encoding", help="attribute encoding (default: .cpg, else UTF-8, else GBK)")
    p.add_argument("--code-field", default="code", help="attribute holding the 15-digit grid code")
    p.add_argument("--name-field", default="name")
    p.add_argument("--community-field", default="community")
    p.add_argument("--type-field", default="type")
    p.add_argument("--overlap-tolerance", type=float, default=1.0, metavar="M2", help="ignore overlaps below (m²)")
    p.add_argument("--gap-tolerance", type=float, default=1.0, metavar="M2", help="ignore gaps below (m²)")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    grids = sub.add_parser("grids", help="import, export and check grid polygons").add_subparsers(
        dest="grids_command", required=True)
    imp = grids.add_parser("import", help="import grid polygons: shapefile (.shp or .zip), GeoPackage (.gpkg) or "
                                          "GeoJSON (.geojson); all or nothing")
    imp.add_argument("path")
    imp.add_argument("--dry-run", action="store_true", help="check only, write nothing")
    _source_args(imp)
    imp.set_defaults(func=guard(_import))

    exp = grids.add_parser("export", help="export grids as a shapefile (.zip or .shp path) in CGCS2000")
    exp.add_argument("out")
    exp.add_argument("--epsg", type=int, default=4490, help="4490, or a GK zone 4513–4554")
    exp.add_argument("--street", help="12-digit street code to export only that street")
    exp.set_defaults(func=guard(_export))

    chk = grids.add_parser("check", help="topology and code report for stored grids, or for a shapefile")
    chk.add_argument("path", nargs="?", help="grid file (.shp/.zip/.gpkg/.geojson) to check instead of the database")
    chk.add_argument("--json", action="store_true", help="JSON instead of text")
    _source_args(chk)
    chk.set_defaults(func=guard(_check))
