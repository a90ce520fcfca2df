"""Events, their append-only history, the category catalogue, time limit (时限) policy rows and disputes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    JSON,
    Boolean,
    text,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gis.crs import CGCS2000
from server.database.core import Base
from server.database.feed_order import commit_ordered
from server.database.types import UTCDateTime, utcnow


class EventCategory(Base):
    """Two-level catalogue: a top level (parent_code null) and its sub-categories."""

    __tablename__ = "event_category"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("event_category.code"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class EventSerialCounter(Base):
    """The last event number given per district and year; bumped in the transaction creating the event."""

    __tablename__ = "event_serial_counter"

    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class TimeLimitPolicy(Base):
    """Time limit of one step for a category ('*' = default), e.g. '8wh', '3wd', '30d'."""

    __tablename__ = "time_limit_policy"

    category_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    step: Mapped[str] = mapped_column(String(16), primary_key=True)
    time_limit: Mapped[str] = mapped_column(String(16))




class Event(Base):
    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_street_state", "street_code", "state"),
        # migration 0019: a category's events by period, with what the duplicate check compares (the
        # check reads the index alone: server.events.duplicates)
        Index("ix_event_category_near", "category_code", "reported_at", "lon", "lat", "reporter_id", "state"),
        # indicators: a scope (street code, or grid below the street) and a period (migration 0004)
        # (with grid and id on PostgreSQL since 0017: the disputes' join to their events reads the index only)
        Index("ix_event_street_reported", "street_code", "reported_at", postgresql_include=["grid_id", "id"]),
        Index("ix_event_grid_reported", "grid_id", "reported_at"),
        # migration 0014: a unique index (SQLite cannot add a constraint to a table)
        Index("uq_event_serial", "serial", unique=True),
        # migration 0017: the rows the indicators still read one by one (not yet in event_rollup),
        # by scope and period; and the same rows by id, in the order `gridops metrics rollup` takes them
        Index("ix_event_live_street_reported", "street_code", "reported_at",
              postgresql_where=text("NOT rolled_up"), sqlite_where=text("rolled_up = 0")),
        Index("ix_event_rollup_due", "id", postgresql_where=text("NOT rolled_up"), sqlite_where=text("rolled_up = 0")),
        # migration 0017: drill-downs list a district's events in the order reported, a few at a time
        # (ORDER BY reported_at LIMIT n over several streets: without it every row of the year is sorted)
        Index("ix_event_reported", "reported_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)  # client-generated: the idempotency key
    # "440112-2026-000123": district, year reported (Asia/Shanghai), number; shown without the district
    # ("2026-000123", server.events.serials). Null only for rows bulk-loaded until serials.backfill runs.
    serial: Mapped[str | None] = mapped_column(String(18))
    request_hash: Mapped[str] = mapped_column(String(64))
    category_code: Mapped[str] = mapped_column(ForeignKey("event_category.code"))
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(256))
    geom = mapped_column(Geometry("POINT", srid=CGCS2000, spatial_index=True), nullable=False)
    lon: Mapped[float] = mapped_column(Float)  # CGCS2000, kept for portable bbox pre-filters
    lat: Mapped[float] = mapped_column(Float)
    source_datum: Mapped[str] = mapped_column(String(16))
    gps_accuracy_m: Mapped[float | None] = mapped_column(Float)
    location_mock: Mapped[bool | None] = mapped_column(Boolean)  # the phone said: a mock location provider
    reporter_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"))
    street_code: Mapped[str] = mapped_column(String(12))
    state: Mapped[str] = mapped_column(String(16), index=True)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the phone's clock, checked for skew
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when the current step is due
    closure_due_at: Mapped[datetime] = mapped_column(UTCDateTime())  # when 办结 is due
    step_overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_on_time: Mapped[bool | None] = mapped_column(Boolean)
    dispatched_to: Mapped[str | None] = mapped_column(String(128))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[str | None] = mapped_column(String(32))
    possible_duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("event.id"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("event.id"))
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)  # sha256 keys
    # summed into event_rollup by `gridops metrics rollup` once final (server.indicators.rollup)
    rolled_up: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    history: Mapped[list[EventHistory]] = relationship(
        back_populates="event", order_by="EventHistory.id", foreign_keys="EventHistory.event_id")


class EventHistory(Base):
    """Append-only: one row per change. Its id is also the sync and live-feed cursor."""

    __tablename__ = "event_history"
    # an Idempotency-Key belongs to the user who sent it (migration 0007)
    __table_args__ = (UniqueConstraint("actor_id", "idempotency_key", name="uq_event_history_actor_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # create | transition | warning | overdue | merge | dispute | photos
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[str]] = mapped_column(JSON, default=list)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    event: Mapped[Event] = relationship(back_populates="history", foreign_keys=[event_id])


class Dispute(Base):
    """矛盾纠纷 / 人民调解: the extra fields of an event in the dispute category."""

    __tablename__ = "dispute"
    __table_args__ = (
        # migration 0018: the disputes statistic reads this table alone, by scope and period; on
        # PostgreSQL from the index alone (a city's year is 1.25 M disputes among 10 M events)
        Index("ix_dispute_street_reported", "street_code", "reported_at",
              postgresql_include=["grid_id", "mediation_result", "reply_due_at", "replied_at"]),
        Index("ix_dispute_grid_reported", "grid_id", "reported_at"),
    )
    # the event's, copied when the dispute is created (`for_event`): they never change after it
    COPIED = ("street_code", "grid_id", "reported_at")

    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), primary_key=True)
    street_code: Mapped[str] = mapped_column(String(12))
    grid_id: Mapped[int] = mapped_column(Integer)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    parties: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    mediation_result: Mapped[str | None] = mapped_column(String(16))  # success | failure | transferred
    mediated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reply_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @classmethod
    def for_event(cls, event: Event, **fields: Any) -> Dispute:
        """The dispute of a new event, with the event's scope and time the statistics filter on."""
        return cls(event_id=event.id, **{name: getattr(event, name) for name in cls.COPIED}, **fields)


# the history id is the feed's cursor: taken in commit order (see feed_order); an event's own row with it
commit_ordered(EventHistory, Event)
