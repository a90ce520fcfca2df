"""The event rollup: the indicator sums of the events that have settled, kept per cell, and the
hook that takes an event out of it whenever a write changes what it sums.

`gridops metrics rollup` (server.indicators.rollup) fills it; event_queries reads it for periods
made of whole months and reads only the events not in it (event.rolled_up false) one by one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Integer, String, UniqueConstraint, event, inspect
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from server.auth.models import User
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


ROLE = frozenset({"role"})  # a reporter's role decides worker_reports


def _changes(target: Event | User, columns: frozenset[str]) -> bool:
    state = inspect(target)
    return any(state.attrs[name].history.has_changes() for name in columns)


@event.listens_for(Session, "before_flush")
def _unroll_before_a_change(session: Session, flush_context: Any, instances: Any) -> None:
    """The one place every ORM write of an event passes (transitions, review, rating, merge, photos
    arriving late, whatever comes next): a rolled-up event whose summed columns change, or that is
    deleted, leaves its cell in the writer's transaction, and the next rollup run takes it again;
    so do a user's reports when the user's role changes.
    Here, not in events: events sit below indicators and know nothing of the rollup."""
    from server.indicators.rollup import summed, unroll_changed, unroll_reports_of  # it imports this module

    events = [o for o in session.dirty if isinstance(o, Event)]
    deleted = [o for o in session.deleted if isinstance(o, Event)]
    for user in session.dirty:
        if isinstance(user, User) and _changes(user, ROLE):
            unroll_reports_of(session, user.id)
    if not events and not deleted:
        return
    columns = summed()
    for target in [*(o for o in events if _changes(o, columns)), *deleted]:
        unroll_changed(session, target)


@event.listens_for(Session, "do_orm_execute")
def _no_bulk_change_of_summed_columns(state: ORMExecuteState) -> None:
    """A Core or bulk UPDATE/DELETE of the event table bypasses the flush above: refuse one that
    could move rolled-up sums (an UPDATE setting a summed column or a user's role, any DELETE of
    events), so that such a path
    has to take the events out of the rollup first (and say so with `execution_options(unrolled=True)`).
    The serial backfill and the rollup's own marking set other columns and pass."""
    if not (state.is_update or state.is_delete) or state.execution_options.get("unrolled"):
        return
    # (an ORM statement's table is an annotated copy of the table: compared by name)
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table not in (Event.__tablename__, User.__tablename__):
        return
    from server.indicators.rollup import summed

    params = state.parameters or {}
    rows = params if isinstance(params, list) else [params]
    written = {getattr(c, "key", c) for c in getattr(state.statement, "_values", None) or {}}
    written |= {name for row in rows for name in row}  # ORM bulk UPDATE by primary key: the rows' keys
    watched = written & (summed() if table == Event.__tablename__ else ROLE)
    if watched or (state.is_delete and table == Event.__tablename__):
        raise RuntimeError(f"a bulk {'DELETE' if state.is_delete else 'UPDATE'} of {table} columns the rollup "
                           f"depends on ({sorted(watched)}) must unroll the events first "
                           "(server.indicators.rollup) and pass execution_options(unrolled=True)")
