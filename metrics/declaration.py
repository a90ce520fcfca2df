"""Import a declaration (绩效目标表) from xlsx, map its rows to the catalogue, keep a reviewable mapping file.

The usual layout: a few header rows (项目名称, 预算(万元), the year in a title like "（2021年）"), then
a table headed 一级指标 / 二级指标 / 三级指标 / 指标值 (older forms say 一级目标 … 目标值; Guangdong's
form has 实施周期指标值 and 年度指标值). Level cells are merged down their rows; openpyxl gives None for
the cells under a merge, so the last value is carried down. Every row is kept, mapped or not:
a row that cannot be placed has indicator_code None and shows up in the mapping file, where
a person fills in the code (`write_mapping` → edit → `load_mapping` → `apply_mapping`).
A workbook may hold one declaration per sheet (a department's projects): `read_declarations`.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from metrics.catalogue import CATALOGUE, get_indicator
from metrics.matching import match_indicator, normalise_name
from metrics.targets import Target, normalise, parse_target

# Header words per column role; for the target the first found wins (annual value before the rest).
HEADERS: dict[str, tuple[str, ...]] = {
    "level1": ("一级指标", "一级目标"),
    "level2": ("二级指标", "二级目标"),
    "indicator": ("三级指标", "三级目标", "指标名称"),
    "target": ("年度指标值", "指标值", "目标值", "指标内容"),
    "period_target": ("实施周期指标值",),
    "description": ("绩效指标描述", "指标描述", "描述"),
}
REQUIRED = ("level1", "level2", "indicator", "target")
ROLE_NAMES = {"level1": "一级指标", "level2": "二级指标", "indicator": "三级指标", "target": "指标值",
              "period_target": "实施周期指标值", "description": "绩效指标描述"}
STOP_LABELS = ("项目预算分解", "预算分解", "填报单位负责人", "填表人", "主管部门审核意见", "审核意见", "制度保障")
PROJECT_LABELS = ("项目名称",)
BUDGET_LABELS = ("预算(万元)", "预算数", "项目预算", "当年预算", "项目总预算", "预算金额", "年度预算", "资金总额", "总计")
YEAR_LABELS = ("预算年度", "年度", "年份")
MAPPING_COLUMNS = ("工作表", "行号", "一级指标", "二级指标", "三级指标", "指标值", "指标编码", "指标名称", "匹配方式")
LEVEL1_KEYS = ("产出", "效益", "满意度")


class DeclarationError(ValueError):
    """A declaration that cannot be read; the message says what was expected and what was found, in zh and en."""

    def __init__(self, message_en: str, message_zh: str) -> None:
        self.message_en = message_en
        self.message_zh = message_zh
        super().__init__(f"{message_zh} / {message_en}")


class MappingError(DeclarationError):
    """A mapping file that does not fit the declaration (unknown code, other rows)."""


@dataclass(frozen=True)
class DeclarationRow:
    """One indicator row; `target` is the declared (annual) 指标值, parsed, with its original text."""

    level1: str
    level2: str
    indicator_text: str
    target: Target
    indicator_code: str | None
    row_number: int
    period_target: Target | None = None  # 实施周期指标值, where the form has one
    description: str = ""
    match: str = "none"  # exact | contains | fuzzy | description | ambiguous | none | mapping

    @property
    def scored_target(self) -> Target:
        """The annual target, or the period target when only that one is a number.

        Guangdong's form sometimes puts the formula in 年度指标值 ("办结率=办结数/上报数") and the
        number in 实施周期指标值 ("办结率达98%以上"): judging by the number keeps the row computable.
        """
        if self.target.is_numeric or self.period_target is None or not self.period_target.is_numeric:
            return self.target
        return self.period_target

    @property
    def level1_key(self) -> str | None:
        """产出 / 效益 / 满意度 for the weighting, from the wording of the level cells; None if unclear."""
        return level1_key(self.level1, self.level2)


@dataclass(frozen=True)
class Declaration:
    """One project's declaration: `rows` in table order, every row kept whether mapped or not."""

    project: str
    year: int | None
    budget_wan: float | None
    rows: list[DeclarationRow]
    sheet: str = ""
    source: str = ""

    @property
    def unmapped(self) -> list[DeclarationRow]:
        return [r for r in self.rows if r.indicator_code is None]


@dataclass(frozen=True)
class MappingEntry:
    """One reviewed line of a mapping file; code None means "not computed from data" by decision."""

    sheet: str
    row_number: int
    indicator_text: str
    code: str | None


def level1_key(level1: str, level2: str) -> str | None:
    """Forms say 产出指标/产出目标, 效益指标/效果指标/效果目标, 满意度指标 (or 影响力目标 › 满意度目标)."""
    if "满意" in level1:
        return "满意度"
    if "产出" in level1:
        return "产出"
    if "效益" in level1 or "效果" in level1:
        return "效益"
    if "满意" in level2:
        return "满意度"
    return "效益" if "影响" in level1 else None


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _label(value: Any) -> str:
    """Header-cell text without spaces, line breaks (vertical text) or the colon after a label."""
    text = unicodedata.normalize("NFKC", _cell_text(value))
    return re.sub(r"\s+", "", text).rstrip(":")


@dataclass(frozen=True)
class _Table:
    header_row: int  # 0-based index into the sheet's rows
    columns: dict[str, int]


def _header_columns(cells: list[Any]) -> dict[str, int]:
    labels = [_label(c) for c in cells]
    columns: dict[str, int] = {}
    for role, words in HEADERS.items():
        for word in words:
            if word in labels:
                columns[role] = labels.index(word)
                break
    return columns


def _split_label(text: str) -> tuple[str, str]:
    """"项目名称：平安建设" → ("项目名称", "平安建设"); a plain label has its value in a later cell."""
    folded = unicodedata.normalize("NFKC", text)
    if ":" in folded:
        label, value = folded.split(":", 1)
        return _label(label), value.strip()
    return _label(folded), ""


def _next_value(cells: list[str], index: int) -> str:
    return next((c for c in cells[index + 1:] if c), "")


def _parse_wan(value: str, label: str) -> float | None:
    """Budgets are in 万元 on these forms; a value written in plain 元 is converted."""
    text = normalise(value)
    number = re.search(r"\d+(?:\.\d+)?", text)
    if number is None:
        return None
    amount = float(number.group())
    if "万" not in text and "万元" not in label and text.endswith("元"):
        amount /= 10_000
    return amount


def _header_info(rows: list[list[str]]) -> tuple[str, int | None, float | None]:
    """Project name, year and budget from the rows above the indicator table."""
    found: dict[str, Any] = {}
    for cells in rows:
        for index, text in enumerate(cells):
            label, inline = _split_label(text)
            value = inline or _next_value(cells, index)
            if "project" not in found and label in PROJECT_LABELS and value:
                found["project"] = value
            elif "budget" not in found and label in BUDGET_LABELS:
                found["budget"] = _parse_wan(value, label)
            elif "year" not in found and label in YEAR_LABELS and (year := re.search(r"\d{4}", value)):
                found["year"] = int(year.group())
    if "year" not in found:
        titles = (re.search(r"(20\d{2})\s*年", c) for cells in rows for c in cells)
        found["year"] = next((int(m.group(1)) for m in titles if m), None)
    return found.get("project", ""), found["year"], found.get("budget")


def _row_from_cells(get: Any, level1: str, level2: str, row_number: int) -> DeclarationRow:
    period_text = get("period_target")
    row = DeclarationRow(level1=level1, level2=level2, indicator_text=get("indicator"),
                         target=parse_target(get("target")), indicator_code=None, row_number=row_number,
                         period_target=parse_target(period_text) if period_text else None,
                         description=get("description"))
    found = match_indicator(row.indicator_text, row.scored_target)
    if found.code is None and found.method == "none" and row.description:
        # a generic 三级指标 ("使用率") whose description names the thing ("…手机APP使用率"): the
        # description's exact or contained aliases only, never a fuzzy guess on a sentence
        by_description = match_indicator(row.description, row.scored_target, fuzzy=False)
        if by_description.code is not None:
            found = replace(by_description, method="description")
    return replace(row, indicator_code=found.code, match=found.method)


def _is_stop(cells: list[str]) -> bool:
    first = next((_label(c) for c in cells if c), "")
    return any(first.startswith(s) for s in STOP_LABELS) or set(REQUIRED) <= _header_columns(cells).keys()


def _table_rows(rows: list[list[str]], table: _Table) -> list[DeclarationRow]:
    """Rows below the header until the table ends; level cells carried down over merges and blanks."""
    level1 = level2 = ""
    out: list[DeclarationRow] = []
    for row_number, cells in enumerate(rows[table.header_row + 1:], start=table.header_row + 2):
        if _is_stop(cells):
            break

        def get(role: str, cells: list[str] = cells) -> str:
            col = table.columns.get(role)
            return cells[col] if col is not None and col < len(cells) else ""

        if _label(get("level1")):
            level1, level2 = _label(get("level1")), ""
        level2 = _label(get("level2")) or level2
        if get("indicator") or get("target"):
            out.append(_row_from_cells(get, level1, level2, row_number))
    return out


def _describe_sheet(title: str, rows: list[list[str]]) -> tuple[str, str]:
    """What a sheet without the table does hold: its partial header, or its first non-empty rows."""
    partial = max((_header_columns(c) for c in rows), key=len, default={})
    seen = [f"row {n}: " + " | ".join(c for c in cells if c)
            for n, cells in enumerate(rows, start=1) if any(cells)][:4]
    if partial:
        missing = [ROLE_NAMES[r] for r in REQUIRED if r not in partial]
        found_headers = [ROLE_NAMES[r] for r in partial]
        return (f"sheet {title!r} has columns {found_headers} but lacks {missing}",
                f"工作表“{title}”有表头 {'、'.join(found_headers)}，缺少 {'、'.join(missing)}")
    shown = "; ".join(seen) if seen else "nothing"
    return f"sheet {title!r} holds: {shown}", f"工作表“{title}”内容：{shown if seen else '空'}"


def _sheet_rows(worksheet: Any) -> list[list[str]]:
    return [[_cell_text(v) for v in row] for row in worksheet.iter_rows(values_only=True)]


def _declaration(title: str, rows: list[list[str]], source: str) -> Declaration | None:
    header = next((i for i, cells in enumerate(rows) if set(REQUIRED) <= _header_columns(cells).keys()), None)
    if header is None:
        return None
    table = _Table(header, _header_columns(rows[header]))
    project, year, budget = _header_info(rows[:header])
    return Declaration(project=project, year=year, budget_wan=budget, rows=_table_rows(rows, table),
                       sheet=title, source=source)


def _no_table_error(path: Path, sheets: list[tuple[str, list[list[str]]]]) -> DeclarationError:
    details = [_describe_sheet(title, rows) for title, rows in sheets]
    wanted_en = "a table headed 一级指标 / 二级指标 / 三级指标 / 指标值"
    wanted_zh = "表头为 一级指标、二级指标、三级指标、指标值（或 一级目标…目标值）的指标表"
    return DeclarationError(f"{path.name}: no indicator table found; expected {wanted_en}. "
                            + "; ".join(d[0] for d in details),
                            f"{path.name}：未找到{wanted_zh}。" + "；".join(d[1] for d in details))


def _load_sheets(path: str | Path) -> tuple[Path, list[tuple[str, list[list[str]]]]]:
    from openpyxl import load_workbook  # noqa: PLC0415  (only readers of xlsx pay for the import)

    path = Path(path)
    try:
        workbook = load_workbook(path, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors for non-xlsx files
        raise DeclarationError(f"{path.name}: cannot be read as an xlsx workbook ({exc})",
                               f"{path.name}：无法作为 xlsx 工作簿读取（{exc}）") from exc
    return path, [(ws.title, _sheet_rows(ws)) for ws in workbook.worksheets]


def read_declarations(path: str | Path, *, mapping: Mapping[tuple[str, int], MappingEntry] | None = None
                      ) -> list[Declaration]:
    """Every sheet that holds an indicator table, as one declaration each (sheets without one are skipped)."""
    path, sheets = _load_sheets(path)
    found = [d for title, rows in sheets if (d := _declaration(title, rows, str(path))) is not None]
    if not found:
        raise _no_table_error(path, sheets)
    return [apply_mapping(d, mapping) if mapping else d for d in found]


def read_declaration(path: str | Path, *, sheet: str | None = None,
                     mapping: Mapping[tuple[str, int], MappingEntry] | None = None) -> Declaration:
    """One declaration: the named sheet, or the first sheet with an indicator table."""
    path, sheets = _load_sheets(path)
    if sheet is not None:
        chosen = [s for s in sheets if s[0] == sheet]
        if not chosen:
            names = ", ".join(s[0] for s in sheets)
            raise DeclarationError(f"{path.name}: no sheet {sheet!r}; sheets: {names}",
                                   f"{path.name}：没有工作表“{sheet}”；现有工作表：{names}")
        sheets = chosen
    for title, rows in sheets:
        declaration = _declaration(title, rows, str(path))
        if declaration is not None:
            return apply_mapping(declaration, mapping) if mapping else declaration
    raise _no_table_error(path, sheets)


def write_mapping(path: str | Path, declarations: Declaration | Iterable[Declaration]) -> Path:
    """A CSV (UTF-8 with BOM, so Excel shows the Chinese) of every row and its code, for review.

    Edit the 指标编码 column (blank = not computed from data) and load it back with `load_mapping`.
    """
    items = [declarations] if isinstance(declarations, Declaration) else list(declarations)
    path = Path(path)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MAPPING_COLUMNS)
        for declaration in items:
            for row in declaration.rows:
                name = CATALOGUE[row.indicator_code].name_zh if row.indicator_code in CATALOGUE else ""
                writer.writerow((declaration.sheet, row.row_number, row.level1, row.level2, row.indicator_text,
                                 row.target.original, row.indicator_code or "", name, row.match))
    return path


def _mapping_entry(line: int, record: dict[str, str]) -> MappingEntry:
    code = (record.get("指标编码") or "").strip() or None
    if code is not None and code not in CATALOGUE:
        known = ", ".join(sorted(CATALOGUE))
        raise MappingError(f"mapping line {line}: unknown indicator code {code!r}; known: {known}",
                           f"映射文件第{line}行：未知的指标编码“{code}”")
    try:
        row_number = int((record.get("行号") or "").strip())
    except ValueError:
        raise MappingError(f"mapping line {line}: 行号 must be a row number, got {record.get('行号')!r}",
                           f"映射文件第{line}行：行号应为数字，实际为“{record.get('行号')}”") from None
    return MappingEntry(sheet=(record.get("工作表") or "").strip(), row_number=row_number,
                        indicator_text=(record.get("三级指标") or "").strip(), code=code)


def load_mapping(path: str | Path) -> dict[tuple[str, int], MappingEntry]:
    """Read a mapping CSV written by `write_mapping` (and edited by a person), keyed by (sheet, row)."""
    path = Path(path)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("行号", "三级指标", "指标编码") if c not in (reader.fieldnames or [])]
        if missing:
            raise MappingError(f"{path.name}: mapping file lacks columns {missing}",
                               f"{path.name}：映射文件缺少列 {'、'.join(missing)}")
        entries = [_mapping_entry(line, record) for line, record in enumerate(reader, start=2)]
    return {(e.sheet, e.row_number): e for e in entries}


def apply_mapping(declaration: Declaration, mapping: Mapping[tuple[str, int], MappingEntry]) -> Declaration:
    """Codes from a reviewed mapping file win over automatic matches; the row texts must still agree."""
    rows = []
    for row in declaration.rows:
        entry = mapping.get((declaration.sheet, row.row_number)) or mapping.get(("", row.row_number))
        if entry is None:
            rows.append(row)
            continue
        if normalise_name(entry.indicator_text) != normalise_name(row.indicator_text):
            raise MappingError(
                f"mapping row {row.row_number} of sheet {declaration.sheet!r} is {entry.indicator_text!r}, "
                f"the declaration has {row.indicator_text!r}: the mapping file is for another version",
                f"映射文件中工作表“{declaration.sheet}”第{row.row_number}行为“{entry.indicator_text}”，"
                f"申报表中为“{row.indicator_text}”：映射文件与申报表不一致")
        if entry.code is not None:
            get_indicator(entry.code)
        rows.append(replace(row, indicator_code=entry.code, match="mapping"))
    return replace(declaration, rows=rows)
