"""Event API: exactly-once reports, datums, bad input, access rules, lists, exports, changes."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from gis.datum import wgs84_to_bd09, wgs84_to_gcj02
from server.events.models import EventHistory
from tests import factories
from tests.conftest import NOW

API = "/api/v1/events"


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    return factories.event_world(db_session)


def _h(world, who: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return factories.auth_headers(world["users"][who])


def _report(client, world, who: str = "worker_a", **overrides):  # type: ignore[no-untyped-def]
    return client.post(API, json=factories.event_body(**overrides), headers=_h(world, who))


def test_report_then_retry_returns_first_result(client, world, db_session) -> None:  # type: ignore[no-untyped-def]
    body = factories.event_body()
    first = client.post(API, json=body, headers=_h(world, "worker_a"))
    assert first.status_code == 201, first.text
    again = client.post(API, json=body, headers=_h(world, "worker_a"))
    assert again.status_code == 200
    assert again.json() == first.json()
    assert first.json()["grid_code"] == "440112001001001" and first.json()["state"] == "reported"
    assert db_session.query(EventHistory).count() == 1


def test_same_uuid_other_body_is_409(client, world) -> None:  # type: ignore[no-untyped-def]
    body = factories.event_body()
    assert client.post(API, json=body, headers=_h(world, "worker_a")).status_code == 201
    r = client.post(API, json={**body, "description": "另一件事"}, headers=_h(world, "worker_a"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_key_reused"


@pytest.mark.parametrize("datum", ["gcj02", "bd09", "wgs84"])
def test_phone_datums_are_converted(client, world, datum: str) -> None:  # type: ignore[no-untyped-def]
    c = factories.gk_square(0, 0).centroid  # CGCS2000 ≈ WGS-84 at metre level
    lon, lat = {"gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09, "wgs84": lambda x, y: (x, y)}[datum](c.x, c.y)
    r = _report(client, world, lon=lon, lat=lat, datum=datum)
    assert r.status_code == 201, r.text
    assert r.json()["lon"] == pytest.approx(c.x, abs=1e-6) and r.json()["lat"] == pytest.approx(c.y, abs=1e-6)
    assert r.json()["grid_code"] == "440112001001001"


def test_gcj02_sent_as_wgs84_lands_outside_with_a_hint(client, world) -> None:  # type: ignore[no-untyped-def]
    """A GCJ-02 point is ~300–600 m off here: a 100 m grid no longer contains it."""
    c = factories.gk_square(0, 0).centroid
    lon, lat = wgs84_to_gcj02(c.x, c.y)
    r = _report(client, world, lon=lon, lat=lat, datum="wgs84")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "location_outside_grids"
    assert "GCJ-02" in r.json()["error"]["message"]


@pytest.mark.parametrize(("overrides", "code"), [
    ({"category_code": "no_such"}, "unknown_category"),
    ({"reported_at": (NOW + timedelta(hours=2)).isoformat()}, "clock_skew"),  # the suite clock ticks from NOW
    ({"reported_at": (NOW - timedelta(days=40)).isoformat()}, "report_too_old"),
    ({"reported_at": "2026-11-20T10:00:00"}, "validation_error"),  # no zone: ambiguous
    ({"lon": 200.0}, "validation_error"),
    ({"datum": "mercator"}, "validation_error"),
    ({"photos": ["a" * 64]}, "photo_not_uploaded"),
    ({"photos": ["../../etc/passwd"]}, "validation_error"),
    ({"lon": 100.0, "lat": 30.0}, "location_outside_grids"),
    ({"dispute": {"parties": [{"name": "张三"}]}}, "not_a_dispute"),
])
def test_bad_reports_are_refused(client, world, db_session, overrides, code: str) -> None:  # type: ignore[no-untyped-def]
    r = _report(client, world, **overrides)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["message_zh"]
    assert db_session.query(EventHistory).count() == 0


def _move(client, world, who: str, event_uuid: str, key: str | None = None, **body):  # type: ignore[no-untyped-def]
    headers = {**_h(world, who), **({"Idempotency-Key": key} if key else {})}
    return client.post(f"{API}/{event_uuid}/transitions", json=body, headers=headers)


def test_full_flow_with_history(client, world) -> None:  # type: ignore[no-untyped-def]
    ev = _report(client, world).json()["uuid"]
    steps = [("street1", {"to_state": "accepted"}), ("street1", {"to_state": "dispatched", "dispatched_to": "城管科"}),
             ("street1", {"to_state": "returned", "note": "非本部门职责"}),
             ("street1", {"to_state": "dispatched", "dispatched_to": "环卫站"}),
             ("worker_a", {"to_state": "handled", "note": "已清理"}), ("street1", {"to_state": "closed"}),
             ("command", {"to_state": "reviewed", "satisfaction": "satisfied"})]
    for who, body in steps:
        r = _move(client, world, who, ev, **body)
        assert r.status_code == 200, (body, r.text)
    final = r.json()
    assert final["state"] == "reviewed" and final["satisfaction"] == "satisfied"
    assert final["dispatched_to"] == "环卫站" and final["closed_on_time"] is True
    kinds = [(h["from_state"], h["to_state"], h["actor"]) for h in final["history"]]
    assert kinds[0] == (None, "reported", world["users"]["worker_a"].username)
    assert [k[1] for k in kinds] == ["reported", "accepted", "dispatched", "returned", "dispatched", "handled",
                                     "closed", "reviewed"]


def test_illegal_transition_lists_allowed_states(client, world) -> None:  # type: ignore[no-untyped-def]
    ev = _report(client, world).json()["uuid"]
    r = _move(client, world, "street1", ev, to_state="closed")
    assert r.status_code == 409
    assert r.json()["error"]["detail"]["allowed_next"] == ["accepted", "merged", "rejected"]


@pytest.mark.parametrize("who", ["street1", "admin", "worker_a"])
def test_no_transition_leads_back_to_reported(client, world, who: str) -> None:  # type: ignore[no-untyped-def]
    """`reported` is no transition's target, so no role has it: that was a KeyError, a 500 (fuzzer)."""
    ev = _report(client, world).json()["uuid"]
    r = _move(client, world, who, ev, to_state="reported")
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "illegal_transition"
    assert r.json()["error"]["detail"]["allowed_next"] == ["accepted", "merged", "rejected"]


def test_required_fields(client, world) -> None:  # type: ignore[no-untyped-def]
    ev = _report(client, world).json()["uuid"]
    r = _move(client, world, "street1", ev, to_state="rejected")
    assert r.status_code == 422 and r.json()["error"]["detail"]["field"] == "rejection_reason"
    r = _move(client, world, "street1", ev, to_state="rejected", rejection_reason="重复上报")
    assert r.status_code == 200 and r.json()["rejection_reason"] == "重复上报"


def test_transition_idempotency_key(client, world, db_session) -> None:  # type: ignore[no-untyped-def]
    ev = _report(client, world).json()["uuid"]
    a = _move(client, world, "street1", ev, key="k-1", to_state="accepted")
    b = _move(client, world, "street1", ev, key="k-1", to_state="accepted")
    assert a.status_code == b.status_code == 200 and b.json()["state"] == "accepted"
    assert db_session.query(EventHistory).filter_by(to_state="accepted").count() == 1
    c = _move(client, world, "street1", ev, key="k-1", to_state="rejected", rejection_reason="x")
    assert c.status_code == 409 and c.json()["error"]["code"] == "idempotency_key_reused"



def test_a_replayed_key_is_authorised_first(client, world, db_session) -> None:  # type: ignore[no-untyped-def]
    """The issue: a grid worker sending an admin's Idempotency-Key and body got 200 before the role check."""
    ev = _report(client, world).json()["uuid"]
    assert _move(client, world, "street1", ev, key="k-1", to_state="accepted").status_code == 200
    r = _move(client, world, "worker_a", ev, key="k-1", to_state="accepted")  # worker_a's own grid: visible
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_forbidden"
    r = _move(client, world, "street2", ev, key="k-1", to_state="accepted")  # another street: not even seen
    assert r.status_code == 404
    assert db_session.query(EventHistory).filter_by(to_state="accepted").count() == 1


def test_idempotency_keys_belong_to_their_user(client, world, db_session) -> None:  # type: ignore[no-untyped-def]
    """Another user's key is no conflict: it is a new key of this user, with its own replays."""
    ev = _report(client, world).json()["uuid"]
    assert _move(client, world, "street1", ev, key="k-1", to_state="accepted").status_code == 200
    body = {"to_state": "dispatched", "dispatched_to": "城管科"}
    first = _move(client, world, "command", ev, key="k-1", **body)
    assert first.status_code == 200 and first.json()["state"] == "dispatched", first.text
    again = _move(client, world, "command", ev, key="k-1", **body)
    assert again.status_code == 200 and again.json() == first.json()
    assert db_session.query(EventHistory).filter_by(idempotency_key="k-1").count() == 2  # one per user


@pytest.mark.parametrize("who", ["worker_b", "street1"])
@pytest.mark.parametrize("same_body", [True, False])
def test_another_users_event_uuid_tells_nothing(client, world, db_session, who: str,
                                                same_body: bool) -> None:  # type: ignore[no-untyped-def]
    """The issue: another worker's uuid and body returned that worker's event. A replay answers its author only."""
    body = factories.event_body(description="王某家门口漏水，电话13800000000")
    assert client.post(API, json=body, headers=_h(world, "worker_a")).status_code == 201
    r = client.post(API, json=body if same_body else {**body, "description": "x"}, headers=_h(world, who))
    assert r.status_code == 409 and r.json()["error"]["code"] == "uuid_taken"
    assert set(r.json()["error"]) == {"code", "message", "message_zh"}  # no detail
    assert "王某" not in r.text and "grid" not in r.text and world["users"]["worker_a"].username not in r.text
    assert db_session.query(EventHistory).count() == 1

@pytest.mark.parametrize(("who", "visible"), [
    ("worker_a", True), ("worker_b", False), ("worker_c", False), ("street1", True), ("street2", False),
    ("admin", True), ("command", True), ("auditor", True),
])
def test_who_sees_an_event_in_grid_a(client, world, who: str, visible: bool) -> None:  # type: ignore[no-untyped-def]
    ev = _report(client, world).json()["uuid"]
    r = client.get(f"{API}/{ev}", headers=_h(world, who))
    assert r.status_code == (200 if visible else 404)
    listed = [e["uuid"] for e in client.get(API, headers=_h(world, who)).json()["items"]]
    assert (ev in listed) is visible


def test_worker_sees_own_report_outside_grids_but_cannot_change_it(client, world) -> None:  # type: ignore[no-untyped-def]
    ev = _report(client, world, who="worker_b").json()["uuid"]  # worker B reports in grid A
    assert client.get(f"{API}/{ev}", headers=_h(world, "worker_b")).status_code == 200
    _move(client, world, "street1", ev, to_state="accepted")
    _move(client, world, "street1", ev, to_state="dispatched", dispatched_to="x")
    r = _move(client, world, "worker_b", ev, to_state="handled")
    assert r.status_code == 403 and r.json()["error"]["code"] == "outside_your_grids"
    assert _move(client, world, "worker_a", ev, to_state="handled").status_code == 200


def test_auditor_is_read_only(client, world) -> None:  # type: ignore[no-untyped-def]
    assert _report(client, world, who="auditor").status_code == 403
    ev = _report(client, world).json()["uuid"]
    assert _move(client, world, "auditor", ev, to_state="accepted").status_code == 403


def test_worker_cannot_accept(client, world) -> None:  # type: ignore[no-untyped-def]
    ev = _report(client, world).json()["uuid"]
    r = _move(client, world, "worker_a", ev, to_state="accepted")
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_forbidden"


def test_list_filters_sort_and_pages(client, world) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        _report(client, world, category_code="fire_hazard.passage",
                reported_at=(datetime.now(UTC) - timedelta(hours=i + 1)).isoformat())
    ev = _report(client, world, point=None).json()["uuid"]
    _move(client, world, "street1", ev, to_state="accepted")
    h = _h(world, "admin")
    page = client.get(f"{API}?category=fire_hazard&page_size=2&sort=reported_at", headers=h).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    assert page["items"][0]["reported_at"] < page["items"][1]["reported_at"]
    assert client.get(f"{API}?state=accepted", headers=h).json()["total"] == 1
    assert client.get(f"{API}?grid_code=440112001001001", headers=h).json()["total"] == 4
    assert client.get(f"{API}?street_code=440112002000", headers=h).json()["total"] == 0
    assert client.get(f"{API}?overdue=true", headers=h).json()["total"] == 0


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_has_chinese_headers(client, world, fmt: str) -> None:  # type: ignore[no-untyped-def]
    _report(client, world)
    r = client.get(f"{API}/export?format={fmt}", headers=_h(world, "street1"))
    assert r.status_code == 200
    if fmt == "csv":
        assert r.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    else:
        rows = [list(row) for row in load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True)]
    assert rows[0][:3] == ["事件编号", "事件类别", "状态"] and len(rows) == 2
    assert rows[1][1] == "垃圾堆放" and rows[1][2] == "已上报"


def test_changes_since_cursor_are_scoped(client, world) -> None:  # type: ignore[no-untyped-def]
    a = _report(client, world).json()["uuid"]
    _report(client, world, who="worker_c", point=factories.gk_square(5, 5))
    first = client.get(f"{API}/changes?cursor=0", headers=_h(world, "street1")).json()
    assert [c["event_uuid"] for c in first["changes"]] == [a] and not first["has_more"]
    _move(client, world, "street1", a, to_state="accepted")
    nxt = client.get(f"{API}/changes?cursor={first['next_cursor']}", headers=_h(world, "street1")).json()
    assert [(c["event_uuid"], c["to_state"]) for c in nxt["changes"]] == [(a, "accepted")]


def test_feed_streams_server_sent_events(client, world) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("anyio")
    a = _report(client, world).json()["uuid"]
    with client.stream("GET", f"{API}/feed?cursor=0&seconds=0", headers=_h(world, "street1")) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    assert "event: create" in text and a in text


def test_possible_duplicate_flag_and_merge(client, world) -> None:  # type: ignore[no-untyped-def]
    first = _report(client, world).json()["uuid"]
    same_reporter = _report(client, world).json()
    assert same_reporter["possible_duplicate_of"] is None  # the same worker twice is not flagged
    dup = _report(client, world, who="worker_b").json()
    assert dup["possible_duplicate_of"] == first  # equal distance: the earliest event
    far = _report(client, world, who="worker_b", point=factories.gk_square(5, 5)).json()
    assert far["possible_duplicate_of"] is None
    other_kind = _report(client, world, who="worker_b", category_code="fire_hazard.passage").json()
    assert other_kind["possible_duplicate_of"] is None
    r = _move(client, world, "street1", dup["uuid"], to_state="merged", merged_into=first)
    assert r.status_code == 200 and r.json()["merged_into"] == first
    target = client.get(f"{API}/{first}", headers=_h(world, "street1")).json()
    assert target["history"][-1]["kind"] == "merge" and target["history"][-1]["data"]["merged_from"] == dup["uuid"]
    bad = _move(client, world, "street1", same_reporter["uuid"], to_state="merged", merged_into=str(uuid.uuid4()))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_merge_target"


def test_dispute_fields_and_reply_within_30_days(client, world) -> None:  # type: ignore[no-untyped-def]
    body = {"category_code": "dispute.neighbour", "dispute": {"parties": [{"name": "张三", "role": "申请人"},
                                                                          {"name": "李四", "role": "被申请人"}]}}
    ev = _report(client, world, **body).json()
    assert ev["dispute"]["parties"][0]["name"] == "张三"
    r = client.patch(f"{API}/{ev['uuid']}/dispute", headers=_h(world, "street1"),
                     json={"mediation_result": "success", "replied_at": datetime.now(UTC).isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["mediation_result"] == "success" and r.json()["replied_within_30_days"] is True
    r = client.patch(f"{API}/{ev['uuid']}/dispute", headers=_h(world, "worker_a"), json={"mediation_result": "failure"})
    assert r.status_code == 403
    bad = client.patch(f"{API}/{ev['uuid']}/dispute", headers=_h(world, "street1"), json={"mediation_result": "maybe"})
    assert bad.status_code == 422
