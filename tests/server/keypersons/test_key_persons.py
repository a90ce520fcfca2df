"""The key-person register: registration, masking, the audited full read, updates exactly once and
at one's own visit, who sees whom, and the follow-up status the indicators count."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from server.indicators import service as indicators
from server.indicators.periods import parse_period, parse_scope
from server.keypersons.types import TypesFileError, parse
from server.rentals.models import PiiAccess
from tests import factories
from tests.conftest import NOW




def _valid_id(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights)) % 11]


PERSON = {"type_code": "mental_health", "name": "张三丰", "id_number": _valid_id("44010619900101123"),
          "phone": "13800138000", "address": "黄埔东路1号3栋201", "grid_code": "440112001001001"}


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    return factories.event_world(db_session)


def _h(world, who: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return factories.auth_headers(world["users"][who])


def _register(client, world, who: str = "street1", **overrides) -> dict:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/key-persons", json={**PERSON, **overrides}, headers=_h(world, who))
    assert r.status_code == 201, r.text
    return r.json()


def _update(client, world, person_id: int, who: str = "worker_a", **overrides):  # type: ignore[no-untyped-def]
    body = {"uuid": str(uuid.uuid4()), "at": NOW.isoformat(), "note": "情绪稳定，按时服药", **overrides}
    return client.post(f"/api/v1/key-persons/{person_id}/updates", json=body, headers=_h(world, who))


def test_registered_masked_and_due_after_its_interval(client, world) -> None:  # type: ignore[no-untyped-def]
    p = _register(client, world)
    assert (p["name"], p["phone"], p["masked"]) == ("张**", "138****8000", True)
    assert p["id_number"].startswith("440") and "*" in p["id_number"] and PERSON["address"] != p["address"]
    assert p["type_name"] == "严重精神障碍患者" and p["interval_days"] == 30 and p["follow_up"] == "up_to_date"
    assert datetime.fromisoformat(p["next_due_at"]) - datetime.fromisoformat(p["registered_at"]) == timedelta(days=30)


def test_the_full_record_only_for_admins_and_every_read_is_logged(client, world, db_session) -> None:  # type: ignore[no-untyped-def]
    p = _register(client, world)
    assert _update(client, world, p["id"]).status_code == 201
    for who in ("worker_a", "command", "auditor"):
        r = client.get(f"/api/v1/key-persons/{p['id']}/pii", headers=_h(world, who))
        assert r.status_code == 403 and r.json()["error"]["code"] == "pii_forbidden", who
    full = client.get(f"/api/v1/key-persons/{p['id']}/pii", headers=_h(world, "street1")).json()
    assert (full["name"], full["id_number"], full["phone"], full["address"]) == (
        PERSON["name"], PERSON["id_number"], PERSON["phone"], PERSON["address"])
    assert full["updates"][0]["note"] == "情绪稳定，按时服药"
    masked = client.get(f"/api/v1/key-persons/{p['id']}", headers=_h(world, "worker_a")).json()
    assert masked["updates"][0]["note"] == "***"
    logged = db_session.scalar(select(func.count()).select_from(PiiAccess).where(
        PiiAccess.record_type == "key_person", PiiAccess.record_id == p["id"]))
    assert logged == 1


def test_who_sees_whom(client, world) -> None:  # type: ignore[no-untyped-def]
    p = _register(client, world)
    for who, sees in (("worker_a", True), ("worker_b", False), ("worker_c", False), ("street1", True),
                      ("street2", False), ("admin", True), ("command", True), ("auditor", True)):
        listed = [r["id"] for r in client.get("/api/v1/key-persons", headers=_h(world, who)).json()["items"]]
        assert (p["id"] in listed) is sees, who
        assert client.get(f"/api/v1/key-persons/{p['id']}", headers=_h(world, who)).status_code == (
            200 if sees else 404), who


def test_who_may_register_and_where(client, world) -> None:  # type: ignore[no-untyped-def]
    for who in ("worker_a", "command", "auditor"):
        assert client.post("/api/v1/key-persons", json=PERSON, headers=_h(world, who)).status_code == 403, who
    r = client.post("/api/v1/key-persons", json=PERSON, headers=_h(world, "street2"))  # another street's grid
    assert (r.status_code, r.json()["error"]["code"]) == (404, "grid_not_found")
    r = client.post("/api/v1/key-persons", json={**PERSON, "type_code": "vip"}, headers=_h(world, "street1"))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "unknown_key_person_type")
    r = client.post("/api/v1/key-persons", json={**PERSON, "id_number": "440106199001011230"},
                    headers=_h(world, "street1"))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_id_number")
    _register(client, world)
    r = client.post("/api/v1/key-persons", json=PERSON, headers=_h(world, "admin"))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "key_person_exists")
    assert _register(client, world, type_code="petitioner")["type_code"] == "petitioner"  # another type: allowed


def test_updates_exactly_once_and_only_at_ones_own_visit(client, world) -> None:  # type: ignore[no-untyped-def]
    p = _register(client, world)
    body = {"uuid": str(uuid.uuid4()), "at": NOW.isoformat(), "note": "走访"}
    first = client.post(f"/api/v1/key-persons/{p['id']}/updates", json=body, headers=_h(world, "worker_a"))
    again = client.post(f"/api/v1/key-persons/{p['id']}/updates", json=body, headers=_h(world, "worker_a"))
    assert (first.status_code, again.status_code) == (201, 200) and first.json() == again.json()
    assert len(client.get(f"/api/v1/key-persons/{p['id']}", headers=_h(world, "worker_a")).json()["updates"]) == 1
    assert _update(client, world, p["id"], who="worker_b").status_code == 404  # not their grid
    assert _update(client, world, p["id"], who="command").status_code == 403
    future = _update(client, world, p["id"], at=(NOW + timedelta(hours=2)).isoformat())
    assert (future.status_code, future.json()["error"]["code"]) == (422, "update_in_future")
    c = factories.gk_square(0, 0).centroid
    visit = {"uuid": str(uuid.uuid4()), "started_at": (NOW - timedelta(minutes=30)).isoformat(),
             "ended_at": NOW.isoformat(), "datum": "cgcs2000", "points": [{"lon": c.x, "lat": c.y}]}
    assert client.post("/api/v1/visits", json=visit, headers=_h(world, "worker_b")).status_code == 201
    foreign = _update(client, world, p["id"], visit_uuid=visit["uuid"])  # worker_b's visit, not worker_a's
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "visit_not_found")
    visit["uuid"] = str(uuid.uuid4())
    assert client.post("/api/v1/visits", json=visit, headers=_h(world, "worker_a")).status_code == 201
    own = _update(client, world, p["id"], visit_uuid=visit["uuid"])
    assert own.status_code == 201 and own.json()["visit_uuid"] == visit["uuid"]


def test_follow_up_and_the_rates_at_the_periods_end(client, world, db_session) -> None:  # type: ignore[no-untyped-def]
    """Two people in street 1 registered 1 October: the mental-health patient (30 days) updated on 10
    November is current at the end of November; the petitioner (91 days) is current without an update;
    a third, removed in November, is not counted. 12 November: the patient updated 10 November."""
    october = datetime(2026, 10, 1, 2, tzinfo=UTC).isoformat()
    patient = _register(client, world, registered_at=october)
    _register(client, world, type_code="petitioner", registered_at=october)
    gone = _register(client, world, type_code="drug_user", registered_at=october)
    assert client.post(f"/api/v1/key-persons/{gone['id']}/remove", json={"reason": "迁出本区"},
                       headers=_h(world, "street1")).status_code == 200
    nov, district = parse_period("2026-11"), parse_scope("district:440112")
    now = datetime(2026, 12, 5, tzinfo=UTC)

    def rate(code: str) -> tuple[float, float]:
        v = indicators.compute(db_session=db_session, code=code, scope=district, period=nov, now=now)
        return v.numerator, v.denominator

    assert rate("key_person_info_rate") == (1, 2)  # the patient went 61 days without an update
    assert rate("mental_health_managed_rate") == (0, 1)
    assert _update(client, world, patient["id"], at=datetime(2026, 11, 10, 2, tzinfo=UTC).isoformat()).status_code == 201
    assert rate("key_person_info_rate") == (2, 2)
    assert rate("mental_health_managed_rate") == (1, 1)
    assert rate("community_correction_managed_rate") == (0, 0)  # nobody of that type: no data, not 100 %
    street2 = indicators.compute(db_session=db_session, code="key_person_info_rate",
                                 scope=parse_scope("street:440112002"), period=nov, now=now)
    assert street2.denominator == 0
    from server.indicators import drilldown
    mid_october = drilldown.REGISTRY["key_person_info_rate"](db_session, district,
                                                              parse_period("2026-10-01..2026-10-20"), now, 10)
    assert mid_october == []  # 20 days after registration everybody is current
    behind = drilldown.REGISTRY["mental_health_managed_rate"](db_session, district, parse_period("2027-01"),
                                                              datetime(2027, 2, 1, tzinfo=UTC), 10)
    assert [r["姓名"] for r in behind] == ["张**"]  # masked in the drill-down, behind by January


def test_a_types_file_with_an_error_is_refused_with_the_reason() -> None:
    with pytest.raises(TypesFileError, match="interval_days must be 1–366"):
        parse({"types": [{"code": "x", "name_zh": "某类", "interval_days": 0}]}, "types.json")
    with pytest.raises(TypesFileError, match="unique identifier"):
        parse({"types": [{"code": "x", "name_zh": "甲", "interval_days": 30},
                         {"code": "x", "name_zh": "乙", "interval_days": 30}]}, "types.json")
