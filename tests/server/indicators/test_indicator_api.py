"""Indicator API and CLI: values with target and status, series, drill-down, scope rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from server.events import service as events
from server.events.enums import EventState
from server.events.schemas import EventCreate
from server.events.transitions import transition
from tests import factories
from tests.conftest import NOW


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    w = factories.event_world(db_session)
    t = datetime.now(UTC) - timedelta(days=3)
    for i in range(4):
        body = factories.event_body(reported_at=(t + timedelta(hours=i)).isoformat(), uuid=str(uuid.uuid4()))
        e, _ = events.create(db_session=db_session, reporter=w["users"]["worker_a"], data=EventCreate(**body), now=NOW)
        if i < 3:
            for j, s in enumerate(["accepted", "dispatched", "handled", "closed"]):
                transition(db_session=db_session, event=e, to=EventState(s), actor=w["users"]["admin"],
                           at=t + timedelta(hours=i, minutes=10 + j))
    db_session.flush()
    return w


def _period() -> str:
    now = datetime.now(UTC) - timedelta(days=3)
    return f"{(now - timedelta(days=5)).date()}..{(now + timedelta(days=4)).date()}"


def test_values_with_target_and_status(client, world) -> None:  # type: ignore[no-untyped-def]
    h = factories.auth_headers(world["users"]["street1"])
    r = client.get(f"/api/v1/indicators?scope=street:440112001&period={_period()}", headers=h)
    assert r.status_code == 200, r.text
    by_code = {v["code"]: v for v in r.json()}
    closure = by_code["closure_rate"]
    assert (closure["numerator"], closure["denominator"], closure["value"]) == (3, 4, 75.0)
    assert closure["target"] == 98 and closure["status"] == "not_met" and closure["name_zh"]
    assert by_code["satisfaction"]["status"] == "no_data" and by_code["satisfaction"]["value"] is None


def test_drilldown_names_the_open_event(client, world) -> None:  # type: ignore[no-untyped-def]
    h = factories.auth_headers(world["users"]["admin"])
    r = client.get(f"/api/v1/indicators/closure_rate/drilldown?scope=district:440112&period={_period()}", headers=h)
    assert r.status_code == 200 and r.json()["count"] == 1
    assert r.json()["rows"][0]["状态"] == "已上报"


def test_series_by_month(client, world) -> None:  # type: ignore[no-untyped-def]
    h = factories.auth_headers(world["users"]["admin"])
    year = datetime.now(UTC).year
    r = client.get(f"/api/v1/indicators/closure_rate/series?scope=district:440112&period={year}", headers=h)
    assert r.status_code == 200 and len(r.json()) == 12
    assert sum(v["denominator"] for v in r.json()) >= 4 or datetime.now(UTC).month == 1


@pytest.mark.parametrize(("who", "scope", "status"), [
    ("street1", "street:440112002", 403), ("street1", "district:440112", 403), ("street1", "street:440112001", 200),
    ("admin", "district:440113", 403), ("auditor", "district:440112", 200),
    ("worker_a", "street:440112001", 403), ("worker_a", "grid:440112001001001", 200),
])
def test_scope_rules(client, world, who: str, scope: str, status: int) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/v1/indicators/closure_rate?scope={scope}&period={_period()}",
                   headers=factories.auth_headers(world["users"][who]))
    assert r.status_code == status, r.text


@pytest.mark.parametrize(("scope", "period", "code"), [
    ("street:44011200", "2026", "bad_scope"), ("town:440112", "2026", "bad_scope"),
    # codes of the right length that name no area of that level
    ("district:990112", "2026", "bad_scope"), ("street:440112000", "2026", "bad_scope"),
    ("street:440112001001", "2026", "bad_scope"), ("community:440112001000", "2026", "bad_scope"),
    ("grid:440112001001000", "2026", "bad_scope"),
    ("district:440112", "2026-13", "bad_period"), ("district:440112", "last year", "bad_period"),
])
def test_bad_scope_or_period(client, world, scope: str, period: str, code: str) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/v1/indicators?scope={scope}&period={period}",
                   headers=factories.auth_headers(world["users"]["admin"]))
    assert r.status_code == 422 and r.json()["error"]["code"] == code


def test_unknown_indicator(client, world) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/v1/indicators/nope?scope=district:440112&period={_period()}",
                   headers=factories.auth_headers(world["users"]["admin"]))
    assert r.status_code == 404 and r.json()["error"]["code"] == "indicator_not_computable"


def test_areas_by_street_add_up_to_the_district(client, world) -> None:  # type: ignore[no-untyped-def]
    h = factories.auth_headers(world["users"]["admin"])
    r = client.get(f"/api/v1/indicators/areas?scope=district:440112&level=street&period={_period()}"
                   "&indicator=closure_rate&indicator=reports_per_worker_month", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [row["scope"] for row in body["rows"]] == ["district:440112", "street:440112001000", "street:440112002000"]
    closure = [(row["values"][0]["numerator"], row["values"][0]["denominator"]) for row in body["rows"]]
    assert closure == [(3, 4), (3, 4), (0, 0)]
    assert body["rows"][2]["values"][0]["status"] == "no_data"
    assert [v["code"] for v in body["rows"][0]["values"]] == ["closure_rate", "reports_per_worker_month"]


def test_areas_by_grid_inside_a_street(client, world) -> None:  # type: ignore[no-untyped-def]
    h = factories.auth_headers(world["users"]["street1"])
    r = client.get(f"/api/v1/indicators/areas?scope=street:440112001&level=grid&period={_period()}", headers=h)
    assert r.status_code == 200, r.text
    rows = {row["scope"]: {v["code"]: v for v in row["values"]} for row in r.json()["rows"]}
    assert list(rows) == ["street:440112001000", "grid:440112001001001", "grid:440112001001002"]
    assert rows["grid:440112001001001"]["closure_rate"]["value"] == 75.0
    assert rows["grid:440112001001002"]["closure_rate"]["value"] is None
    assert len(rows["street:440112001000"]) == len(r.json()["indicators"]) > 10  # every computable indicator


@pytest.mark.parametrize(("who", "query", "status", "code"), [
    ("admin", "scope=street:440112001&level=district", 422, "bad_level"),
    ("admin", "scope=grid:440112001001001&level=grid", 422, "bad_level"),
    ("street1", "scope=district:440112&level=street", 403, "scope_forbidden"),
    ("admin", "scope=district:440112&level=street&indicator=nope", 404, "indicator_not_computable"),
])
def test_areas_refused(client, world, who: str, query: str, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/v1/indicators/areas?{query}&period={_period()}",
                   headers=factories.auth_headers(world["users"][who]))
    assert r.status_code == status and r.json()["error"]["code"] == code, r.text
