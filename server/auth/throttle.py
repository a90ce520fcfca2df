"""Failed logins slow down per account name and per client address, in the database.

Each name and each address has a level: +1 per wrong password, one forgiven per quiet interval
(15 min for a name, 1 min for an address). Above the free failures every failure doubles the
wait (1 s, 2 s, 4 s … up to `login_max_block_s`); while it runs, every login for that name or
from that address is 429 `login_throttled` with Retry-After, and no password is checked. A right
password clears the name's level, never the address's (an attacker's own account would clear
it). Unknown names are treated exactly like known ones. Rows live in `login_throttle`, so every
server process behind a proxy sees the same counts.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.auth.models import LoginThrottle
from server.config import Settings, get_settings
from server.errors import TooManyRequests

FORGET_AFTER = timedelta(days=1)  # rows untouched this long (and not blocking) are deleted


@dataclass(frozen=True)
class Rule:
    free: int  # failures before any wait
    drain_s: float  # one failure forgiven per this many seconds


def _keys(settings: Settings, username: str, address: str | None) -> list[tuple[str, Rule]]:
    def key(kind: str, value: str) -> str:
        return hmac.new(settings.secret_key.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    keys = [(key("user", username), Rule(settings.login_free_failures, 900.0))]
    if address:
        keys.append((key("addr", address), Rule(settings.login_address_free_failures, 60.0)))
    return keys


def wait_seconds(level: float, *, free: int, max_s: int) -> int:
    """The wait after a failure that brought the level to `level`: 0, then 1, 2, 4 … max_s."""
    over = math.ceil(level) - free
    return 0 if over <= 0 else min(max_s, 2 ** min(over - 1, 30))


def _drained(row: LoginThrottle, rule: Rule, now: datetime) -> float:
    return max(0.0, row.level - max(0.0, (now - row.updated_at).total_seconds()) / rule.drain_s)


def check(*, db_session: Session, username: str, address: str | None, now: datetime) -> None:
    """429 while the name or the address waits; checked before any password."""
    keys = [k for k, _ in _keys(get_settings(), username, address)]
    until = db_session.scalars(select(LoginThrottle.blocked_until).where(
        LoginThrottle.key.in_(keys), LoginThrottle.blocked_until > now)).all()
    if until:
        retry = max(1, math.ceil((max(until) - now).total_seconds()))
        raise TooManyRequests(f"too many failed logins: try again in {retry} s",
                              f"登录失败次数过多，请{retry}秒后再试", retry_after=retry, code="login_throttled")


def _row(db_session: Session, key: str, now: datetime) -> LoginThrottle:
    """The row, locked (PostgreSQL) so two processes count a failure each; made if missing."""
    q = select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
    if (row := db_session.scalar(q)) is not None:
        return row
    try:
        with db_session.begin_nested():
            row = LoginThrottle(key=key, level=0.0, updated_at=now, blocked_until=None)
            db_session.add(row)
    except IntegrityError:  # another process made it first
        row = db_session.scalar(q.execution_options(populate_existing=True))
        assert row is not None
    return row


def failed(*, db_session: Session, username: str, address: str | None, now: datetime) -> None:
    """Count a wrong password (or an unknown or disabled name) against the name and the address."""
    settings = get_settings()
    for key, rule in _keys(settings, username, address):
        row = _row(db_session, key, now)
        row.level = _drained(row, rule, now) + 1.0
        row.updated_at = now
        wait = wait_seconds(row.level, free=rule.free, max_s=settings.login_max_block_s)
        row.blocked_until = now + timedelta(seconds=wait) if wait else None
    db_session.execute(delete(LoginThrottle).where(
        LoginThrottle.updated_at < now - FORGET_AFTER,
        or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until <= now)))
    db_session.flush()


def succeeded(*, db_session: Session, username: str) -> None:
    """A right password clears the name's failures (the address keeps its own)."""
    key, _ = _keys(get_settings(), username, None)[0]
    db_session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


def has_failures(*, db_session: Session, username: str) -> bool:
    """Whether the name has failures to clear: a clean login then writes nothing (on SQLite it
    need not wait for the write lock)."""
    key, _ = _keys(get_settings(), username, None)[0]
    return db_session.scalar(select(LoginThrottle.key).where(LoginThrottle.key == key)) is not None
