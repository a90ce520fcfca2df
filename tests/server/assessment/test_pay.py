"""Incentive pay: amounts worked out by hand, to the cent, summing exactly to the pool."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from server.assessment import pay, service
from server.assessment.compute import WorkerScore
from server.assessment.rule import current_rule
from server.errors import Conflict, InvalidInput
from server.indicators.periods import parse_scope
from tests.conftest import NOW
from tests.server.assessment import world as W

D = Decimal
RULE = current_rule().pay  # headcount between streets; score × time within; ≥ 60; 0.5–1.5 × the mean


def row(name: str, total: str, *, street: str = W.STREET1, coverage: str = "1", full_time: bool | None = True,
        assessed: bool = True) -> WorkerScore:
    return WorkerScore(worker_id=hash(name) % 10**6, username=name, full_name=name, full_time=full_time,
                       street_code=street, coverage=D(coverage), parts=[], items=[], total=D(total),
                       assessed=assessed)


def amounts(streets: list[pay.StreetShare]) -> dict[str, Decimal]:
    return {w.username: w.amount for s in streets for w in s.workers}


def test_equal_remainders_go_to_the_higher_score_then_the_username() -> None:
    streets = pay.allocate(pay.shares([[row("b", "90"), row("a", "90"), row("c", "90")]], RULE), D("100.00"), RULE)
    # 100.00 / 3 = 33.333…: 33.33 each and one cent left; equal remainders and scores: "a" first
    assert amounts(streets) == {"a": D("33.34"), "b": D("33.33"), "c": D("33.33")}
    streets = pay.allocate(pay.shares([[row("b", "90"), row("a", "80")]], RULE), D("0.01"), RULE)
    # 0.01 × 90/170 = 0.0053, × 80/170 = 0.0047: the larger remainder (b) takes the cent
    assert amounts(streets) == {"a": D("0.00"), "b": D("0.01")}


def test_shares_follow_score_times_time_on_duty_with_floor_cap_and_minimum() -> None:
    rows = [row("full", "100"), row("half", "60", coverage="0.5"), row("low", "59.99"),
            row("part", "100", full_time=False), row("new", "100", coverage="0.2", assessed=False)]
    streets = pay.allocate(pay.shares([rows], RULE), D("1000.00"), RULE)
    # weights 100 × 1 = 100 and 60 × 0.5 = 30: 769.23… and 230.76…; mean 500, bounds 250–750:
    # "full" is capped at 750.00, "half" gets the rest 250.00 (at the floor, so it stays)
    assert amounts(streets) == {"full": D("750.00"), "half": D("250.00"), "low": D("0.00"), "part": D("0.00"),
                                "new": D("0.00")}
    notes = {w.username: w.note for s in streets for w in s.workers}
    assert "低于60" in notes["low"] and "兼职" in notes["part"] and "不参评" in notes["new"]
    # "low" is counted in the street's headcount (a full-time worker on duty) though not paid
    assert streets[0].headcount == Fraction(5, 2)


def test_streets_by_headcount_and_street_pools() -> None:
    month = [row("a1", "90"), row("a2", "70", coverage="0.5161"),
             row("b1", "95", street=W.STREET2), row("b2", "60", street=W.STREET2, assessed=False, coverage="0.2258")]
    streets = pay.allocate(pay.shares([month], RULE), D("1000.00"), RULE)
    # headcount 1.5161 and 1: 1000 × 1.5161 / 2.5161 = 602.5595…, 397.4404…: 602.55 + 397.44, the cent to street 1
    assert [s.amount for s in streets] == [D("602.56"), D("397.44")]
    # in street 1: 90 × 1 = 90 and 70 × 0.5161 = 36.127 → 428.1…, 174.4…; mean 301.28, bounds 150.64–451.92
    # 60256 cents × 90 / 126.127 = 42996.66… and × 36.127 / 126.127 = 17259.33…: 42996 + 17259, the cent to a1
    assert (amounts(streets)["a1"], amounts(streets)["a2"]) == (D("429.97"), D("172.59"))
    assert sum(w.amount for w in streets[0].workers) == D("602.56") and amounts(streets)["b1"] == D("397.44")
    fixed = pay.allocate(pay.shares([month], RULE), D("1000.00"), RULE, {W.STREET2: D("300.00")})
    assert [s.amount for s in fixed] == [D("700.00"), D("300.00")]
    for bad in ({W.STREET2: D("1000.01")}, {"440112009000": D("1.00")}, {W.STREET2: D("1.001")}):
        with pytest.raises(InvalidInput):
            pay.allocate(pay.shares([month], RULE), D("1000.00"), RULE, bad)


def test_a_quarter_sums_the_months() -> None:
    months = [[row("a", "100")], [row("a", "80"), row("b", "100")], [row("a", "60", coverage="0.5"), row("b", "100")]]
    streets = pay.allocate(pay.shares(months, RULE), D("600.00"), RULE)
    # a: 100 + 80 + 30 = 210, b: 200: 307.317…, 292.682… (both inside 0.5–1.5 × 300)
    assert amounts(streets) == {"a": D("307.32"), "b": D("292.68")}
    a = next(w for w in streets[0].workers if w.username == "a")
    assert a.score == D("80.00") and a.coverage == D("2.5")


def test_pay_is_reproducible_from_the_frozen_month_and_refused_unfrozen(db_session) -> None:  # type: ignore[no-untyped-def]
    w = W.build(db_session)
    with pytest.raises(Conflict) as exc:
        service.pay_table(db_session, period=W.MONTH, pool=D("10000.00"), now=NOW)
    assert exc.value.code == "month_not_frozen"
    draft = service.pay_table(db_session, period=W.MONTH, pool=D("10000.00"), now=NOW, draft=True)
    for street in ("440112001", "440112002"):
        service.sign_off(db_session, user=w.users["street1" if street.endswith("1") else "street2"],
                         month=service.parse_month(W.MONTH), scope=parse_scope(f"street:{street}"), now=NOW)
        service.sign_off(db_session, user=w.users["admin"], month=service.parse_month(W.MONTH),
                         scope=parse_scope(f"street:{street}"), now=NOW)
    first = service.pay_table(db_session, period=W.MONTH, pool=D("10000.00"), now=NOW)
    assert amounts(first) == amounts(draft)
    assert sum(wk.amount for s in first for wk in s.workers) == D("10000.00")
    w.users["wk1"].full_time = False  # a later edit of the roster does not move a frozen month's… scores,
    db_session.flush()  # but full_time is read from the frozen row too
    again = service.pay_table(db_session, period=W.MONTH, pool=D("10000.00"), now=NOW)
    assert amounts(again) == amounts(first)
    # street 1 (wk1 1.0, wk3 0.5161) and street 2 (wk2 1.0; wk4 not ranked): 6025.60 / 3974.40 — see above
    assert [s.amount for s in first] == [D("6025.60"), D("3974.40")]
    assert (first[1].workers[0].username, first[1].workers[0].amount) == ("wk2", D("3974.40"))
