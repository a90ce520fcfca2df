"""The administrative tree from the statistical division list (统计用区划代码), all or nothing.

The National Bureau of Statistics publishes, per area, rows of 统计用区划代码 (12 digits),
城乡分类代码 (3 digits, communities only) and 名称. The level follows from the code (gis.codes):
a district is kept under its 6 GB/T 2260 digits, streets and communities under all 12. Every row
is checked against the file and the database before anything is written: a parent that is in
neither, a code twice, a code already stored under another name or retired, a malformed code
or name. Province and city rows above the districts are skipped (noted, not blocking).
Names are kept exactly as given (居委会, 村委会 and all).

Community boundaries (a polygon layer keyed by community code) are checked like grids and set
all at once; they let the grid check find gaps and grids spilling into a neighbour.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gis import codes
from gis.shapefile_io import GridFeature
from gis.topology import LABELS_ZH, CheckInput, check_boundaries
from server import sheets
from server.divisions import service
from server.divisions.models import Community, District, Street
from server.divisions.schemas import BoundaryFinding, BoundaryImportReport, DivisionImportReport
from server.geometry import as_multipolygon, to_shapely
from server.inputs import has_control_characters
from server.sheets import RowError

COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("统计用区划代码", "区划代码", "代码", "code"),
    "urban_rural": ("城乡分类代码", "城乡分类", "urban_rural_code"),
    "name": ("名称", "区划名称", "name"),
}
REQUIRED = ("code", "name")
LABEL = {field: names[0] for field, names in COLUMNS.items()}
NAME_MAX = 64  # the name columns' length
MODELS = {"district": District, "street": Street, "community": Community}


@dataclass
class _Row:
    number: int
    level: str
    code: str  # stored form: 6 digits for a district
    name: str


def _error(row: int, column: str | None, code: str, en: str, zh: str, blocking: bool = True) -> RowError:
    return RowError(row=row, column=LABEL.get(column or "", column), code=code, message=en, message_zh=zh,
                    blocking=blocking)


def _check_row(number: int, values: dict[str, Any], cols: dict[str, str]) -> tuple[_Row | None, list[RowError]]:
    raw = values.get(cols["code"])
    code, name = sheets.text(raw), sheets.text(values.get(cols["name"]))
    if code is None:
        return None, [_error(number, "code", "missing_value", "the code is empty", "统计用区划代码为空")]
    if problem := codes.statistical_code_problem(code):
        return None, [_error(number, "code", "malformed_code", problem.en, problem.zh)]
    level = codes.statistical_level(code)
    if level in ("province", "city"):
        return None, [_error(number, "code", "skipped_level", f"{code} is a {level}: skipped",
                             f"{code} 是{'省级' if level == 'province' else '地市级'}区划，已跳过", blocking=False)]
    errors = []
    if not name or len(name) > NAME_MAX or has_control_characters(name):
        errors.append(_error(number, "name", "bad_name", f"name of {code}: 1 to {NAME_MAX} characters, no control "
                             "characters", f"{code} 的名称须为 1–{NAME_MAX} 个字符，且不含控制字符"))
    urban_rural = sheets.text(values.get(cols["urban_rural"])) if "urban_rural" in cols else None
    if urban_rural and level == "community" and urban_rural not in codes.URBAN_RURAL_CODES:
        errors.append(_error(number, "urban_rural", "bad_urban_rural_code",
                             f"urban-rural code {urban_rural!r} is not one of {sorted(codes.URBAN_RURAL_CODES)}",
                             f"城乡分类代码“{urban_rural}”无效（应为111、112、121、122、123、210、220之一）",
                             blocking=False))
    return _Row(number, level, codes.stored_division_code(code), name or ""), errors


def _stored(db_session: Session, rows: list[_Row]) -> dict[str, tuple[str, bool]]:
    """{stored code: (name, retired)} of the rows' codes and their parents already in the database."""
    wanted = {r.code for r in rows} | {p for r in rows if (p := codes.parent_division_code(r.code))}
    out: dict[str, tuple[str, bool]] = {}
    for model in (District, Street, Community):
        q = select(model).where(model.code.in_(wanted))
        for obj in db_session.scalars(q):
            out[obj.code] = (obj.name, getattr(obj, "retired_at", None) is not None)
    return out


def _chain_errors(rows: list[_Row], stored: dict[str, tuple[str, bool]]) -> tuple[list[RowError], list[_Row]]:
    """Duplicates, parents missing from file and database, codes stored already; and the rows to create."""
    errors, new = [], []
    seen = Counter(r.code for r in rows)
    in_file = {r.code for r in rows}
    for r in rows:
        parent = codes.parent_division_code(r.code)
        if seen[r.code] > 1:
            errors.append(_error(r.number, "code", "duplicate_code", f"code {r.code} appears {seen[r.code]} times",
                                 f"区划代码 {r.code} 在文件中出现 {seen[r.code]} 次"))
        if parent is not None and parent not in in_file and (parent not in stored or stored[parent][1]):
            errors.append(_error(r.number, "code", "unknown_parent",
                                 f"{r.code}: its parent {parent} is neither in the file nor registered",
                                 f"{r.code} 的上级区划 {parent} 既不在文件中，也未登记"))
        if r.code in stored:
            name, retired = stored[r.code]
            if retired:
                errors.append(_error(r.number, "code", "code_retired", f"{r.code} was retired: codes are never reused",
                                     f"区划代码 {r.code} 已撤销，不可复用"))
            elif name != r.name:
                errors.append(_error(r.number, "name", "code_exists",
                                     f"{r.code} is registered as {name!r}: rename it through the API",
                                     f"区划代码 {r.code} 已登记为“{name}”，如需更名请通过接口修改"))
        elif seen[r.code] == 1:
            new.append(r)
    return errors, new


def _write(db_session: Session, new: list[_Row]) -> None:
    """Parents first: districts, then streets, then communities (the service checks each chain again)."""
    for r in sorted(new, key=lambda r: (list(MODELS).index(r.level), r.code)):
        if r.level == "district":
            service.create_district(db_session=db_session, code=r.code, name=r.name)
        elif r.level == "street":
            service.create_street(db_session=db_session, code=r.code, name=r.name,
                                  district_code=codes.parent_division_code(r.code) or "")
        else:
            service.create_community(db_session=db_session, code=r.code, name=r.name,
                                     street_code=codes.parent_division_code(r.code) or "")


def import_divisions(*, db_session: Session, sheet: sheets.Sheet, apply: bool) -> DivisionImportReport:
    """Check every row; write only when `apply` and no row has a blocking error (flushed, the caller commits)."""
    cols = sheets.column_map(sheet, COLUMNS)
    if header := sheets.missing_columns(sheet, COLUMNS, REQUIRED):
        return DivisionImportReport(rows=len(sheet.rows), errors=[header], committed=False)
    errors: list[RowError] = []
    rows: list[_Row] = []
    for number, values in sheet.rows:
        row, row_errors = _check_row(number, values, cols)
        errors += row_errors
        if row is not None:
            rows.append(row)
    stored = _stored(db_session, rows)
    chain_errors, new = _chain_errors(rows, stored)
    errors += chain_errors
    commit = apply and not any(e.blocking for e in errors)
    if commit:
        _write(db_session, new)
        db_session.flush()
    counts = Counter(r.level for r in new)
    errors.sort(key=lambda e: (e.row, e.code))
    return DivisionImportReport(
        rows=len(sheet.rows), districts=counts["district"], streets=counts["street"], communities=counts["community"],
        unchanged=sum(1 for r in rows if r.code in stored and stored[r.code][0] == r.name),
        created=[r.code for r in new] if commit else [], errors=errors, committed=commit)


# ---------------------------------------------------------------- community boundaries
BOUNDARY_KIND_ZH = {**LABELS_ZH, "overlap": "社区重叠", "unknown_community": "社区不存在",
                    "community_retired": "社区已撤销"}


def _boundary_finding(kind: str, community_codes: list[str], detail: str, area: float | None = None,
                      ) -> BoundaryFinding:
    return BoundaryFinding(kind=kind, kind_zh=BOUNDARY_KIND_ZH.get(kind, kind), community_codes=community_codes,
                           area_m2=area, detail=detail)


def import_boundaries(*, db_session: Session, features: list[GridFeature], source_epsg: int, encoding: str,
                      apply: bool, overlap_tolerance_m2: float = 1.0) -> BoundaryImportReport:
    """Check the boundaries against each other (codes, rings, validity, overlaps) and the registered
    communities, together with the stored boundaries of the others; set them all, or none."""
    wanted = {f.code for f in features}
    communities = service.communities_by_code(db_session=db_session, codes_=wanted)
    findings = []
    for f in features:
        c = communities.get(f.code)
        if c is None and codes.community_code_problem(f.code) is None:
            findings.append(_boundary_finding("unknown_community", [f.code], f"community {f.code} is not registered"))
        elif c is not None and c.retired_at is not None:
            findings.append(_boundary_finding("community_retired", [f.code], f"community {f.code} is retired"))
    others = [CheckInput(c.code, to_shapely(c.boundary)) for c in db_session.scalars(
        select(Community).where(Community.boundary.is_not(None), Community.retired_at.is_(None),
                                Community.code.not_in(wanted)))]
    checked = [CheckInput(f.code, f.geometry) for f in features]
    findings += [_boundary_finding(t.kind, list(t.grid_codes), t.detail, t.area_m2)
                 for t in check_boundaries(checked + others, overlap_tolerance_m2=overlap_tolerance_m2)
                 if wanted.intersection(t.grid_codes)]
    commit = apply and not findings
    if commit:
        service.set_boundaries(db_session=db_session, boundaries={f.code: as_multipolygon(f.geometry) for f in features})
    return BoundaryImportReport(source_epsg=source_epsg, encoding=encoding, features=len(features),
                                updated=sorted(wanted) if commit else [], findings=findings, committed=commit)
