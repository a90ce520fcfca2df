"""Grids and who works them, both with validity periods so history is never overwritten."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.database.core import Base
from server.database.types import UTCDateTime, multipolygon, utcnow
from server.divisions.models import Community


class Grid(Base):
    """A grid's code is fixed (编码固定) and unique across retired grids too: never reused."""

    __tablename__ = "grid"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(15), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    grid_type: Mapped[str] = mapped_column(String(16), default="comprehensive")
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    geom = mapped_column(multipolygon(), nullable=False)
    area_m2: Mapped[float] = mapped_column(Float)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    replaced_by_code: Mapped[str | None] = mapped_column(String(15))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    community: Mapped[Community] = relationship()


class GridAssignment(Base):
    """A worker on a grid from valid_from until valid_to (open while null)."""

    __tablename__ = "grid_assignment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    grid: Mapped[Grid] = relationship()
