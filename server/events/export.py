"""Event lists as CSV or xlsx, with Chinese headers and times in Asia/Shanghai, that survive a spreadsheet,
written page by page so that a district's year (100,000 events) costs neither minutes nor memory.

What a spreadsheet does to a plain export, and what is done against it:
* **Codes become numbers.** A 15-digit grid code or a 20-digit device code is read as a number
  (4.40112E+14, the last digits lost). In the xlsx every code is a text cell (format "@"). In
  the CSV every code is written with a leading tab (TEXT_PREFIX): Excel and LibreOffice both keep
  such a field as text (the `="…"` idiom works in Excel only; LibreOffice shows it literally).
  Scripts reading the CSV strip the tab (`value.strip()`).
* **Times are text.** In the xlsx times are date cells: naive Asia/Shanghai datetimes with the
  format yyyy-mm-dd hh:mm:ss, so they sort, filter and subtract. In the CSV they are text in the
  same form.
* **Older Excel garbles UTF-8.** The CSV is UTF-8 with a BOM by default; `encoding=gbk` gives it
  in GB18030, the superset of GBK that Chinese Windows reads as its own code page: every GBK
  character is the same bytes, and characters outside GBK are kept (four bytes) rather than lost.

How it scales: the events are read by one ordered query whose cursor is fetched a page
(PAGE_SIZE events) at a time, and a page costs the same three statements (the presenter's name
lookups, server.events.presenters) however many rows it holds; memory holds a page, not the export. The CSV goes out page by page as it is read. An xlsx is a zip whose directory
comes last, and XlsxWriter's constant-memory mode keeps the sheet's rows in a temporary file until
the workbook is closed, so the xlsx is written to a temporary file on disk (memory stays flat) and
sent once finished (server.events.views).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from itertools import chain
from typing import Any
from zoneinfo import ZoneInfo

import xlsxwriter
from sqlalchemy.orm import Session
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from metrics.office_text import office_text
from metrics.xlsx_layout import display_width, row_height
from server.auth.models import User
from server.config import get_settings
from server.events import serials, service
from server.events.enums import (
    SATISFACTION_LABELS_ZH,
    STATE_LABELS_ZH,
    EventState,
    Satisfaction,
)
from server.events.models import Event
from server.events.presenters import names

HEADERS = ["事件编号", "事件类别", "状态", "网格编码", "街道编码", "上报人", "上报时间", "办结时限", "办结时间",
           "是否超期", "是否正常办结", "承办部门", "满意度", "地址", "经度(CGCS2000)", "纬度(CGCS2000)", "事件描述",
           "UUID"]
CODE_COLUMNS = frozenset({"事件编号", "网格编码", "街道编码", "UUID"})
TIME_COLUMNS = frozenset({"上报时间", "办结时限", "办结时间"})
PROSE_COLUMNS = frozenset({"地址", "事件描述"})  # long text: wrapped, rows as tall as the text
# Short free text whose width is known only from the rows: the xlsx fixes its column widths before
# the first row (the rows are streamed), from the first page, so a longer value further down wraps too.
WRAPPED_COLUMNS = PROSE_COLUMNS | {"事件类别", "上报人", "承办部门"}
# Widths (Excel units) every value of a fixed-form column fits: serials, codes, UUIDs, times, 是/否.
FIXED_WIDTHS = {"事件编号": 14, "网格编码": 17, "街道编码": 14, "UUID": 38, "上报时间": 21, "办结时限": 21,
                "办结时间": 21, "经度(CGCS2000)": 16, "纬度(CGCS2000)": 16}
TEXT_PREFIX = "\t"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
ENCODINGS = {"utf-8": ("utf-8-sig", "utf-8"), "gbk": ("gb18030", "GB18030")}
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_TITLE = "网格事件"
PAGE_SIZE = 1000  # events per page (a cursor fetch, three name lookups): a few MB of Python objects at most
MAX_WIDTH, MIN_WIDTH = 50, 10

# What an export reads of an event: not the geometry (lon/lat are its columns, SpatiaLite would
# convert every point to WKB for nothing), and not through the ORM (see pages).
COLUMNS = (Event.id, Event.serial, Event.category_code, Event.state, Event.grid_id, Event.street_code,
           Event.reporter_id, Event.reported_at, Event.closure_due_at, Event.closed_at, Event.overdue,
           Event.closed_on_time, Event.dispatched_to, Event.satisfaction, Event.address, Event.lon, Event.lat,
           Event.description, Event.uuid)
Row = list[object]
Scope = Callable[[], AbstractContextManager[Session]]


def _local(value: datetime | None) -> datetime | None:
    """Naive local time to the second: Excel has no time zones, so the cell holds what the clock on the wall said."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(get_settings().timezone)).replace(tzinfo=None, microsecond=0)


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("是" if value else "否")


def rows(db_session: Session, events: Sequence[Any]) -> list[Row]:
    """Export rows of events (rows of COLUMNS), their names looked up once for all of them."""
    n = names(db_session, events)
    out: list[Row] = []
    for e in events:
        satisfaction = SATISFACTION_LABELS_ZH[Satisfaction(e.satisfaction)] if e.satisfaction else ""
        out.append([serials.shown(e.serial), n.categories.get(e.category_code, e.category_code),
                    STATE_LABELS_ZH[EventState(e.state)], n.grid_codes.get(e.grid_id, ""), e.street_code,
                    n.reporters.get(e.reporter_id, ""), _local(e.reported_at), _local(e.closure_due_at),
                    _local(e.closed_at), _yes_no(e.overdue), _yes_no(e.closed_on_time), e.dispatched_to or "",
                    satisfaction, e.address or "", round(e.lon, 7), round(e.lat, 7), e.description, e.uuid])
    return out


def pages(scope: Scope, *, user: User, flt: service.EventFilter, now: datetime,
          page_size: int | None = None) -> Iterator[list[Row]]:
    """The events `user` may see under `flt` (the list's filters and territory), oldest report first,
    as pages of rows: one ordered query in one read session, fetched page by page from its cursor
    (yield_per: a server-side cursor on PostgreSQL), each page's names looked up in three statements.

    Not keyset pages in sessions of their own: no index serves both a territory (a range of street
    codes) and the order, so each keyset page made the database scan and sort every remaining row
    again (SQLite's plan: the street index, then a temporary B-tree for ORDER BY), quadratic in the
    export's size; one query sorts once. The read session takes no lock (SQLite WAL: writers go
    on; a checkpoint waits for its end). Plain rows of the columns written, not ORM objects: loading
    and presenting those was most of the time. At least one page (maybe empty), so the caller can
    read the first before answering."""
    size = page_size or PAGE_SIZE
    with scope() as db_session:
        q = (service.query(user=user, flt=flt, now=now).with_only_columns(*COLUMNS)
             .order_by(Event.reported_at, Event.id).execution_options(yield_per=size))
        result = db_session.execute(q)
        empty = True
        for events in result.partitions():
            empty = False
            yield rows(db_session, events)
        if empty:
            yield []


# ------------------------------------------------------------------ CSV


def _csv_field(header: str, value: object) -> object:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if header in CODE_COLUMNS and value:
        return f"{TEXT_PREFIX}{value}"
    return value


def csv_chunks(data: Iterable[Sequence[Row]], encoding: str = "utf-8") -> Iterator[bytes]:
    """The CSV as bytes, one chunk per page (the headers and the BOM, if any, in the first)."""
    encoder = codecs.getincrementalencoder(ENCODINGS[encoding][0])()  # utf-8-sig: the BOM once, at the start
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADERS)
    for page in data:
        writer.writerows([[_csv_field(h, v) for h, v in zip(HEADERS, row)] for row in page])
        yield encoder.encode(buf.getvalue())
        buf.seek(0)
        buf.truncate()
    if buf.tell():  # no page at all: the headers alone
        yield encoder.encode(buf.getvalue())
    if tail := encoder.encode("", final=True):
        yield tail


def csv_media_type(encoding: str) -> str:
    return f"text/csv; charset={ENCODINGS[encoding][1]}"


def render_csv(data: list[Row], encoding: str = "utf-8") -> tuple[bytes, str]:
    """A whole (small) CSV in memory: for tests and tools; the API streams csv_chunks."""
    return b"".join(csv_chunks([data], encoding)), csv_media_type(encoding)


# ------------------------------------------------------------------ xlsx


def _widths(first_page: Sequence[Row]) -> list[float]:
    """Column widths as the in-memory export had them (the widest value + 2, 10 to 50), taken from
    the first page: the columns are fixed before the first row is written."""
    out: list[float] = []
    for column, header in enumerate(HEADERS):
        widest = max([display_width(header), *(display_width(str(r[column] or "")) for r in first_page)])
        fitted = min(MAX_WIDTH, max(MIN_WIDTH, widest + 2))
        out.append(max(fitted, FIXED_WIDTHS[header]) if header in FIXED_WIDTHS else fitted)
    return out


def _column_writers(wb: xlsxwriter.Workbook, ws: Worksheet) -> list[Callable[[int, int, Any], object]]:
    """How each column's cells are written, its format bound once: a typed write (no guessing of the
    type per cell: a text starting with "=" stays text, a URL stays text) with the column's format."""
    text = wb.add_format({"num_format": "@"})
    when = wb.add_format({"num_format": DATETIME_FORMAT})
    wrapped = wb.add_format({"text_wrap": True, "valign": "top"})

    def plain(row: int, column: int, value: Any) -> object:
        if value is None or value == "":
            return None
        if isinstance(value, (int, float)):
            return ws.write_number(row, column, value)
        return ws.write_string(row, column, office_text(str(value)))  # stored control characters: still exported

    def styled(fmt: Format) -> Callable[[int, int, Any], object]:
        def write(row: int, column: int, value: Any) -> object:
            if value is None or value == "":
                return ws.write_blank(row, column, None, fmt)
            if isinstance(value, datetime):
                return ws.write_datetime(row, column, value, fmt)
            return ws.write_string(row, column, office_text(str(value)), fmt)
        return write

    by_header = {**{h: styled(when) for h in TIME_COLUMNS}, **{h: styled(text) for h in CODE_COLUMNS},
                 **{h: styled(wrapped) for h in WRAPPED_COLUMNS}}
    return [by_header.get(h, plain) for h in HEADERS]


def write_xlsx(data: Iterable[Sequence[Row]], path: str | os.PathLike[str]) -> int:
    """Write the pages into an xlsx at `path` with XlsxWriter in constant-memory mode (each row goes
    to a temporary file as it is written, strings inline rather than shared, so memory does not grow
    with the rows); returns the number of event rows. Codes are text cells, times date cells, the
    wrapped columns' rows as tall as their text (metrics.xlsx_layout.row_height), the header row
    frozen and filtered. XlsxWriter rather than openpyxl's write-only mode: the same 100,000 events
    in a fraction of the CPU time (bench/bench_export.py)."""
    pages_ = iter(data)
    first = next(pages_, [])
    wb = xlsxwriter.Workbook(os.fspath(path), {"constant_memory": True, "strings_to_numbers": False,
                                               "strings_to_formulas": False, "strings_to_urls": False})
    closed = False
    try:
        ws = wb.add_worksheet(SHEET_TITLE)
        widths = _widths(first)
        for column, width in enumerate(widths):
            ws.set_column(column, column, width)
        ws.freeze_panes(1, 0)
        ws.write_row(0, 0, HEADERS)
        writers = list(enumerate(_column_writers(wb, ws)))
        wrapped = [(i, widths[i]) for i, h in enumerate(HEADERS) if h in WRAPPED_COLUMNS]
        n = 0
        for page in chain([first], pages_):
            for row in page:
                n += 1
                # Before the row's cells: constant-memory mode writes a row out once the next begins.
                ws.set_row(n, row_height((str(row[i]), w) for i, w in wrapped if row[i]))
                for column, write in writers:
                    write(n, column, row[column])
        ws.autofilter(0, 0, n, len(HEADERS) - 1)
        wb.close()
        closed = True
        return n
    finally:
        if not closed:  # closing is what removes XlsxWriter's temporary row file
            with contextlib.suppress(Exception):  # the first error is the one to report
                wb.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def xlsx_file(data: Iterable[Sequence[Row]]) -> str:
    """The xlsx in a new temporary file; the caller removes it once sent."""
    fd, path = tempfile.mkstemp(prefix="gridops-events-", suffix=".xlsx")
    os.close(fd)
    write_xlsx(data, path)
    return path


def render_xlsx(data: list[Row]) -> tuple[bytes, str]:
    """A whole (small) xlsx in memory: for tests and tools; the API sends xlsx_file."""
    path = xlsx_file([data])
    try:
        with open(path, "rb") as f:
            return f.read(), XLSX_MEDIA_TYPE
    finally:
        os.unlink(path)
