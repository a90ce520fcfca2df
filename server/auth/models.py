"""Users. Scope is held as administrative codes, so auth depends on no other domain."""

from __future__ import annotations

from datetime import date, datetime
from itertools import chain
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.database.core import Base
from server.database.feed_order import notify_at_commit
from server.database.types import UTCDateTime, utcnow


class User(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(64))
    # Personal data (server.personal_data): the phone encrypted, and its keyed hash to find duplicates.
    phone_enc: Mapped[str | None] = mapped_column(Text)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    hashed_password: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32), index=True)
    # district_code: 6-digit GB/T 2260; street_code: 12-digit, for street_admin and workers.
    district_code: Mapped[str | None] = mapped_column(String(6), index=True)
    street_code: Mapped[str | None] = mapped_column(String(12), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    full_time: Mapped[bool | None] = mapped_column(Boolean)  # 专职 / 兼职 as the roster says; None: not stated
    # An initial or reset password is known to an administrator: until its owner sets their own,
    # every endpoint but changing it answers 403 password_change_required.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # In every token ("ver"); raised by a password change, a reset or disabling, so older tokens stop.
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


USER_CHANGED = "user"  # the payload of the notification a user row's change sends (server.user_cache)


@event.listens_for(Session, "before_flush")
def _tell_user_caches(session: Session, _flush: Any, _instances: Any) -> None:
    """Every process keeps the users it authenticates in memory (server.user_cache): a flush that
    writes a user row tells them all at its commit, whichever process or command wrote it (the
    server, `gridops users disable`), so a disabled user's or reset password's tokens stop at once."""
    if any(isinstance(obj, User) for obj in chain(session.new, session.dirty, session.deleted)):
        notify_at_commit(session, USER_CHANGED)


class AdminAction(Base):
    """What administrators did to accounts (disable, enable, password reset, roster import): who, when,
    to whom. Never a password, nor a phone."""

    __tablename__ = "admin_action"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)  # None: the CLI
    actor: Mapped[str] = mapped_column(String(64))  # the username, or "cli"
    action: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    detail: Mapped[str | None] = mapped_column(String(256))


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


class AppSession(Base):
    """A worker's use of the mobile app on one day (Asia/Shanghai): the app reports each sync.

    One row per user and day, whatever the number of syncs: the app usage indicator
    (app_usage_rate) needs who used the app in a month, not a log of every request.
    """

    __tablename__ = "app_session"
    __table_args__ = (UniqueConstraint("user_id", "day", name="uq_app_session_user_day"),
                      Index("ix_app_session_first_at", "first_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    day: Mapped[date] = mapped_column(Date)
    app_version: Mapped[str] = mapped_column(String(32))  # the last one reported that day
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())
    syncs: Mapped[int] = mapped_column(Integer, default=1)
