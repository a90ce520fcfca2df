"""The event rollup gives the statistics the events give: written, partly finalised, rolled up,
more finalised after, every whole-month period and a week agree with reading every event, and
`check` finds the cells sound (and says when they are not). Every way an event is written takes a
rolled-up event out of its cell when (and only when) it changes what the cell sums."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from server.auth.enums import Role
from server.auth.models import User
from server.config import get_settings
from server.database.core import make_engine
from server.events import actions, scheduled
from server.events import service as events
from server.events.enums import EventState
from server.events.models import Event
from server.events.schemas import EventCreate, TransitionIn
from server.events.transitions import transition
from server.indicators import event_queries as q
from server.indicators import service
from server.indicators.models import EventRollup
from server.indicators.periods import parse_period, parse_scope
from server.indicators.quality import RULE_60
from server.indicators.rollup import SETTLE, check, prepare, roll_up_all, roll_up_batch, summed
from server.photos import service as photos
from tests import factories
from tests.server.territory_world import jpeg

NOW = datetime(2027, 1, 10, tzinfo=UTC)
PERIODS = ("2026", "2026-Q4", "2026-10", "2026-11", "2026-12", "2026-W45", "2026-10-15..2026-11-14")
CODES = list(q.INDICATORS)
CLOSE = ["accepted", "dispatched", "handled", "closed"]
# (states walked, satisfaction): each pattern is used for events in every month and grid below
PATTERNS: list[tuple[list[str], str | None]] = [
    (CLOSE + ["reviewed"], "satisfied"), (CLOSE + ["reviewed"], "dissatisfied"), (CLOSE + ["reviewed"], None),
    (["rejected"], None), (["merged"], None), (CLOSE, None), (["accepted"], None), ([], None),
]


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    return factories.event_world(db_session)


def _walk(db_session, world, event, states: list[str], at: datetime) -> None:  # type: ignore[no-untyped-def]
    for i, s in enumerate(states):
        transition(db_session=db_session, event=event, to=EventState(s), actor=world["users"]["admin"],
                   at=at + timedelta(minutes=i))


def _events(db_session, world) -> list[tuple[Event, list[str], str | None]]:  # type: ignore[no-untyped-def]
    """Events around the local month ends (31 Oct 23:30 Shanghai is October, 15:30 UTC), closed days or
    weeks later (some in the next month), by workers of three grids and a street admin."""
    out = []
    starts = [datetime(2026, 10, 31, 15, 30, tzinfo=UTC), datetime(2026, 11, 12, 2, tzinfo=UTC),
              datetime(2026, 11, 30, 15, 59, tzinfo=UTC), datetime(2026, 12, 20, 3, tzinfo=UTC)]
    reporters = [("worker_a", (0, 0)), ("worker_b", (1, 0)), ("worker_c", (5, 5)), ("street1", (0, 0))]
    for n, (states, sat) in enumerate(PATTERNS * 2):
        at = starts[n % len(starts)] + timedelta(hours=n)
        who, square = reporters[n % len(reporters)]
        body = factories.event_body(factories.gk_square(*square), reported_at=at.isoformat(), uuid=str(uuid.uuid4()),
                                    category_code="sanitation.garbage" if n % 3 else "sanitation",
                                    description="垃圾堆放" * (1 + n % 4))
        event, _ = events.create(db_session=db_session, reporter=world["users"][who], data=EventCreate(**body),
                                 now=at + timedelta(minutes=1))
        out.append((event, states, sat))
    return out


def _finish(db_session, world, event, states, sat, days: int) -> None:  # type: ignore[no-untyped-def]
    _walk(db_session, world, event, states, event.reported_at + timedelta(days=days))
    if "reviewed" in states:
        event.satisfaction = sat
    db_session.flush()


def _roll_up(db_session, now: datetime = NOW) -> int:  # type: ignore[no-untyped-def]
    prepare(db_session, now)
    total = 0
    while n := roll_up_batch(db_session, now, limit=3):  # small batches: several transactions' worth
        total += n
    return total


def _scopes(db_session) -> list:  # type: ignore[no-untyped-def]
    district = parse_scope("district:440112")
    return [district, *(s for level in ("street", "community", "grid")
                        for s in service.scopes_below(db_session, district, level, parse_period("2026")))]


def _agree(db_session, periods: tuple[str, ...] = PERIODS) -> None:  # type: ignore[no-untyped-def]
    """compute_many with the rollup equals reading every event, for every scope alone and together."""
    scopes = _scopes(db_session)
    for label in periods:
        period = parse_period(label)
        for group in ([sc] for sc in scopes):
            both = [service.compute_many(db_session=db_session, scopes=group, codes=CODES, period=period, now=NOW,
                                         rollup=r) for r in (True, False)]
            assert both[0] == both[1], (label, group)
        together = [service.compute_many(db_session=db_session, scopes=scopes, codes=CODES, period=period, now=NOW,
                                         rollup=r) for r in (True, False)]
        assert together[0] == together[1], label


def test_rollup_and_live_add_up_to_every_event(db_session, world) -> None:  # type: ignore[no-untyped-def]
    made = _events(db_session, world)
    first, later = made[:len(PATTERNS)], made[len(PATTERNS):]
    for event, states, sat in first:
        _finish(db_session, world, event, states, sat, days=3)
    assert _roll_up(db_session) == len(made) > 0  # open and final alike: their sums are their rows'
    assert db_session.scalar(select(func.sum(EventRollup.events))) == len(made)
    assert _roll_up(db_session) == 0  # idempotent: nothing is taken twice
    for event, states, sat in later:  # moved on after the rollup, closing a month or more later
        _finish(db_session, world, event, states, sat, days=25)
    moved = [e for e, states, _ in later if states]
    assert [e for e, _, _ in made if not e.rolled_up] == moved
    _agree(db_session)
    assert check(db_session) == []
    last = max(e.updated_at for e in moved)
    assert _roll_up(db_session, last + SETTLE - timedelta(seconds=1)) == len(moved) - 1  # the last not yet settled
    assert _roll_up(db_session, last + SETTLE + timedelta(seconds=1)) == 1
    _agree(db_session)
    assert check(db_session) == [] and check(db_session, parse_scope("grid:440112001001001")) == []
    assert db_session.scalar(select(func.count()).where(Event.rolled_up.is_(True))) == len(made)


def test_all_at_once_makes_the_cells_the_batches_make(db_session, world) -> None:  # type: ignore[no-untyped-def]
    made = _events(db_session, world)
    for event, states, sat in made:
        _finish(db_session, world, event, states, sat, days=3)
    prepare(db_session, NOW)
    assert roll_up_all(db_session, NOW) == len(made)
    db_session.expire_all()
    assert roll_up_batch(db_session, NOW) == 0 and check(db_session) == []
    _agree(db_session, ("2026", "2026-11"))


def test_a_role_change_takes_the_reports_out_and_check_finds_one_made_by_hand(  # type: ignore[no-untyped-def]
        db_session, world, monkeypatch) -> None:
    for event, states, sat in _events(db_session, world):
        _finish(db_session, world, event, states, sat, days=3)
    _roll_up(db_session)
    world["users"]["worker_a"].role = Role.street_admin.value  # left the grid: their reports were a worker's
    db_session.flush()
    assert check(db_session) == []  # their reports left the rollup with the role they had
    _agree(db_session, ("2026", "2026-11"))
    assert _roll_up(db_session) > 0 and check(db_session) == []
    db_session.connection().execute(text('UPDATE "user" SET role = :r WHERE id = :id'),  # by hand, unseen
                                    {"r": Role.grid_worker.value, "id": world["users"]["worker_a"].id})
    found = check(db_session)
    assert found and {d.column for d in found} == {"worker_reports"}  # type: ignore[union-attr]
    assert check(db_session, parse_scope("street:440112002")) == []  # worker_c's street is untouched
    db_session.connection().execute(text('UPDATE "user" SET role = :r WHERE id = :id'),  # back, by hand
                                    {"r": Role.street_admin.value, "id": world["users"]["worker_a"].id})
    db_session.expire_all()
    assert check(db_session) == []
    monkeypatch.setattr(get_settings(), "quality_rule", str(RULE_60))  # another rule in force
    assert len(check(db_session)) == 1  # the rules differ: said once, the stale scores not compared
    _agree(db_session)  # every statistic falls back to reading the events
    assert prepare(db_session, NOW)  # the next run empties the rollup and rolls everything up anew
    assert db_session.scalar(select(func.count()).select_from(EventRollup)) == 0
    assert _roll_up(db_session) > 0 and check(db_session) == []
    _agree(db_session)


def _reported(db_session, world, states: list[str]) -> Event:  # type: ignore[no-untyped-def]
    """A worker's event of 12 November walked through `states` a day later, then everything rolled up."""
    at = datetime(2026, 11, 12, 2, tzinfo=UTC)
    event, _ = events.create(db_session=db_session, reporter=world["users"]["worker_a"], now=at,
                             data=EventCreate(**factories.event_body(reported_at=at.isoformat())))
    _walk(db_session, world, event, states, at + timedelta(days=1))
    _roll_up(db_session)
    assert event.rolled_up
    return event


def _move(to: str, **fields: object) -> Callable[..., None]:
    def move(db_session, world, event, at) -> None:  # type: ignore[no-untyped-def]
        if to == "merged":
            fields["merged_into"] = _reported(db_session, world, []).uuid
        actions.apply(db_session=db_session, event=event, body=TransitionIn(to_state=EventState(to), **fields),
                      actor=world["users"]["admin"], now=at)
    return move


def _late_photo(db_session, world, event, at) -> None:  # type: ignore[no-untyped-def]
    photo, _ = photos.store(db_session=db_session, data=jpeg((200, 30, 30)), uploader=world["users"]["worker_a"])
    actions.attach_photos(db_session=db_session, event=event, keys=[photo.sha256], actor=world["users"]["worker_a"],
                          now=at)


WRITES: dict[str, tuple[list[str], Callable[..., None]]] = {  # the state walked to first, then the write
    "accept": ([], _move("accepted")),
    "reject": ([], _move("rejected", rejection_reason="不属于受理范围")),
    "merge": ([], _move("merged")),
    "dispatch": (["accepted"], _move("dispatched", dispatched_to="城管执法队")),
    "return": (["accepted", "dispatched"], _move("returned", note="非本部门职责")),
    "handle again": (CLOSE[:3], _move("dispatched", dispatched_to="城管执法队")),
    "close": (CLOSE[:3], _move("closed")),
    "review with a rating": (CLOSE, _move("reviewed", satisfaction="very_satisfied")),
    "photos arriving late": (CLOSE + ["reviewed"], _late_photo),
}


@pytest.mark.parametrize("write", list(WRITES))
def test_every_write_takes_the_event_out_and_the_next_run_back(db_session, world, write) -> None:  # type: ignore[no-untyped-def]
    states, apply = WRITES[write]
    event = _reported(db_session, world, states)
    at = datetime(2026, 11, 20, 3, tzinfo=UTC)
    apply(db_session, world, event, at)
    db_session.flush()
    assert not event.rolled_up
    assert check(db_session) == []  # the cell no longer holds the event: no difference
    _agree(db_session, ("2026", "2026-11"))  # rollup + live rows = every event read
    assert _roll_up(db_session) == 1 and check(db_session) == []
    _agree(db_session, ("2026", "2026-11"))


def test_writes_of_other_columns_leave_the_event_rolled_up(db_session, world) -> None:  # type: ignore[no-untyped-def]
    """The sweep's overdue flags and the serial are not summed: no unroll, no extra statements."""
    event = _reported(db_session, world, ["accepted"])
    found = scheduled.sweep(db_session=db_session, now=NOW)  # long past every time limit
    assert found and event.overdue and event.rolled_up
    db_session.execute(update(Event).where(Event.id == event.id).values(serial=None))
    assert event.rolled_up and check(db_session) == []


def test_bulk_writes_of_summed_columns_are_refused(db_session, world) -> None:  # type: ignore[no-untyped-def]
    event = _reported(db_session, world, [])
    for stmt in (update(Event).where(Event.id == event.id).values(state="accepted"),
                 update(Event.__table__).where(Event.id == event.id).values(description="改"), delete(Event)):
        with pytest.raises(RuntimeError, match="must unroll the events first"):
            db_session.execute(stmt)
    with pytest.raises(RuntimeError, match=r"\['satisfaction'\]"):
        db_session.execute(update(Event), [{"id": event.id, "satisfaction": "satisfied"}])
    with pytest.raises(RuntimeError, match=r"\['role'\]"):
        db_session.execute(update(User).values(role=Role.street_admin.value))
    assert check(db_session) == []


def test_summed_columns_are_read_off_the_sums(db_session) -> None:  # type: ignore[no-untyped-def]
    assert {"state", "closed_at", "satisfaction", "photos", "description", "reporter_id", "reported_at",
            "grid_id", "street_code"} <= summed()
    assert not {"overdue", "step_overdue", "warned_at", "serial", "updated_at", "rolled_up"} & summed()


def test_a_write_after_a_run_took_the_event_unrolls_it(fresh_db_url: str) -> None:
    """The writer's copy of the event still says `rolled_up` false (loaded before a run took it): the
    hook asks the row (locked) and takes the event out all the same. Real sessions, real commits."""
    engine = make_engine(fresh_db_url)
    with Session(engine) as s:
        world = factories.event_world(s)
        reported = _reported(s, world, [])
        reported.rolled_up = False  # undo the helper's rollup, by hand: the event is live again
        s.execute(delete(EventRollup))
        s.commit()
        event_id, admin_id = reported.id, world["users"]["admin"].id
    with Session(engine, expire_on_commit=False) as writer:
        event = writer.get(Event, event_id)
        writer.commit()  # its snapshot ends; the copy stays as loaded
        with Session(engine) as job:
            assert _roll_up(job) == 1
            job.commit()
        assert event is not None and not event.rolled_up  # stale
        transition(db_session=writer, event=event, to=EventState.rejected, actor=writer.get(User, admin_id),
                   at=datetime(2026, 11, 20, tzinfo=UTC))
        writer.commit()
    with Session(engine) as s:
        assert s.scalar(select(Event.rolled_up).where(Event.id == event_id)) is False
        assert check(s) == [] and s.scalar(select(func.coalesce(func.sum(EventRollup.events), 0))) == 0
    engine.dispose()
