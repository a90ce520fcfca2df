"""Event, visit and dispute indicators on hand-made data whose answers are worked out here."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import literal, select

from server.database.prefix import prefix_range
from server.events import service as events
from server.events.enums import EventState
from server.events.schemas import EventCreate
from server.events.transitions import transition
from server.indicators import event_queries as q
from server.indicators.periods import parse_period, parse_scope
from server.indicators.results import Ratio
from tests import factories
from tests.statements import counted

SH = ZoneInfo("Asia/Shanghai")
NOV = parse_period("2026-11")
OCT = parse_period("2026-10")
STREET1 = parse_scope("street:440112001")
NOW = datetime(2026, 12, 10, tzinfo=UTC)


def ratio(db_session, code: str, scope=STREET1, period=NOV, now=NOW) -> Ratio:  # type: ignore[no-untyped-def]
    return q.ratios(db_session, [scope], [code], period, now)[scope, code]


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    return factories.event_world(db_session)


def _report(db_session, world, at: datetime, *, who: str = "worker_a", square=(0, 0), category="sanitation.garbage"):  # type: ignore[no-untyped-def]
    body = factories.event_body(factories.gk_square(*square), reported_at=at.isoformat(), category_code=category,
                                uuid=str(uuid.uuid4()))
    event, _ = events.create(db_session=db_session, reporter=world["users"][who], data=EventCreate(**body),
                             now=at + timedelta(minutes=1))
    return event


def _walk(db_session, world, event, states: list[str], at: datetime) -> None:  # type: ignore[no-untyped-def]
    for i, s in enumerate(states):
        transition(db_session=db_session, event=event, to=EventState(s), actor=world["users"]["admin"],
                   at=at + timedelta(minutes=i))
    db_session.flush()


CLOSE = ["accepted", "dispatched", "handled", "closed"]


def test_no_events_is_no_data_not_100(db_session, world) -> None:  # type: ignore[no-untyped-def]
    r = ratio(db_session, "closure_rate", STREET1, NOV)
    assert (r.numerator, r.denominator, r.value) == (0, 0, None)
    assert ratio(db_session, "satisfaction", STREET1, NOV).value is None


def test_closure_and_on_time_rates(db_session, world) -> None:  # type: ignore[no-untyped-def]
    t = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)  # Tuesday 10:00 Shanghai
    on_time1, on_time2, late, still_open, rejected = (_report(db_session, world, t + timedelta(hours=i))
                                                      for i in range(5))
    _walk(db_session, world, on_time1, CLOSE, t + timedelta(days=1))
    _walk(db_session, world, on_time2, CLOSE + ["reviewed"], t + timedelta(days=2))
    _walk(db_session, world, late, CLOSE, late.closure_due_at + timedelta(hours=1))
    _walk(db_session, world, still_open, ["accepted"], t + timedelta(hours=6))
    _walk(db_session, world, rejected, [], t)
    transition(db_session=db_session, event=rejected, to=EventState.rejected, actor=world["users"]["admin"], at=t)
    _report(db_session, world, t, who="worker_c", square=(5, 5))  # street 2: out of scope
    closure = ratio(db_session, "closure_rate", STREET1, NOV)
    assert (closure.numerator, closure.denominator, closure.value) == (3, 4, 75.0)
    on_time = ratio(db_session, "on_time_closure_rate", STREET1, NOV)
    assert (on_time.numerator, on_time.denominator, on_time.value) == (2, 4, 50.0)
    assert ratio(db_session, "closure_rate", parse_scope("district:440112"), NOV).denominator == 5
    assert ratio(db_session, "closure_rate", parse_scope("grid:440112001001001"), NOV).denominator == 4
    assert ratio(db_session, "closure_rate", parse_scope("grid:440112001001002"), NOV).value is None


def test_period_boundaries(db_session, world) -> None:  # type: ignore[no-untyped-def]
    """Reported 31 Oct 23:00 Shanghai (15:00 UTC) belongs to October; closed in November it is
    open for October's closure rate, and not a November case at all."""
    late_oct = datetime(2026, 10, 31, 15, 0, tzinfo=UTC)
    e = _report(db_session, world, late_oct)
    _walk(db_session, world, e, CLOSE, datetime(2026, 11, 2, 2, 0, tzinfo=UTC))
    assert ratio(db_session, "closure_rate", STREET1, OCT).value == 0.0
    assert ratio(db_session, "closure_rate", STREET1, NOV).value is None
    assert ratio(db_session, "closure_rate", STREET1, parse_period("2026")).value == 100.0


def test_satisfaction_formula(db_session, world) -> None:  # type: ignore[no-untyped-def]
    t = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
    for sat in ("very_satisfied", "neutral", "dissatisfied", "satisfied"):
        e = _report(db_session, world, t)
        _walk(db_session, world, e, CLOSE + ["reviewed"], t + timedelta(days=1))
        e.satisfaction = sat
    _report(db_session, world, t)  # not reviewed: not in the denominator
    db_session.flush()
    r = ratio(db_session, "satisfaction", STREET1, NOV)
    assert (r.numerator, r.denominator, r.value) == (3, 4, 75.0)  # (一般+满意+非常满意)/评价数量


def test_reports_and_visits_per_worker_month(db_session, world) -> None:  # type: ignore[no-untyped-def]
    """Street 1 has two workers assigned all of November: 2 worker-months."""
    t = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
    for i in range(6):
        _report(db_session, world, t + timedelta(hours=i), who="worker_a" if i < 4 else "worker_b")
    r = ratio(db_session, "reports_per_worker_month", STREET1, NOV, NOW)
    assert (r.numerator, r.denominator, r.value) == (6, 2.0, 3.0)
    half = parse_period("2026-11-01..2026-11-15")  # half of November: 2 × 15/30 worker-months
    assert ratio(db_session, "reports_per_worker_month", STREET1, half, NOW).denominator == pytest.approx(1.0)
    mid_month_now = datetime(2026, 11, 16, 16, 0, tzinfo=UTC)  # 17 Nov 00:00 Shanghai: 16 of 30 days elapsed
    assert ratio(db_session, "reports_per_worker_month", STREET1, NOV, mid_month_now).denominator == pytest.approx(2 * 16 / 30)


def test_dispute_rates(db_session, world) -> None:  # type: ignore[no-untyped-def]
    t = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    results = [("success", 5), ("success", 40), ("failure", 10), (None, None)]
    for result, reply_days in results:
        e = _report(db_session, world, t, category="dispute.neighbour")
        d = db_session.get(factories.Dispute, e.id)
        d.mediation_result = result
        d.replied_at = t + timedelta(days=reply_days) if reply_days else None
    db_session.flush()
    m = ratio(db_session, "mediation_success_rate", STREET1, NOV)
    assert (m.numerator, m.denominator) == (2, 3)
    # all four are past their 30-day reply time limit at NOW: answered in time 2 of 4
    reply = ratio(db_session, "dispute_reply_within_30_days_rate", STREET1, NOV, NOW)
    assert (reply.numerator, reply.denominator, reply.value) == (2, 4, 50.0)
    # on 20 November none is due yet; only the one answered (5 days) counts, and it was in time
    early = ratio(db_session, "dispute_reply_within_30_days_rate", STREET1, NOV, datetime(2026, 11, 20, tzinfo=UTC))
    assert (early.numerator, early.denominator) == (2, 2)


def test_dispute_statement_reads_the_dispute_table_alone(db_session, world) -> None:  # type: ignore[no-untyped-def]
    """A dispute carries its event's street, grid and time (set when reported), so the statistic
    needs no join to the period's events (10 M of them in a city's year)."""
    t = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    e = _report(db_session, world, t, category="dispute.neighbour")
    d = db_session.get(factories.Dispute, e.id)
    d.mediation_result = "success"
    db_session.flush()
    assert (d.street_code, d.grid_id, d.reported_at) == (e.street_code, e.grid_id, e.reported_at)
    district = parse_scope("district:440112")
    with counted(db_session) as statements:
        both = q.ratios(db_session, [STREET1, district], ["mediation_success_rate"], NOV, NOW)
    assert [(both[sc, "mediation_success_rate"].numerator, both[sc, "mediation_success_rate"].denominator)
            for sc in (STREET1, district)] == [(1, 1), (1, 1)]
    disputes = [s for s in statements if re.search(r"\bFROM dispute\b", s)]
    assert len(disputes) == 1
    assert not re.search(r"\bevent\b", disputes[0]), disputes[0]
    assert ratio(db_session, "mediation_success_rate", STREET1, OCT).denominator == 0  # by the copied time


def test_quality_score_rule(db_session, world) -> None:  # type: ignore[no-untyped-def]
    """Default rule (30 points): description ≥ 10 chars 5, photo 10, accuracy ≤ 30 m 5, address 5,
    sub-category 5. event_body has a 6-char description, no photo, 8 m, an address, a sub-category."""
    t = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
    _report(db_session, world, t)  # 5 + 5 + 5 = 15
    b = _report(db_session, world, t)
    b.description, b.photos = "小区门口垃圾堆放多日无人清理", ["f" * 64]  # 30
    c = _report(db_session, world, datetime(2026, 10, 10, 2, 0, tzinfo=UTC), category="other")  # 10 (no sub-category)
    c.gps_accuracy_m = 80.0  # 5 (address only)
    db_session.flush()
    nov = ratio(db_session, "quality_score", STREET1, NOV)
    assert nov.value == pytest.approx(22.5)
    both = ratio(db_session, "quality_score", STREET1, parse_period("2026-10-01..2026-11-30"))
    assert (both.denominator, both.value) == (2, pytest.approx((5 + 22.5) / 2))
    assert ratio(db_session, "quality_score", STREET1, parse_period("2026-09")).value is None


def test_reopened_event_counts_once_at_its_final_closing(db_session, world) -> None:  # type: ignore[no-untyped-def]
    """Handled, found not done and dispatched again (the flow's reopening), then closed late:
    one case, closed once, not on time."""
    t = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    e = _report(db_session, world, t)
    _walk(db_session, world, e, ["accepted", "dispatched", "handled", "dispatched", "handled"], t + timedelta(hours=1))
    _walk(db_session, world, e, ["closed"], e.closure_due_at + timedelta(days=1))
    closure = ratio(db_session, "closure_rate", STREET1, NOV)
    on_time = ratio(db_session, "on_time_closure_rate", STREET1, NOV)
    assert (closure.numerator, closure.denominator) == (1, 1)
    assert (on_time.numerator, on_time.denominator) == (0, 1)


SCOPES = [parse_scope(s) for s in ("district:440112", "street:440112001", "street:440112002", "community:440112001001",
                                   "grid:440112001001001", "grid:440112001001002", "grid:440112002001001")]


def test_many_scopes_in_one_pass_equal_each_scope_alone(db_session, world) -> None:  # type: ignore[no-untyped-def]
    """The board path (all scopes from one grouped statement per table) gives every scope what it
    gets alone, across levels, and the cases add up: grid A 3, grid B 1 (and one rejected), grid C 1."""
    t = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    a1, a2 = _report(db_session, world, t), _report(db_session, world, t + timedelta(hours=1))
    _report(db_session, world, datetime(2026, 10, 10, 2, 0, tzinfo=UTC))  # October, open
    for e in (a1, a2):
        _walk(db_session, world, e, CLOSE, t + timedelta(days=1))
    rejected = _report(db_session, world, t, who="worker_b", square=(1, 0))
    transition(db_session=db_session, event=rejected, to=EventState.rejected, actor=world["users"]["admin"], at=t)
    _report(db_session, world, t, who="worker_b", square=(1, 0))
    c = _report(db_session, world, t, who="worker_c", square=(5, 5), category="dispute.neighbour")
    db_session.get(factories.Dispute, c.id).mediation_result = "success"
    db_session.flush()
    period = parse_period("2026-10-01..2026-11-30")
    together = q.ratios(db_session, SCOPES, list(q.INDICATORS), period, NOW)
    for sc in SCOPES:
        alone = q.ratios(db_session, [sc], list(q.INDICATORS), period, NOW)
        assert {code: together[sc, code] for code in q.INDICATORS} == {code: alone[sc, code] for code in q.INDICATORS}
    closure = [(together[sc, "closure_rate"].numerator, together[sc, "closure_rate"].denominator) for sc in SCOPES]
    assert closure == [(2, 5), (2, 4), (0, 1), (2, 4), (2, 3), (0, 1), (0, 1)]
    assert [together[sc, "mediation_success_rate"].denominator for sc in SCOPES] == [1, 0, 1, 0, 0, 0, 1]
    assert together[SCOPES[0], "reports_per_worker_month"].numerator == 6  # the rejected one was reported too


@pytest.mark.parametrize(("code", "prefix", "inside"), [
    ("440112009000", "440112009", True), ("440112010000", "440112009", False), ("44011200", "440112009", False),
    ("440112", "440112", True), ("440113001", "440112", False), ("440111999", "440112", False),
    ("999123", "999", True), ("998", "999", False),
])
def test_code_prefix_as_an_index_range(db_session, code: str, prefix: str, inside: bool) -> None:  # type: ignore[no-untyped-def]
    """`code LIKE 'prefix%'` written as a range the B-tree index serves, on both back ends."""
    assert db_session.scalar(select(prefix_range(literal(code), prefix))) == inside


def test_code_prefix_rejects_non_digits() -> None:
    with pytest.raises(ValueError, match="digits only"):
        prefix_range(literal("x"), "4401%")


def test_quality_rule_from_settings(db_session, world, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """GRIDOPS_QUALITY_RULE replaces the built-in 30-point rule (here: the address alone is worth 30)."""
    from server.config import get_settings

    rule = tmp_path / "rule.json"
    rule.write_text('{"max_points": 30, "criteria": [{"check": "has_address", "points": 30}]}', encoding="utf-8")
    _report(db_session, world, datetime(2026, 11, 10, 2, 0, tzinfo=UTC))  # 15 by the built-in rule
    db_session.flush()
    assert ratio(db_session, "quality_score").value == 15
    monkeypatch.setenv("GRIDOPS_QUALITY_RULE", str(rule))
    get_settings.cache_clear()
    try:
        assert ratio(db_session, "quality_score").value == 30
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_visit_outside_the_workers_street_counts_for_both(db_session, world) -> None:  # type: ignore[no-untyped-def]
    """A visit counts for the worker's street and for the grid where it happened, which may lie in
    another street: grid A (street 1) visited by worker_a (street 1) and by worker_c (street 2)."""
    from geoalchemy2 import WKTElement

    from server.visits.models import Visit

    t = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
    for who in ("worker_a", "worker_c"):
        worker = world["users"][who]
        db_session.add(Visit(uuid=str(uuid.uuid4()), request_hash="x", worker_id=worker.id,
                             street_code=worker.street_code, grid_id=world["grids"]["A"].id, started_at=t,
                             ended_at=t + timedelta(minutes=30), points=[], counted=True,
                             geom=WKTElement("MULTIPOINT((113.43 23.08))", srid=4490)))
    db_session.flush()
    scopes = [parse_scope(s) for s in ("street:440112001", "street:440112002", "grid:440112001001001")]
    together = q.ratios(db_session, scopes, ["visits_per_worker_month"], NOV, NOW)
    assert [together[sc, "visits_per_worker_month"].numerator for sc in scopes] == [1, 1, 2]
    for sc in scopes:
        assert together[sc, "visits_per_worker_month"] == ratio(db_session, "visits_per_worker_month", sc)
    street1_and_grid = q.ratios(db_session, [scopes[0], scopes[2]], ["visits_per_worker_month"], NOV, NOW)
    assert street1_and_grid[scopes[2], "visits_per_worker_month"].numerator == 2  # worker_c's is not in street 1
