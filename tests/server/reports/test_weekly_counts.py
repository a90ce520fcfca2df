"""Every count in the weekly report equals an independent count of the rows; cut lists say so."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from server.events import service as events
from server.events.enums import CLOSED_STATES, TERMINAL, EventState
from server.events.models import Event
from server.events.schemas import EventCreate
from server.reports import weekly
from tests import factories
from tests.conftest import NOW


@pytest.fixture
def week(db_session):  # type: ignore[no-untyped-def]
    """Nine events this week over the three grids; five of them made overdue (due long ago), one closed."""
    world = factories.event_world(db_session)
    who = {"A": ("worker_a", factories.gk_square(0, 0)), "B": ("worker_b", factories.gk_square(1, 0)),
           "C": ("worker_c", factories.gk_square(5, 5))}
    made = []
    for i, grid in enumerate("AAAABBBCC"):
        user, square = who[grid]
        body = factories.event_body(square, uuid=str(uuid.uuid4()),
                                    reported_at=(NOW - timedelta(hours=20 + i)).isoformat(),
                                    category_code="dispute.family" if i % 2 else "sanitation.garbage")
        made.append(events.create(db_session=db_session, reporter=world["users"][user], data=EventCreate(**body),
                                  now=NOW)[0])
    db_session.execute(update(Event).where(Event.id.in_([e.id for e in made[:5]]))
                       .values(closure_due_at=NOW - timedelta(hours=2)))
    db_session.execute(update(Event).where(Event.id == made[5].id).values(state=EventState.handled.value)
                       .execution_options(unrolled=True))  # just reported: nothing is rolled up
    db_session.flush()
    return world


def _independent(db_session, at: datetime, start: datetime, end: datetime) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The same figures counted in Python over every row: no query of the report's is reused."""
    rows = [e for e in db_session.scalars(select(Event)) if e.street_code.startswith("440112")]
    new = [e for e in rows if start <= e.reported_at < end]
    open_states = {s.value for s in EventState} - {s.value for s in TERMINAL | CLOSED_STATES}
    overdue = [e for e in rows if e.state in open_states and e.closure_due_at < at and e.reported_at < at]
    return {"new": len(new), "grids": len({e.grid_id for e in new}), "overdue": len(overdue)}


def test_counts_are_counted_not_taken_from_cut_lists(db_session, week, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(weekly, "GRID_LIMIT", 1)
    monkeypatch.setattr(weekly, "OVERDUE_LIMIT", 2)
    summary = weekly.summary(db_session=db_session, district_code="440112", area="黄埔区",
                             week_start=weekly.week_of(NOW.date()), now=NOW)
    start, end = weekly._bounds(summary.week_start)
    truth = _independent(db_session, min(end, NOW), start, end)
    assert truth == {"new": 9, "grids": 3, "overdue": 5}
    assert len(summary.events_by_grid) == 1 and summary.grid_count == truth["grids"]
    assert len(summary.overdue) == 2 and summary.overdue_count == truth["overdue"]
    assert summary.this_week.new_events == truth["new"] and summary.this_week.overdue_events == truth["overdue"]
    from metrics.weekly_report import render_markdown

    text = render_markdown(summary)
    assert "本周共 3 个网格有新增事件，以下为事件最多的 1 个网格（仅列前 1 项，共 3 项）" in text
    assert "截至周末仍超期的事件 5 件，按超期时长排列（仅列前 2 项，共 5 项）" in text
    assert "新增事件 9 件" in text


def test_the_overdue_table_reads_in_chinese_with_short_numbers(db_session, week) -> None:  # type: ignore[no-untyped-def]
    summary = weekly.summary(db_session=db_session, district_code="440112", area="黄埔区",
                             week_start=weekly.week_of(NOW.date()), now=NOW)
    assert {e.category for e in summary.overdue} == {"垃圾堆放", "婚姻家庭纠纷"}
    assert {e.state for e in summary.overdue} == {"已上报"}
    assert all(len(e.serial) == 11 and e.serial.startswith("2026-") for e in summary.overdue)
    assert not any("." in e.category or e.state in {s.value for s in EventState} for e in summary.overdue)


def test_a_full_list_has_no_cut_note(db_session, week) -> None:  # type: ignore[no-untyped-def]
    from metrics.weekly_report import render_markdown

    text = render_markdown(weekly.summary(db_session=db_session, district_code="440112", area="黄埔区",
                                          week_start=weekly.week_of(NOW.date()), now=NOW))
    assert "仅列前" not in text and "本周共 3 个网格有新增事件" in text


