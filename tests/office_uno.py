"""Render office files with LibreOffice and measure what a printed page needs. Run with Debian's /usr/bin/python3.

Usage: python3 tests/office_uno.py OUT_DIR FILE...  → prints JSON {file: {"pdf": path, "rows": [...]}}

One LibreOffice process (private profile, so parallel runs and a user's own LibreOffice never
meet) converts every file to PDF and, for spreadsheets, reports per row its height as written
and the height LibreOffice itself needs for the row's text ("optimal height", measured after
the PDF was written). The PDF cannot tell clipped text: LibreOffice still emits the glyphs of
a cell that overflows and pdftotext extracts them, so the heights are compared instead.
LibreOffice's optimal height ignores merged cells: the caller knows which rows hold them.

`uno` comes with Debian's python3-uno (installed with libreoffice-calc), for /usr/bin/python3
only: the tests call this script in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uno  # type: ignore[import-not-found]
from com.sun.star.beans import PropertyValue  # type: ignore[import-not-found]
from com.sun.star.connection import NoConnectException  # type: ignore[import-not-found]

HUNDREDTH_MM_PER_PT = 2540 / 72


def _props(**values: object) -> tuple[PropertyValue, ...]:
    out = []
    for name, value in values.items():
        p = PropertyValue()
        p.Name, p.Value = name, value
        out.append(p)
    return tuple(out)


def _connect(pipe: str, deadline: float):  # type: ignore[no-untyped-def]
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    while True:
        try:
            ctx = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
            return ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        except NoConnectException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _rows(doc) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    out: list[dict[str, object]] = []
    sheets = doc.Sheets
    for i in range(sheets.Count):
        sheet = sheets.getByIndex(i)
        cursor = sheet.createCursor()
        cursor.gotoEndOfUsedArea(False)
        last = cursor.RangeAddress.EndRow
        for r in range(last + 1):
            row = sheet.Rows.getByIndex(r)
            written = row.Height
            row.OptimalHeight = True
            needed = row.Height
            out.append({"sheet": sheet.Name, "row": r + 1, "written_pt": round(written / HUNDREDTH_MM_PER_PT, 1),
                        "needed_pt": round(needed / HUNDREDTH_MM_PER_PT, 1)})
    return out


def main(out_dir: str, files: list[str]) -> dict[str, object]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="gridops-lo-")
    pipe = f"gridops_{os.getpid()}"
    office = subprocess.Popen(["soffice", "--headless", "--invisible", "--norestore", "--nologo",
                               f"-env:UserInstallation=file://{profile}", f"--accept=pipe,name={pipe};urp;"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result: dict[str, object] = {}
    try:
        desktop = _connect(pipe, time.monotonic() + 60)
        for name in files:
            path = Path(name).resolve()
            doc = desktop.loadComponentFromURL(path.as_uri(), "_blank", 0, _props(Hidden=True))
            try:
                spreadsheet = doc.supportsService("com.sun.star.sheet.SpreadsheetDocument")
                pdf = out / (path.stem + ".pdf")
                doc.storeToURL(pdf.resolve().as_uri(),
                               _props(FilterName="calc_pdf_Export" if spreadsheet else "writer_pdf_Export"))
                result[name] = {"pdf": str(pdf), "rows": _rows(doc) if spreadsheet else []}
            finally:
                doc.close(True)
        try:
            desktop.terminate()
        except Exception:  # noqa: BLE001  (the bridge goes away with the process)
            pass
    finally:
        try:
            office.wait(timeout=20)
        except subprocess.TimeoutExpired:
            office.kill()
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2:]), ensure_ascii=False))
