"""Event exports a spreadsheet cannot spoil: codes stay text, times are dates, GBK for older Excel."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from tests import factories

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
