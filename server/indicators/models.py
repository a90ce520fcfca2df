"""The event rollup: the indicator sums of the events that will never change again, kept per cell.

`gridops metrics rollup` (server.indicators.rollup) fills it; event_queries reads it for periods
made of whole months and reads only the events not yet in it (event.rolled_up false) one by one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Integer, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, object_session

from server.database.core import Base
from server.database.types import UTCDateTime
from server.events.models import Event


class EventRollup(Base):
    """Sums of the rolled-up events reported in a local month in a grid, per local month they
    closed in ('' when not closed): a period counts the closures of the months up to its last."""

    __tablename__ = "event_rollup"
    __table_args__ = (UniqueConstraint("street_code", "reported_month", "grid_id", "closed_month",
                                       name="uq_event_rollup_cell"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    street_code: Mapped[str] = mapped_column(String(12))
    grid_id: Mapped[int] = mapped_column(Integer)  # no foreign key: a cell outlives nothing, it is only summed
    reported_month: Mapped[str] = mapped_column(String(7))  # YYYY-MM, Asia/Shanghai
    closed_month: Mapped[str] = mapped_column(String(7))  # YYYY-MM, Asia/Shanghai; '' when not closed
    events: Mapped[int] = mapped_column(Integer)
    cases: Mapped[int] = mapped_column(Integer)
    closed: Mapped[int] = mapped_column(Integer)
    closed_on_time: Mapped[int] = mapped_column(Integer)
    rated: Mapped[int] = mapped_column(Integer)
    satisfied: Mapped[int] = mapped_column(Integer)
    worker_reports: Mapped[int] = mapped_column(Integer)  # the reporter's role when rolled up
    score: Mapped[float] = mapped_column(Float)
    score_60: Mapped[float] = mapped_column(Float)


class RollupState(Base):
    """One row: the quality rules the scores in event_rollup were computed with (a hash of both);
    another rule in force sends every statistic back to the events until the rollup is rebuilt."""

    __tablename__ = "event_rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_hash: Mapped[str] = mapped_column(String(64))
    rolled_at: Mapped[datetime] = mapped_column(UTCDateTime())


@event.listens_for(Event.photos, "set")
def _photos_of_a_rolled_up_event(target: Event, value: Any, oldvalue: Any, initiator: Any) -> None:
    """Report photos may arrive after an event is final (the phone's queue, actions.attach_photos),
    and the quality score reads them: the event leaves the rollup in the writer's transaction and
    is rolled up again, with its photos, by the next run. Here, not in events: events sit below
    indicators and know nothing of the rollup."""
    session = object_session(target)
    if target.rolled_up and target.id is not None and session is not None:
        from server.indicators.rollup import unroll  # the job's module imports this one

        unroll(session, target.id)
        target.rolled_up = False
