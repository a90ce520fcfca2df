"""POST /indicators/self-evaluation and /indicators/monitoring: the CLI's tables from an uploaded
declaration, for the roles with a whole district or street; files that are no declaration are a 422."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from metrics.declaration import read_declaration
from server.indicators import tables
from server.indicators.periods import parse_scope
from tests import factories
from tests.conftest import NOW
from tests.server.indicators.test_evaluation import SEED_003, SHEET, world  # noqa: F401  (world: the fixture)

SELF, MONITORING = "/api/v1/indicators/self-evaluation", "/api/v1/indicators/monitoring"


def _post(client, world, who: str, path: str = SELF, *, content: bytes | None = None,
          filename: str = "绩效目标表.xlsx", **form: object):  # type: ignore[no-untyped-def]
    data = {"year": "2026", "sheet": SHEET, **{k: str(v) for k, v in form.items()}}
    files = {"declaration": (filename, SEED_003.read_bytes() if content is None else content, tables.XLSX)}
    return client.post(path, data=data, files=files, headers=factories.auth_headers(world["users"][who]))


def _cells(source: bytes | Path) -> dict[str, list[tuple]]:
    wb = load_workbook(io.BytesIO(source) if isinstance(source, bytes) else source)
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def test_self_evaluation_is_the_clis_table(client, world, db_session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = _post(client, world, "admin", budget=100, executed=80, unit_name="黄埔区综治中心")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == tables.XLSX
    assert 'filename="self-evaluation-2026.xlsx"' in r.headers["content-disposition"]
    cli = tmp_path / "cli.xlsx"
    tables.self_evaluation(
        db_session=db_session, declaration=read_declaration(SEED_003, sheet=SHEET), scope=parse_scope("district:440112"),
        year=2026, out=cli, now=NOW, budget=tables.budget_of(100.0, 80.0), unit_name="黄埔区综治中心")  # floats, as argparse gives
    got = _cells(r.content)
    assert got == _cells(cli)
    assert "绩效自评表" in got and any(name.startswith("明细") for name in got)  # a missed target has its records
    assert any("75" in str(c) for row in got["绩效自评表"] for c in row)  # grid A's 3 of 4 closed


def test_monitoring_is_the_clis_table(client, world, db_session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = _post(client, world, "command", MONITORING, quarter=3)
    assert r.status_code == 200, r.text
    assert 'filename="monitoring-2026-Q3.xlsx"' in r.headers["content-disposition"]
    cli = tables.monitoring(
        db_session=db_session, declaration=read_declaration(SEED_003, sheet=SHEET), scope=parse_scope("district:440112"),
        year=2026, quarter=3, out=tmp_path / "cli.xlsx", now=NOW)
    assert _cells(r.content) == _cells(cli) and "绩效运行监控表" in _cells(r.content)


def test_a_street_admin_gets_their_street_and_no_other(client, world, db_session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = _post(client, world, "street1")
    assert r.status_code == 200, r.text
    own = tmp_path / "s.xlsx"
    tables.self_evaluation(db_session=db_session, declaration=read_declaration(SEED_003, sheet=SHEET),
                           scope=parse_scope("street:440112001"), year=2026, out=own, now=NOW)
    assert _cells(r.content) == _cells(own)
    r = _post(client, world, "street2", scope="street:440112001")
    assert r.status_code == 403 and r.json()["error"]["code"] == "scope_forbidden"
    r = _post(client, world, "admin", MONITORING, scope="district:440113")
    assert r.status_code == 403 and r.json()["error"]["code"] == "scope_forbidden"


@pytest.mark.parametrize("path", [SELF, MONITORING])
def test_the_auditor_may_download_a_grid_worker_may_not(client, world, path: str) -> None:  # type: ignore[no-untyped-def]
    assert _post(client, world, "auditor", path).status_code == 200
    r = _post(client, world, "worker_a", path)
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_forbidden"


def _no_table() -> bytes:
    wb = Workbook()
    wb.active.append(["姓名", "电话"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize(("filename", "content", "form", "code"), [
    ("申报表.txt", b"hello", {}, "unsupported_file_type"),
    ("申报表.xlsx", b"not a workbook at all", {}, "unreadable_file"),
    ("申报表.xlsx", b"PK\x03\x04 cut short", {}, "unreadable_file"),
    ("名单.xlsx", _no_table(), {"sheet": ""}, "unreadable_declaration"),
    ("绩效目标表.xlsx", None, {"sheet": "没有这张表"}, "unreadable_declaration"),
    ("绩效目标表.xlsx", None, {"scope": "street:12"}, "bad_scope"),
    ("绩效目标表.xlsx", None, {"year": "1999"}, "validation_error"),
    ("绩效目标表.xlsx", None, {"quarter": "5"}, "validation_error"),
])
def test_what_is_no_declaration_is_a_clear_422(client, world, filename, content, form, code) -> None:  # type: ignore[no-untyped-def]
    path = MONITORING if "quarter" in form else SELF
    r = _post(client, world, "admin", path, content=content, filename=filename, **form)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == code and error["message"] and error["message_zh"]


def test_the_declaration_is_required(client, world) -> None:  # type: ignore[no-untyped-def]
    r = client.post(SELF, data={"year": "2026"}, headers=factories.auth_headers(world["users"]["admin"]))
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
