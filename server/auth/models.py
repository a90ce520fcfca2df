"""Users. Scope is held as administrative codes, so auth depends on no other domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.database.core import Base
from server.database.types import UTCDateTime, utcnow


class User(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    hashed_password: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32), index=True)
    # district_code: 6-digit GB/T 2260; street_code: 12-digit, for street_admin and workers.
    district_code: Mapped[str | None] = mapped_column(String(6), index=True)
    street_code: Mapped[str | None] = mapped_column(String(12), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoginThrottle(Base):
    """Recent failed logins of one account name or one client address, shared by every server process.

    `key` is a keyed hash of the name or address: neither what was typed as a name (now and then a
    password) nor addresses are stored. `level` counts failures, one forgiven per quiet interval.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    level: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
