"""Print-ready sheet layout shared by the self-evaluation and monitoring tables.

These tables are printed, stamped and filed, so every sheet gets the same treatment: a merged
title, thin borders on every table cell, wrapped text, fixed column widths, A4 landscape fitted
to one page wide with the header row repeated on every page, and level cells (一级/二级指标)
merged down their rows the way the budget office's own forms are.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from metrics.office_text import office_text

FONT_NAME = "宋体"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
_SIDE = Side(style="thin", color="000000")
BORDER = Border(left=_SIDE, right=_SIDE, top=_SIDE, bottom=_SIDE)
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
MANUAL_FILL = PatternFill("solid", fgColor="FFF2CC")  # cells a person must fill in
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)


def write_title(ws: Worksheet, row: int, text: str, columns: int, *, size: int = 16, bold: bool = True,
                centred: bool | None = None) -> None:
    """A line of text merged across the table's width; bold titles are centred unless told otherwise."""
    cell = ws.cell(row=row, column=1, value=office_text(text))
    cell.font = Font(name=FONT_NAME, size=size, bold=bold)
    cell.alignment = CENTER if (bold if centred is None else centred) else LEFT
    ws.merge_cells(start_row=row, end_row=row, start_column=1, end_column=columns)


def write_header(ws: Worksheet, row: int, labels: Sequence[str]) -> None:
    for column, label in enumerate(labels, start=1):
        cell = ws.cell(row=row, column=column, value=office_text(label))
        cell.font = Font(name=FONT_NAME, size=11, bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = CENTER
        cell.border = BORDER


def cell_value(value: Any) -> Any:
    """What openpyxl can store: aware datetimes as naive Asia/Shanghai date cells (Excel has no time
    zones), bools as 是/否, text without the control characters XML cannot hold."""
    if isinstance(value, str):
        return office_text(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(LOCAL_TZ).replace(tzinfo=None)
    if value is None or isinstance(value, (int, float, date)):
        return value
    return office_text(str(value))


def write_row(ws: Worksheet, row: int, values: Sequence[Any], *, left_columns: Iterable[int] = ()) -> None:
    """One bordered, wrapped table row; `left_columns` (1-based) hold prose and align left."""
    lefts = set(left_columns)
    for column, value in enumerate(values, start=1):
        cell = ws.cell(row=row, column=column, value=cell_value(value))
        if isinstance(cell.value, datetime):
            cell.number_format = DATETIME_FORMAT
        cell.font = Font(name=FONT_NAME, size=10)
        cell.alignment = LEFT if column in lefts else CENTER
        cell.border = BORDER


def set_widths(ws: Worksheet, widths: Sequence[float]) -> None:
    for column, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(column)].width = width


def merge_runs(ws: Worksheet, first_row: int, keys: Sequence[Sequence[str]], columns: Sequence[int]) -> None:
    """Merge runs of equal values down each column, nested: a run never crosses one of the columns before it.

    `keys[i][k]` is row first_row+i's value in `columns[k]` (1-based). Only the first cell of a
    run keeps its value, as in a form merged by hand.
    """
    for depth, column in enumerate(columns):
        start = 0
        for i in range(1, len(keys) + 1):
            if i < len(keys) and keys[i][: depth + 1] == keys[start][: depth + 1]:
                continue
            if i - 1 > start:
                for r in range(first_row + start + 1, first_row + i):
                    ws.cell(row=r, column=column).value = None
                ws.merge_cells(start_row=first_row + start, end_row=first_row + i - 1,
                               start_column=column, end_column=column)
            start = i


def write_level_rows(ws: Worksheet, first_row: int, lines: Sequence[Sequence[Any]], *, left_columns: Iterable[int],
                     manual_columns: Iterable[int], is_manual: Callable[[Sequence[Any]], bool]) -> int:
    """Indicator rows whose first two columns are 一级/二级指标 (merged down), manual cells shaded; returns the last row."""
    manual = tuple(manual_columns)
    for offset, values in enumerate(lines):
        write_row(ws, first_row + offset, values, left_columns=left_columns)
        if is_manual(values):
            for column in manual:
                ws.cell(row=first_row + offset, column=column).fill = MANUAL_FILL
    merge_runs(ws, first_row, [(v[0], v[1]) for v in lines], (1, 2))
    return first_row + len(lines) - 1


def display_width(text: str) -> int:
    """Columns a text takes in Excel's width units: Chinese (wide) characters count two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


POINTS_PER_WIDTH_UNIT = 5.6  # one column-width unit as LibreOffice lays it out (measured: tests/office_uno.py)
CELL_PADDING_PT = 4.0
LINE_SPACING = 1.5  # the CJK fonts LibreOffice and Word fall back to for 宋体 need ~1.45 em a line
FIT_MARGIN = 0.9  # fill lines to 90 %: proportional digits and punctuation vary


def lines_needed(text: str, width_units: float, font_size: float = 10.0) -> int:
    """Wrapped lines `text` takes in a cell `width_units` wide: half-width characters count one, wide ones two."""
    capacity = max(1.0, 2 * (width_units * POINTS_PER_WIDTH_UNIT - CELL_PADDING_PT) / font_size * FIT_MARGIN)
    if "\n" not in text and 2 * len(text) <= capacity:  # one line even if every character were wide
        return 1
    return sum(max(1, math.ceil(display_width(part) / capacity)) for part in text.split("\n"))


def text_height(text: str, width_units: float, font_size: float = 11.0) -> float:
    """Points the wrapped `text` needs in a cell `width_units` wide, without the cell's padding."""
    return lines_needed(text, width_units, font_size) * font_size * LINE_SPACING


def row_height(cells: Iterable[tuple[str, float]], font_size: float = 11.0) -> float:
    """The height of a row holding at least one line of text, for its (text, column width) cells that
    may wrap: what fit_row_heights sets, for writers that cannot look back at a sheet (write-only mode)."""
    return max([font_size * LINE_SPACING, *(text_height(t, w, font_size) for t, w in cells)]) + CELL_PADDING_PT


def _column_width(ws: Worksheet, column: int) -> float:
    return ws.column_dimensions[get_column_letter(column)].width or 8.43


def fit_row_heights(ws: Worksheet, first_row: int, last_row: int) -> None:
    """Row heights from the wrapped text, which openpyxl cannot measure and LibreOffice does not refit.

    A cell merged across columns wraps over their summed width; a cell merged down several rows
    spreads its lines over them, and the last of those rows grows if they are too low together.
    The result is checked by rendering the sheets to PDF (tests/metrics/test_rendering.py).
    """
    tops = {(m.min_row, m.min_col): m for m in ws.merged_cells.ranges}
    hidden = {(r, c) for m in ws.merged_cells.ranges for r in range(m.min_row, m.max_row + 1)
              for c in range(m.min_col, m.max_col + 1) if (r, c) != (m.min_row, m.min_col)}
    spans: list[tuple[int, int, float]] = []
    for row in range(first_row, last_row + 1):
        height = 0.0
        for cell in ws[row]:
            if cell.value is None or (row, cell.column) in hidden:
                continue
            merged = tops.get((row, cell.column))
            columns = range(merged.min_col, merged.max_col + 1) if merged else [cell.column]
            size = float(cell.font.sz or 11) if cell.font else 11.0
            text = str(cell.value) if not isinstance(cell.value, (int, float)) else f"{cell.value:,.2f}"
            needed = text_height(text, sum(_column_width(ws, c) for c in columns), size)
            if merged is not None and merged.max_row > merged.min_row:
                spans.append((merged.min_row, merged.max_row, needed))
            else:
                height = max(height, needed)
        ws.row_dimensions[row].height = max(height, 10 * LINE_SPACING) + CELL_PADDING_PT
    for top, bottom, needed in spans:
        total = sum(ws.row_dimensions[r].height or 15 for r in range(top, bottom + 1))
        if total < needed + CELL_PADDING_PT:
            ws.row_dimensions[bottom].height = (ws.row_dimensions[bottom].height or 15) + needed + CELL_PADDING_PT - total


def setup_print(ws: Worksheet, *, header_row: int, last_column: int, last_row: int) -> None:
    """A4 landscape, one page wide, header row repeated, centred, with a print area."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages down as needed
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.print_area = f"A1:{get_column_letter(last_column)}{last_row}"
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)


def safe_sheet_title(text: str, taken: Iterable[str] = ()) -> str:
    """Excel's rules (31 characters, none of []:*?/\\), made unique against the titles already used."""
    base = "".join(c for c in text if c not in "[]:*?/\\")[:31] or "Sheet"
    used = set(taken)
    title, n = base, 2
    while title in used:
        suffix = f"({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    return title
