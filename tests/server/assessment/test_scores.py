"""Scores of the hand-made October (tests/server/assessment/world.py), worked out item by item."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from server.assessment import compute, service
from server.assessment.models import AssessmentScore
from server.assessment.rule import DEFAULT_RULE, RuleError, current_rule, load, parse
from server.auth.models import AdminAction, User
from server.errors import (
    Conflict,
    GridopsError,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
)
from server.events.models import Event
from server.indicators.periods import parse_scope
from tests.conftest import NOW
from tests.server.assessment import world as W

D = Decimal
OCT = service.parse_month(W.MONTH)


def _items(row: compute.WorkerScore) -> dict[str, Decimal]:
    return {i.code: i.score for i in row.items}


def _by_name(rows: list[compute.WorkerScore]) -> dict[str, compute.WorkerScore]:
    return {r.username: r for r in rows}


def test_a_worker_all_month_in_one_grid(db_session) -> None:  # type: ignore[no-untyped-def]
    w = W.build(db_session)
    service.add_adjustment(db_session, user=w.users["street1"], month=OCT, username="wk1",
                           item_code="verified_complaint", reason="群众投诉核实：未按时清理", now=NOW)
    row = _by_name(service.scores(db_session, month=OCT, now=NOW))["wk1"]
    expected = {
        "events_reported": D(15) * 2 / 4,  # 2 of 4 → 7.50
        "visits_counted": D(25) * 10 / 20,  # 10 counted of 20 → 12.50 (the rejected one does not count)
        "event_quality": D(15) * D(25) / 30,  # (30 + 20) / 2 = 25 of 30 → 12.50
        "on_time_handling": D(15) * 1 / 2,  # 2 dispatched in A, 1 on time → 7.50
        "key_person_updates": D(15) * 1 / 2,  # monthly one updated 15 Oct (due 20 Oct), quarterly one not → 7.50
        "app_usage": D(15) * 11 / 15,  # synced on 1–11 Oct (events on 3 and 5 Oct) → 11.00
        "overdue_events": D(-2) * 2,  # due 8 Oct closed 10 Oct, due 20 Oct never closed
        "rejected_visits": D(-1),
        "verified_complaint": D(-5),
        "commendation": D(0),
    }
    assert _items(row) == {k: compute.round2(v) for k, v in expected.items()}
    assert row.total == D("48.50") and row.coverage == 1 and row.street_code == W.STREET1
    quality = next(i for i in row.items if i.code == "event_quality")
    assert sorted(r["质量评分"] for r in quality.records) == [20.0, 30.0]  # the records behind the item
    complaint = next(i for i in row.items if i.code == "verified_complaint")
    assert complaint.records[0]["理由"].startswith("群众投诉")
    assert db_session.query(AdminAction).filter_by(action="assessment_adjustment").count() == 1


def test_a_mid_month_move_is_assessed_once_with_each_grids_part(db_session) -> None:  # type: ignore[no-untyped-def]
    W.build(db_session)
    rows = _by_name(service.scores(db_session, month=OCT, now=NOW))
    w2 = rows["wk2"]
    assert [p["网格"] for p in w2.parts] == ["440112001001002", "440112002001001"]
    assert [p["占比"] for p in w2.parts] == [round(15 / 31, 4), round(16 / 31, 4)]  # 15 days in B, 16 in C
    assert w2.street_code == W.STREET2  # ranked where the longer part was
    # full marks but one overdue event of B in w2's part (due 10 Oct); B's 20 Oct one is w3's, C's 5 Oct nobody's
    assert _items(w2)["overdue_events"] == D(-2) and w2.total == D(100) - 2
    assert [r["办结时限"][:10] for i in w2.items if i.code == "overdue_events" for r in i.records] == ["2026-10-10"]


def test_leave_prorates_the_targets_and_too_short_a_month_is_not_ranked(db_session) -> None:  # type: ignore[no-untyped-def]
    W.build(db_session)
    rows = _by_name(service.scores(db_session, month=OCT, now=NOW))
    w3 = rows["wk3"]
    coverage = D(16) / 31  # on duty from 16 Oct 00:00 local
    assert w3.coverage == coverage.quantize(D("0.0001"))
    visits = compute.round2(D(25) * 8 / (20 * w3.coverage))  # 8 counted of 20 × 0.5161 = 10.32 → 19.38
    assert _items(w3) == {"events_reported": D(15), "visits_counted": visits, "event_quality": D(15),
                          "on_time_handling": D(15), "key_person_updates": D(15), "app_usage": D(15),
                          "overdue_events": D(-2), "rejected_visits": D(0), "verified_complaint": D(0),
                          "commendation": D(0)}
    assert w3.total == 5 * 15 + visits - 2 == D("92.38")
    w4 = rows["wk4"]
    assert w4.coverage == (D(7) / 31).quantize(D("0.0001")) and not w4.assessed and w4.rank is None
    assert (rows["wk3"].rank, rows["wk1"].rank, rows["wk2"].rank) == (1, 2, 1)
    # street 1: wk3 92.38 and wk1 53.50 (48.50 of the first test without its complaint); wk4 is not ranked
    assert service.street_averages(list(rows.values())) == {W.STREET1: D("72.94"), W.STREET2: D("98.00")}


def test_the_set_based_run_equals_worker_by_worker(db_session) -> None:  # type: ignore[no-untyped-def]
    W.build(db_session)
    rule = current_rule()
    together = {r.username: (r.total, _items(r)) for r in compute.compute(db_session, rule=rule, month=OCT, now=NOW)}
    for worker in ("wk1", "wk2", "wk3", "wk4"):
        wid = db_session.scalar(select(User.id).where(User.username == worker))
        alone = compute.compute(db_session, rule=rule, month=OCT, now=NOW, worker_ids=[wid])
        assert (alone[0].total, _items(alone[0])) == together[worker]
    street = compute.compute(db_session, rule=rule, month=OCT, now=NOW, street_prefix="440112001")
    assert sorted(r.username for r in street) == ["wk1", "wk3"]


def test_a_frozen_month_keeps_its_scores_and_a_correction_is_a_new_version(db_session) -> None:  # type: ignore[no-untyped-def]
    w = W.build(db_session)
    street1 = parse_scope("street:440112001")
    with pytest.raises(Conflict) as exc:
        service.sign_off(db_session, user=w.users["admin"], month=OCT, scope=street1, now=NOW)
    assert exc.value.code == "street_not_signed"
    service.sign_off(db_session, user=w.users["street1"], month=OCT, scope=street1, now=NOW)
    status = service.sign_off(db_session, user=w.users["admin"], month=OCT, scope=street1, now=NOW)
    assert status["frozen"] and status["version"] == 1
    # the overdue event of A is closed on time after the signature, and a commendation is entered
    late = db_session.query(Event).filter(Event.closed_at.is_(None), Event.grid_id == w.grids["A"].id,
                                          Event.closure_due_at == W.local(20)).one()
    late.closed_at, late.closed_on_time, late.state = W.local(19), True, "closed"
    db_session.flush()
    service.add_adjustment(db_session, user=w.users["street1"], month=OCT, username="wk1", item_code="commendation",
                           reason="区表扬", now=NOW)
    frozen = _by_name(service.scores(db_session, month=OCT, now=NOW))
    assert frozen["wk1"].total == D("53.50") and frozen["wk1"].version == 1  # 48.50 + 5 (no complaint here)
    assert frozen["wk2"].version == 0  # street 2 still follows the data
    status = service.correct(db_session, user=w.users["admin"], month=OCT, scope=street1, reason="事件补录办结时间",
                             now=NOW)
    corrected = _by_name(service.scores(db_session, month=OCT, now=NOW))["wk1"]
    assert status["version"] == 2 and corrected.version == 2
    assert corrected.total == D("53.50") + 2 + 2  # one overdue event fewer, and the commendation
    versions = db_session.query(AssessmentScore.version, AssessmentScore.total).filter_by(
        worker_id=w.users["wk1"].id).order_by(AssessmentScore.version).all()
    assert [(v, t) for v, t in versions] == [(1, D("53.50")), (2, D("57.50"))]  # never overwritten
    actions = [a.action for a in db_session.query(AdminAction).order_by(AdminAction.id)]
    assert actions.count("assessment_sign_off") == 2 and "assessment_correction" in actions


def test_signing_refusals(db_session) -> None:  # type: ignore[no-untyped-def]
    w = W.build(db_session)
    street1 = parse_scope("street:440112001")
    for user, scope, month, code in (
            ("street1", parse_scope("street:440112002"), OCT, "scope_forbidden"),
            ("street1", street1, service.parse_month("2026-11"), "month_not_over"),
            ("auditor", street1, OCT, "role_forbidden"),
            ("street1", parse_scope("district:440112"), OCT, "street_scope_required")):
        with pytest.raises(GridopsError) as exc:
            service.sign_off(db_session, user=w.users[user], month=month, scope=scope, now=NOW)
        assert exc.value.code == code
    service.sign_off(db_session, user=w.users["street1"], month=OCT, scope=street1, now=NOW)
    with pytest.raises(Conflict) as exc:
        service.sign_off(db_session, user=w.users["street1"], month=OCT, scope=street1, now=NOW)
    assert exc.value.code == "already_signed"
    with pytest.raises(Conflict):
        service.correct(db_session, user=w.users["admin"], month=OCT, scope=street1, reason="x", now=NOW)


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r["items"][1].update(points=30), "the positive items sum to 105, max_points is 100"),
    (lambda r: r["items"][6].update(per=2), "item #7 'overdue_events': per must be negative"),
    (lambda r: r["items"][0].update(source="phone_calls"), "item #1 'events_reported': kind target needs source"),
    (lambda r: r["items"][3].update(kind="guess"), "item #4 'on_time_handling': unknown kind 'guess'"),
    (lambda r: r["items"][8].update(cap=-1), "item #9 'verified_complaint': cap -1 must have the sign of per"),
    (lambda r: r["pay"].update(floor=2), "pay: need 0 ≤ floor ≤ 1 ≤ cap"),
])
def test_a_rule_with_an_error_names_the_item_and_nothing_is_computed(db_session, settings_env, tmp_path,
                                                                     change, message) -> None:  # type: ignore[no-untyped-def]
    raw = json.loads(DEFAULT_RULE.read_text(encoding="utf-8"))
    change(raw)
    with pytest.raises(RuleError, match=message.replace("(", r"\(")):
        parse(raw, "rule.json")
    bad = tmp_path / "rule.json"
    bad.write_text(json.dumps(raw), encoding="utf-8")
    settings_env(GRIDOPS_ASSESSMENT_RULE=str(bad))
    load.cache_clear()
    W.build(db_session)
    with pytest.raises(ServiceUnavailable) as exc:
        service.scores(db_session, month=OCT, now=NOW)
    assert exc.value.code == "assessment_rule_invalid" and message.split(":")[0] in exc.value.message_en


def test_manual_items_need_a_known_item_and_a_worker_of_the_area(db_session) -> None:  # type: ignore[no-untyped-def]
    w = W.build(db_session)
    with pytest.raises(InvalidInput) as exc:
        service.add_adjustment(db_session, user=w.users["street1"], month=OCT, username="wk1", item_code="events_reported",
                               reason="x", now=NOW)
    assert exc.value.code == "unknown_item"
    for username in ("wk2", "nobody"):  # w2 is ranked in street 2 in October
        with pytest.raises(NotFound) as exc:
            service.add_adjustment(db_session, user=w.users["street1"], month=OCT, username=username,
                                   item_code="commendation", reason="x", now=NOW)
        assert exc.value.code == "worker_not_found"
