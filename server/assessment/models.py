"""What the assessment keeps: manual items, sign-offs, and the frozen scores (versions, never overwritten).

Scores are computed from the data until a street's month is signed by the street and then the
district; the district's signature stores every worker's score as version 1. A correction adds
version n + 1 with its reason; the read takes the highest version. Who did what is also written to
the administrators' audit log (auth's AdminAction).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.database.core import Base
from server.database.types import UTCDateTime


class AssessmentAdjustment(Base):
    """A manual item (a verified complaint, a commendation) entered by the street admin, with its reason."""

    __tablename__ = "assessment_adjustment"
    __table_args__ = (Index("ix_assessment_adjustment_month_worker", "month", "worker_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7))  # 2026-11
    worker_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    item_code: Mapped[str] = mapped_column(String(32))
    points: Mapped[Decimal] = mapped_column(Numeric(8, 2))  # the rule's `per` when entered
    reason: Mapped[str] = mapped_column(String(500))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))  # None: the CLI
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AssessmentSignoff(Base):
    """One signature on one street's month: `level` street (the street admin) then district."""

    __tablename__ = "assessment_signoff"
    __table_args__ = (UniqueConstraint("month", "street_code", "level", name="uq_assessment_signoff"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    street_code: Mapped[str] = mapped_column(String(12))
    level: Mapped[str] = mapped_column(String(16))  # street | district
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AssessmentScore(Base):
    """A frozen worker-month: the whole computed row (items, records behind them) as it was signed."""

    __tablename__ = "assessment_score"
    __table_args__ = (UniqueConstraint("month", "worker_id", "version", name="uq_assessment_score_version"),
                      Index("ix_assessment_score_month_street", "month", "street_code"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    street_code: Mapped[str] = mapped_column(String(12))
    worker_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    version: Mapped[int] = mapped_column(Integer)
    total: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    coverage: Mapped[Decimal] = mapped_column(Numeric(6, 4))
    rule_version: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(500))  # a correction's
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
