"""The assessment API: who sees which rows, who signs, bad input, the sheets."""

from __future__ import annotations

import io
import json
from decimal import Decimal

from openpyxl import load_workbook

from server.assessment.rule import DEFAULT_RULE, load
from server.auth.models import AdminAction
from tests import factories
from tests.server.assessment import world as W

BASE = f"/api/v1/assessment/{W.MONTH}"


def _get(client, w, who: str, scope: str):  # type: ignore[no-untyped-def]
    return client.get(BASE, params={"scope": scope}, headers=factories.auth_headers(w.users[who]))


def test_a_worker_sees_only_their_own_row(client, db_session) -> None:  # type: ignore[no-untyped-def]
    w = W.build(db_session)
    r = _get(client, w, "wk1", "grid:440112001001001")
    assert r.status_code == 200, r.text
    assert [x["username"] for x in r.json()["workers"]] == ["wk1"]
    assert Decimal(r.json()["workers"][0]["total"]) == Decimal("53.50")
    for scope in ("grid:440112001001002", "street:440112001", "district:440112"):  # not their grid, wider areas
        r = _get(client, w, "wk1", scope)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "scope_forbidden")


def test_a_street_admin_sees_their_street_and_the_district_sees_all(client, db_session) -> None:  # type: ignore[no-untyped-def]
    w = W.build(db_session)
    r = _get(client, w, "street1", "street:440112001")
    body = r.json()
    assert [(x["username"], x["rank"]) for x in body["workers"]] == [("wk3", 1), ("wk1", 2)]
    assert body["street_averages"] == {W.STREET1: "72.94"}
    items = {i["code"]: i for i in body["workers"][1]["items"]}
    assert items["overdue_events"]["records_total"] == 2 and items["overdue_events"]["text"] == "2 项 × -2"
    assert _get(client, w, "street1", "street:440112002").status_code == 403
    assert _get(client, w, "street1", "district:440112").status_code == 403
    r = _get(client, w, "auditor", "district:440112")
    assert sorted(x["username"] for x in r.json()["workers"]) == ["wk1", "wk2", "wk3", "wk4"]


def test_the_auditor_reads_but_does_not_sign_and_signing_freezes(client, db_session) -> None:  # type: ignore[no-untyped-def]
    w = W.build(db_session)
    params = {"scope": "street:440112001"}
    for who in ("auditor", "wk1"):
        r = client.post(f"{BASE}/sign-off", params=params, headers=factories.auth_headers(w.users[who]))
        assert r.status_code == 403, r.text
    r = client.post(f"{BASE}/sign-off", params=params, headers=factories.auth_headers(w.users["street1"]))
    assert r.status_code == 200 and r.json()["street_signed_at"] and not r.json()["frozen"]
    r = client.post(f"{BASE}/sign-off", params=params, headers=factories.auth_headers(w.users["admin"]))
    assert r.json()["frozen"] and r.json()["version"] == 1
    r = client.post(f"{BASE}/sign-off", params=params, headers=factories.auth_headers(w.users["admin"]))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "already_signed")
    r = client.post(f"{BASE}/corrections", params=params, json={"reason": "补录"},
                    headers=factories.auth_headers(w.users["street1"]))
    assert r.status_code == 403  # only the district corrects
    r = client.post(f"{BASE}/corrections", params=params, json={"reason": "补录事件办结时间"},
                    headers=factories.auth_headers(w.users["admin"]))
    assert r.json()["version"] == 2
    assert db_session.query(AdminAction).filter(AdminAction.action.like("assessment_%")).count() == 3


def test_manual_items_are_entered_with_a_reason(client, db_session) -> None:  # type: ignore[no-untyped-def]
    w = W.build(db_session)
    url, h = f"{BASE}/adjustments", factories.auth_headers(w.users["street1"])
    r = client.post(url, json={"username": "wk1", "item_code": "commendation"}, headers=h)
    assert r.status_code == 422  # no reason
    r = client.post(url, json={"username": "wk1", "item_code": "commendation", "reason": "街道通报表扬"}, headers=h)
    assert r.status_code == 201 and r.json()["points"] == "2.00"
    assert Decimal(_get(client, w, "street1", "street:440112001").json()["workers"][1]["total"]) == Decimal("55.50")
    r = client.post(url, json={"username": "wk1", "item_code": "commendation", "reason": "表扬"},
                    headers=factories.auth_headers(w.users["auditor"]))
    assert r.status_code == 403
    r = client.post(url, json={"username": "wk2", "item_code": "commendation", "reason": "表扬"}, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "worker_not_found")  # ranked in street 2


def test_bad_input_is_refused_with_a_code(client, db_session, settings_env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = W.build(db_session)
    h = factories.auth_headers(w.users["admin"])
    r = client.get("/api/v1/assessment/2026-13", params={"scope": "district:440112"}, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "bad_month")
    r = client.post(f"{BASE}/pay", params={"scope": "district:440112"}, json={"pool": "100.001"}, headers=h)
    assert r.status_code == 422
    r = client.post(f"{BASE}/pay", params={"scope": "district:440112"}, json={"pool": "100.00"}, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "month_not_frozen")
    raw = json.loads(DEFAULT_RULE.read_text(encoding="utf-8"))
    raw["items"][2]["points"] = "lots"
    bad = tmp_path / "rule.json"
    bad.write_text(json.dumps(raw), encoding="utf-8")
    settings_env(GRIDOPS_ASSESSMENT_RULE=str(bad))
    load.cache_clear()
    r = client.get(BASE, params={"scope": "district:440112"}, headers=factories.auth_headers(w.users["admin"]))
    assert (r.status_code, r.json()["error"]["code"]) == (503, "assessment_rule_invalid")
    assert "item #3 'event_quality' points" in r.json()["error"]["message"]


def test_the_sheets(client, db_session) -> None:  # type: ignore[no-untyped-def]
    w = W.build(db_session)
    h = factories.auth_headers(w.users["admin"])
    r = client.get(f"{BASE}/sheet.xlsx", params={"scope": "district:440112"}, headers=h)
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["街道1", "街道2", "明细"]
    ws = wb["街道1"]
    cells = [c for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    assert "wk3" in cells and any(str(c).startswith("街道负责人（签字）") for c in cells)
    assert any(str(c).startswith("区综治中心（签字）") for c in cells)
    assert str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4 and ws.page_setup.orientation == "landscape"
    r = client.post(f"{BASE}/pay", params={"scope": "district:440112", "format": "xlsx"},
                    json={"pool": "10000.00", "draft": True}, headers=h)
    assert r.status_code == 200, r.text
    pay = load_workbook(io.BytesIO(r.content))
    assert pay.sheetnames == ["街道汇总", "街道1", "街道2"]
    amounts = [row[3] for row in pay["街道汇总"].iter_rows(min_row=4, max_row=5, values_only=True)]
    assert amounts == [6025.60, 3974.40]
    r = client.post(f"{BASE}/pay", params={"scope": "district:440112"}, json={"pool": "10000.00", "draft": True},
                    headers=factories.auth_headers(w.users["street1"]))
    assert r.status_code == 403
