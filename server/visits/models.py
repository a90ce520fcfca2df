"""Patrols and household visits (巡查走访) with their check-in points."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gis.crs import CGCS2000
from server.database.core import Base
from server.database.types import UTCDateTime, utcnow


class Visit(Base):
    __tablename__ = "visit"
    __table_args__ = (
        Index("ix_visit_worker_started", "worker_id", "started_at"),
        # indicators: a scope (street code, or grid below the street) and a period (migration 0004)
        Index("ix_visit_street_started", "street_code", "started_at"),
        Index("ix_visit_grid_started", "grid_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    worker_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    street_code: Mapped[str | None] = mapped_column(String(12))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"))  # where most points fell
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    geom = mapped_column(Geometry("MULTIPOINT", srid=CGCS2000, spatial_index=False), nullable=False)
    points: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{lon, lat, at}] in CGCS2000
    households: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)
    counted: Mapped[bool] = mapped_column(Boolean)
    not_counted_reason: Mapped[str | None] = mapped_column(String(32))
    not_counted_detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
