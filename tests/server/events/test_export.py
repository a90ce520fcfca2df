"""Event exports a spreadsheet cannot spoil: codes stay text, times are dates, GBK for older Excel."""

from __future__ import annotations

import csv
import io
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from geoalchemy2.shape import from_shape
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from gis.crs import CGCS2000
from server.database.core import make_engine
from server.errors import InvalidInput
from server.events import export
from server.events.models import Event
from tests import factories
from tests.statements import counted

API = "/api/v1/events"


@pytest.fixture
def reported(client, db_session):  # type: ignore[no-untyped-def]
    world = factories.event_world(db_session)
    event = client.post(API, json=factories.event_body(), headers=factories.auth_headers(world["users"]["worker_a"]))
    assert event.status_code == 201
    return factories.auth_headers(world["users"]["street1"]), event.json()


def _local(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)


def test_csv_codes_carry_a_tab_so_spreadsheets_keep_them_text(client, reported) -> None:  # type: ignore[no-untyped-def]
    headers, event = reported
    r = client.get(f"{API}/export?format=csv", headers=headers)
    assert r.headers["content-type"] == "text/csv; charset=utf-8" and r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0]["网格编码"] == "\t440112001001001" and rows[0]["街道编码"] == "\t440112001000"
    assert rows[0]["事件编号"] == f"\t{event['serial']}" and rows[0]["UUID"] == f"\t{event['uuid']}"
    assert rows[0]["上报时间"] == _local(event["reported_at"]).strftime("%Y-%m-%d %H:%M:%S")
    assert rows[0]["经度(CGCS2000)"] == str(round(event["lon"], 7))  # numbers stay numbers


def test_gbk_csv_for_older_excel(client, reported) -> None:  # type: ignore[no-untyped-def]
    headers, _ = reported
    r = client.get(f"{API}/export?format=csv&encoding=gbk", headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=GB18030"
    assert not r.content.startswith(b"\xef\xbb\xbf")
    text = r.content.decode("gbk")  # every character of the export is in GBK: plain GBK readers manage
    assert text.startswith("事件编号,事件类别,状态") and "垃圾堆放" in text


def test_an_unknown_encoding_is_refused(client, reported) -> None:  # type: ignore[no-untyped-def]
    headers, _ = reported
    r = client.get(f"{API}/export?format=csv&encoding=big5", headers=headers)
    assert r.status_code == 422 and "encoding" in r.text


def test_xlsx_codes_are_text_cells_and_times_date_cells(client, reported) -> None:  # type: ignore[no-untyped-def]
    headers, event = reported
    ws = load_workbook(io.BytesIO(client.get(f"{API}/export?format=xlsx", headers=headers).content)).active
    columns = {c.value: c.column_letter for c in ws[1]}
    grid, when, serial = ws[f"{columns['网格编码']}2"], ws[f"{columns['上报时间']}2"], ws[f"{columns['事件编号']}2"]
    assert grid.value == "440112001001001" and grid.data_type == "s" and grid.number_format == "@"
    assert serial.value == event["serial"] and serial.value.startswith("2026-")
    assert when.is_date and when.value == _local(event["reported_at"]).replace(microsecond=0)
    assert when.number_format == "yyyy-mm-dd hh:mm:ss"


# ------------------------------------------------------------------ streaming: pages, statements, errors


def _add_events(db_session, world, n: int, start: datetime) -> None:  # type: ignore[no-untyped-def]
    """n events of grid A, one a minute from `start`, written straight to the table (the API would
    take a second each, and only the export is under test)."""
    g = world["grids"]["A"]
    c = factories.gk_square(0, 0).centroid
    db_session.add_all([
        Event(uuid=str(uuid.uuid4()), request_hash="x", category_code="sanitation.garbage", description=f"第{i}件",
              address="黄埔东路1号", geom=from_shape(c, srid=CGCS2000), lon=c.x, lat=c.y, source_datum="cgcs2000",
              reporter_id=world["users"]["worker_a"].id, grid_id=g.id, street_code=g.code[:9] + "000",
              state="reported", reported_at=start + timedelta(minutes=i), created_at=start, updated_at=start,
              closure_due_at=start + timedelta(days=7),
              photos=[]) for i in range(n)])
    db_session.flush()


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    return factories.event_world(db_session)


def _statements(client, db_session, headers, fmt: str) -> int:  # type: ignore[no-untyped-def]
    with counted(db_session) as statements:
        r = client.get(f"{API}/export?format={fmt}", headers=headers)
        assert r.status_code == 200, r.text
    return len(statements)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_statements_grow_with_pages_not_with_rows(client, db_session, world, monkeypatch, fmt: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(export, "PAGE_SIZE", 100)
    headers = factories.auth_headers(world["users"]["street1"])
    start = datetime(2026, 11, 1, tzinfo=UTC)
    counts = {}
    for total, add in ((3, 3), (100, 97), (200, 100), (300, 100)):
        _add_events(db_session, world, add, start + timedelta(days=total))
        counts[total] = _statements(client, db_session, headers, fmt)
    assert counts[3] == counts[100]  # one page: the same statements for 3 rows as for 100
    per_page = counts[200] - counts[100]
    assert 0 < per_page <= 4 and counts[300] - counts[200] == per_page  # each page adds the same few


def test_a_long_export_keeps_every_row_in_reported_order(client, db_session, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(export, "PAGE_SIZE", 2)
    start = datetime(2026, 11, 10, tzinfo=UTC)
    _add_events(db_session, world, 4, start + timedelta(hours=1))
    _add_events(db_session, world, 3, start)  # inserted later, reported earlier
    headers = factories.auth_headers(world["users"]["street1"])
    csv_rows = list(csv.DictReader(io.StringIO(client.get(f"{API}/export?format=csv", headers=headers)
                                               .content.decode("utf-8-sig"))))
    times = [r["上报时间"] for r in csv_rows]
    assert len(times) == 7 and times == sorted(times)
    ws = load_workbook(io.BytesIO(client.get(f"{API}/export?format=xlsx", headers=headers).content)).active
    xlsx_times = [row[6] for row in ws.iter_rows(min_row=2, values_only=True)]
    assert [t.strftime("%Y-%m-%d %H:%M:%S") for t in xlsx_times] == times
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:R8"


def test_outside_the_territory_nothing_is_exported(client, db_session, world) -> None:  # type: ignore[no-untyped-def]
    _add_events(db_session, world, 3, datetime(2026, 11, 10, tzinfo=UTC))
    r = client.get(f"{API}/export?format=csv", headers=factories.auth_headers(world["users"]["street2"]))
    assert r.status_code == 200 and r.content.decode("utf-8-sig").splitlines() == [",".join(export.HEADERS)]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_bad_filters_are_refused_before_the_first_byte(client, world, fmt: str) -> None:  # type: ignore[no-untyped-def]
    headers = factories.auth_headers(world["users"]["street1"])
    r = client.get(f"{API}/export?format={fmt}&grid_code=44011200100100X", headers=headers)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/json")
    assert "grid_code" in r.text


def test_a_failure_on_the_first_page_is_a_clean_error(client, db_session, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _add_events(db_session, world, 3, datetime(2026, 11, 10, tzinfo=UTC))

    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise InvalidInput("broken page", "页面错误", code="broken_page")

    monkeypatch.setattr(export, "rows", broken)
    r = client.get(f"{API}/export?format=csv", headers=factories.auth_headers(world["users"]["street1"]))
    assert r.status_code == 422 and r.json()["error"]["code"] == "broken_page"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_xlsx_temp_file_is_removed(client, world, monkeypatch, tmp_path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    r = client.get(f"{API}/export?format={fmt}", headers=factories.auth_headers(world["users"]["street1"]))
    assert r.status_code == 200 and list(tmp_path.iterdir()) == []


def test_a_failure_mid_stream_breaks_the_download_and_is_logged(fresh_db_url, live_server, monkeypatch,
                                                                caplog) -> None:  # type: ignore[no-untyped-def]
    """After the first byte the status is sent: the server logs the failure and closes the
    connection before the chunked body's end, so the client sees a broken download, not a short file."""
    engine = make_engine(fresh_db_url)
    with Session(engine, expire_on_commit=False) as s:
        world = factories.event_world(s)
        _add_events(s, world, 5, datetime(2026, 11, 10, tzinfo=UTC))
        s.commit()
    engine.dispose()
    base = live_server(fresh_db_url)
    monkeypatch.setattr(export, "PAGE_SIZE", 2)
    real, calls = export.rows, []

    def second_page_fails(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(export, "rows", second_page_fails)
    received = b""
    with httpx.Client(base_url=base, timeout=30) as c, pytest.raises(httpx.RemoteProtocolError), \
            c.stream("GET", f"{API}/export", params={"format": "csv"},
                     headers=factories.auth_headers(world["users"]["street1"])) as r:
        assert r.status_code == 200
        for chunk in r.iter_bytes():
            received += chunk
    assert received.decode("utf-8-sig").count("\n") == 3  # the headers and the first page, then the cut
    assert "event export cut off after" in caplog.text


def test_xlsx_text_that_looks_like_a_formula_or_a_link_stays_text() -> None:
    """A description typed as "=1+1" or a URL is what was reported, not a formula or a hyperlink."""
    row = [None] * len(export.HEADERS)
    row[export.HEADERS.index("事件描述")], row[export.HEADERS.index("地址")] = "=1+1", "https://example.org/a"
    row[export.HEADERS.index("经度(CGCS2000)")] = 113.4512345
    ws = load_workbook(io.BytesIO(export.render_xlsx([row])[0])).active
    description, address = ws.cell(2, export.HEADERS.index("事件描述") + 1), ws.cell(2, export.HEADERS.index("地址") + 1)
    assert (description.value, description.data_type) == ("=1+1", "s") and address.hyperlink is None
    assert address.value == "https://example.org/a" and ws.cell(2, 15).value == 113.4512345


def test_a_failed_xlsx_leaves_no_file_behind(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Neither the half-written export nor the writer's own temporary row file."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    row = ["2026-000001", *[""] * (len(export.HEADERS) - 1)]

    def pages():  # type: ignore[no-untyped-def]
        yield [row]
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError, match="went away"):
        export.xlsx_file(pages())
    assert list(tmp_path.iterdir()) == []
