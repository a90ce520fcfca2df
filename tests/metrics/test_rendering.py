"""Every generated xlsx and docx, printed by LibreOffice to PDF, as the finance bureau gets it.

One LibreOffice start for all documents (tests/office_uno.py, a private profile); then, per PDF:
page count, every cell's text found as printed (pdftotext), no `e+` notation, the Chinese fonts
embedded (pdffonts); per spreadsheet row, the height written is at least what LibreOffice needs
for the row's text. pdftotext alone cannot see clipping: LibreOffice still writes the glyphs of
a cell whose text overflows (tried: a 15 pt row holding five lines extracts whole), so the row
heights are measured by LibreOffice itself (its "optimal height"). Rows holding a merged cell are
left out of that comparison: LibreOffice's optimal height ignores merged cells (their text is
still checked in the PDF).

Needs LibreOffice (calc, writer, python3-uno) and poppler-utils: `./dev` installs them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.cell.cell import Cell

from metrics import numbers
from server.events import export
from tests.metrics import documents

UNO_SCRIPT = Path(__file__).resolve().parents[1] / "office_uno.py"
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's python3-uno is for the system interpreter only
SCIENTIFIC = re.compile(r"\d[.,]?\d*[eE][+-]\d")
CJK_FONT = re.compile(r"CJK|Song|Hei|Ming|Kai|Fang|WenQuanYi|Droid Sans Fallback", re.IGNORECASE)


@dataclass(frozen=True)
class Rendered:
    source: Path
    pdf: Path
    rows: list[dict[str, Any]]

    @property
    def text(self) -> str:
        return subprocess.run(["pdftotext", "-raw", str(self.pdf), "-"], capture_output=True, text=True,
                              check=True).stdout

    @property
    def pages(self) -> int:
        info = subprocess.run(["pdfinfo", str(self.pdf)], capture_output=True, text=True, check=True).stdout
        return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))  # type: ignore[union-attr]

    @property
    def fonts(self) -> list[tuple[str, bool]]:
        out = subprocess.run(["pdffonts", str(self.pdf)], capture_output=True, text=True, check=True).stdout
        lines = out.splitlines()[2:]
        return [(line.split()[0], line.split()[-5] == "yes") for line in lines if line.strip()]


def _event_rows() -> list[list[object]]:
    """Export rows as server.events.export builds them: 15-digit grid codes, local naive times."""
    at = datetime(2026, 11, 18, 9, 30)
    return [[f"2026-{n:06d}", "垃圾堆放", "已办结", f"440112001001{n:03d}", "440112001000", f"w{n:03d}",
             at + timedelta(hours=n), at + timedelta(days=3), at + timedelta(days=1, hours=n), "否", "是",
             "城管执法队", "满意", "黄埔区开创大道2号", 113.4512345, 23.1712345,
             "路边垃圾堆放，已清运完毕" * 3, f"8c9a{n:04d}-0000-4000-8000-000000000000"] for n in range(1, 21)]


def _check_tools() -> None:
    missing = [t for t in ("soffice", "pdftotext", "pdffonts", "pdfinfo") if shutil.which(t) is None]
    if missing or not Path(SYSTEM_PYTHON).exists():
        pytest.fail(f"render tests need {missing or SYSTEM_PYTHON}: install libreoffice-calc libreoffice-writer "
                    "python3-uno poppler-utils (./dev does)")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendered]:
    _check_tools()
    folder = tmp_path_factory.mktemp("render")
    sources = {
        "golden": documents.golden_self_evaluation(folder / "golden.xlsx"),
        "mismatch": documents.mismatched_self_evaluation(folder / "mismatch.xlsx"),
        "monitoring": documents.monitoring(folder / "monitoring.xlsx"),
        "weekly": documents.weekly_docx(folder),
    }
    events = folder / "events.xlsx"
    events.write_bytes(export.render_xlsx(_event_rows())[0])
    sources["events"] = events
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the clock-ahead pass's hook is the venv's
    run = subprocess.run([SYSTEM_PYTHON, str(UNO_SCRIPT), str(folder / "pdf"), *map(str, sources.values())],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    return {key: Rendered(path, Path(found[str(path)]["pdf"]), found[str(path)]["rows"])
            for key, path in sources.items()}


def shown(cell: Cell) -> str:
    """A cell's value as a spreadsheet displays it (the number formats the writers use)."""
    value, fmt = cell.value, cell.number_format
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S" if fmt.endswith("ss") else "%Y-%m-%d %H:%M")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if fmt.endswith("%"):
            return f"{value * 100:.2f}%"
        if fmt.startswith("#,##0"):
            return f"{value:,.{len(fmt.partition('.')[2])}f}"
        return str(value)
    return str(value)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


SPREADSHEETS = ("golden", "mismatch", "monitoring", "events")


@pytest.mark.parametrize("key", SPREADSHEETS)
def test_every_cell_is_printed_as_shown(rendered: dict[str, Rendered], key: str) -> None:
    """Each cell's text is in the PDF (no ###, nothing dropped); wrapped cells come out line by line."""
    doc = rendered[key]
    printed = _squash(doc.text)
    book = load_workbook(doc.source)
    missing = [(ws.title, c.coordinate, shown(c)) for ws in book.worksheets for row in ws.iter_rows() for c in row
               if c.value is not None and _squash(shown(c)) not in printed]
    assert not missing


@pytest.mark.parametrize("key", [*SPREADSHEETS, "weekly"])
def test_no_scientific_notation_and_fonts_embedded(rendered: dict[str, Rendered], key: str) -> None:
    doc = rendered[key]
    assert not SCIENTIFIC.findall(doc.text)
    fonts = doc.fonts
    assert fonts and all(embedded for _, embedded in fonts), fonts
    assert any(CJK_FONT.search(name) for name, _ in fonts), fonts


@pytest.mark.parametrize("key", ("golden", "mismatch", "monitoring"))
def test_rows_are_tall_enough_for_their_text(rendered: dict[str, Rendered], key: str) -> None:
    doc = rendered[key]
    book = load_workbook(doc.source)
    merged = {(ws.title, r) for ws in book.worksheets for m in ws.merged_cells.ranges
              for r in range(m.min_row, m.max_row + 1)}
    short = [r for r in doc.rows if (r["sheet"], r["row"]) not in merged and r["written_pt"] + 0.5 < r["needed_pt"]]
    assert not short
    assert len([r for r in doc.rows if (r["sheet"], r["row"]) not in merged]) > 5  # the comparison ran


def test_page_counts(rendered: dict[str, Rendered]) -> None:
    """Each table on one A4 landscape page, each 明细 sheet on its own; the weekly report on four A4 pages."""
    golden_sheets = load_workbook(rendered["golden"].source).sheetnames
    assert rendered["golden"].pages == len(golden_sheets) == 5
    assert rendered["mismatch"].pages == len(load_workbook(rendered["mismatch"].source).sheetnames) == 3
    assert rendered["monitoring"].pages == 1
    assert rendered["weekly"].pages <= 4


def test_the_weekly_report_prints_codes_whole_and_says_what_it_cut(rendered: dict[str, Rendered]) -> None:
    """Event numbers, grid and device codes on one line each; totals stated next to cut lists."""
    summary = documents.weekly_summary()
    words = set(subprocess.run(["pdftotext", str(rendered["weekly"].pdf), "-"], capture_output=True, text=True,
                               check=True).stdout.split())
    codes = [e.serial for e in summary.overdue] + [e.grid_code for e in summary.overdue] + \
        [d.device_code for d in summary.device_outages]
    assert [c for c in codes if c not in words] == []
    printed = _squash(rendered["weekly"].text)
    assert "共176个网格有新增事件" in printed and "（仅列前10项，共176项）" in printed
    assert "超期的事件312件" in printed and "（仅列前50项，共312项）" in printed
    assert "离线设备44台" in printed and numbers.number(1123790.5, "小时").removesuffix("小时") in printed


def test_the_export_keeps_codes_as_text_and_times_as_dates(rendered: dict[str, Rendered]) -> None:
    ws = load_workbook(rendered["events"].source).active
    assert ws["D2"].value == "440112001001001" and ws["D2"].number_format == "@"
    assert isinstance(ws["G2"].value, datetime) and ws["G2"].number_format == export.DATETIME_FORMAT
    assert "440112001001001" in rendered["events"].text and "2026-11-1810:30:00" in _squash(rendered["events"].text)


def test_a_spreadsheet_reader_keeps_csv_codes_as_text(tmp_path: Path) -> None:
    """LibreOffice opening the CSV as it comes (default filter options): codes stay text, not 4.40112E+14."""
    _check_tools()
    data = _event_rows()[:2]
    data[0][3] = "440112001001001"
    data[1][0] = "44011200000000000001"  # a 20-digit device-style code in a code column
    path = tmp_path / "events.csv"
    path.write_bytes(export.render_csv(data)[0])
    profile = tmp_path / "profile"
    subprocess.run(["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", "xlsx",
                    "--infilter=CSV:44,34,76,1", "--outdir", str(tmp_path / "out"), str(path)],
                   capture_output=True, timeout=120, check=True)
    ws = load_workbook(tmp_path / "out" / "events.xlsx").active
    assert [ws["D2"].value.strip(), ws["A3"].value.strip()] == ["440112001001001", "44011200000000000001"]
    assert isinstance(ws["D2"].value, str) and isinstance(ws["A3"].value, str)


