"""The time-limit sweep (预警/超期) and the configurable catalogue and time limits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.events import service
from server.events.enums import EventState
from server.events.models import EventHistory
from server.events.scheduled import sweep
from server.events.schemas import EventCreate
from server.events.transitions import transition
from tests import factories
from tests.conftest import NOW


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    return factories.event_world(db_session)


def _event(db_session, world):  # type: ignore[no-untyped-def]
    event, _ = service.create(db_session=db_session, reporter=world["users"]["worker_a"],
                              data=EventCreate(**factories.event_body()), now=NOW)
    return event


def _kinds(db_session, event) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.kind for h in db_session.query(EventHistory).filter_by(event_id=event.id).order_by(EventHistory.id)]


def test_warning_then_overdue_once(db_session, world) -> None:  # type: ignore[no-untyped-def]
    event = _event(db_session, world)
    due = event.closure_due_at
    assert sweep(db_session=db_session, now=due - timedelta(days=3))["warning"] == 0
    assert sweep(db_session=db_session, now=due - timedelta(hours=1))["warning"] == 1
    assert sweep(db_session=db_session, now=due - timedelta(minutes=30))["warning"] == 0  # already warned
    counts = sweep(db_session=db_session, now=due + timedelta(seconds=1))
    assert counts["overdue"] == 1 and event.overdue is True and event.state == "reported"
    assert sweep(db_session=db_session, now=due + timedelta(hours=1))["overdue"] == 0  # idempotent
    assert _kinds(db_session, event) == ["create", "step_overdue", "warning", "overdue"]


def test_closed_events_are_not_swept(db_session, world) -> None:  # type: ignore[no-untyped-def]
    event = _event(db_session, world)
    event.state = EventState.handled.value
    transition(db_session=db_session, event=event, to=EventState.closed, actor=world["users"]["admin"],
               at=event.reported_at + timedelta(hours=1))
    counts = sweep(db_session=db_session, now=event.closure_due_at + timedelta(days=1))
    assert counts["overdue"] == 0 and event.overdue is False and event.closed_on_time is True


def test_step_overdue_resets_on_transition(db_session, world) -> None:  # type: ignore[no-untyped-def]
    event = _event(db_session, world)
    sweep(db_session=db_session, now=event.due_at + timedelta(minutes=1))
    assert event.step_overdue is True
    transition(db_session=db_session, event=event, to=EventState.accepted, actor=world["users"]["admin"],
               at=event.due_at + timedelta(minutes=2))
    assert event.step_overdue is False and event.due_at is not None


def test_categories_and_policies_api(client, world) -> None:  # type: ignore[no-untyped-def]
    admin = factories.auth_headers(world["users"]["admin"])
    cats = {c["code"]: c for c in client.get("/api/v1/events/categories", headers=admin).json()}
    assert cats["dispute"]["name"] == "矛盾纠纷" and cats["dispute.neighbour"]["parent_code"] == "dispute"
    r = client.put("/api/v1/events/categories/sanitation.noise", json={"name": "噪音扰民", "parent_code": "sanitation"},
                   headers=admin)
    assert r.status_code == 200
    deep = client.put("/api/v1/events/categories/noise_sub", json={"name": "x",
                                                                            "parent_code": "sanitation.noise"},
                      headers=admin)
    assert deep.status_code == 422 and deep.json()["error"]["code"] == "bad_parent_category"
    # a code the column (64) cannot hold: PostgreSQL refused the write with a 500, SQLite stored it
    long = client.put(f"/api/v1/events/categories/{'a' * 65}", json={"name": "x"}, headers=admin)
    assert long.status_code == 422 and long.json()["error"]["code"] == "validation_error"
    assert client.put(f"/api/v1/events/categories/{'a' * 64}", json={"name": "x"}, headers=admin).status_code == 200
    ok = client.put("/api/v1/events/time-limits/sanitation.noise/closure", json={"time_limit": "2wd"}, headers=admin)
    assert ok.status_code == 200
    bad = client.put("/api/v1/events/time-limits/sanitation.noise/closure", json={"time_limit": "soon"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_time_limit"
    street = factories.auth_headers(world["users"]["street1"])
    refused = client.put("/api/v1/events/time-limits/*/closure", json={"time_limit": "1d"}, headers=street)
    assert refused.status_code == 403
    # the new category's own limit drives when a new report is due
    body = factories.event_body(category_code="sanitation.noise")
    event = client.post("/api/v1/events", json=body, headers=factories.auth_headers(world["users"]["worker_a"])).json()
    default = client.post("/api/v1/events", json=factories.event_body(),
                          headers=factories.auth_headers(world["users"]["worker_a"])).json()
    assert event["closure_due_at"] < default["closure_due_at"]
