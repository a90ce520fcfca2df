"""The administrative tree above grids: district → street → community, with official codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.database.core import Base
from server.database.types import UTCDateTime, multipolygon


class District(Base):
    __tablename__ = "district"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(6), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    streets: Mapped[list[Street]] = relationship(back_populates="district")


class Street(Base):
    __tablename__ = "street"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"), index=True)
    district: Mapped[District] = relationship(back_populates="streets")
    communities: Mapped[list[Community]] = relationship(back_populates="street")


class Community(Base):
    """A retired community keeps its row: its code, like a grid's, is never issued again."""

    __tablename__ = "community"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    street_id: Mapped[int] = mapped_column(ForeignKey("street.id"), index=True)
    # The community boundary, when known, lets the topology check find gaps between grids.
    boundary = mapped_column(multipolygon(), nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    street: Mapped[Street] = relationship(back_populates="communities")
