"""Users: creation, lookup, password check."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.codes import district_of, street_code_problem
from server.auth import throttle
from server.auth.enums import Role
from server.auth.models import AppSession, User
from server.auth.schemas import UserCreate
from server.auth.security import decode_token  # noqa: F401  (public: server.deps checks request tokens)
from server.auth.security import dummy_hash, hash_password, verify_password
from server.config import get_settings
from server.errors import Conflict, InvalidInput
from server.inputs import has_control_characters


def role_of(user: User) -> Role | None:
    """The user's role, or None for a role this version does not know (which may do nothing)."""
    try:
        return Role(user.role)
    except ValueError:
        return None


def get_by_username(*, db_session: Session, username: str) -> User | None:
    return db_session.scalar(select(User).where(User.username == username))


def get(*, db_session: Session, user_id: int) -> User | None:
    return db_session.get(User, user_id)


def authenticate(*, db_session: Session, username: str, password: str) -> User | None:
    """None for unknown user, wrong password or a disabled account: the caller says which is not told.

    Every path checks one bcrypt hash of the configured cost (a dummy one for an unknown name),
    so the answer takes as long whether the name exists or not; a name with a control character
    (none has one, and PostgreSQL refuses a NUL in a query) is checked against the dummy hash too.
    """
    if has_control_characters(username):
        verify_password(password, dummy_hash(get_settings().bcrypt_rounds))
        return None
    user = get_by_username(db_session=db_session, username=username)
    hashed = user.hashed_password if user is not None else dummy_hash(get_settings().bcrypt_rounds)
    matches = verify_password(password, hashed)
    if user is None or not user.is_active or not matches:
        return None
    return user


def login(*, db_session: Session, writer: Session, username: str, password: str, address: str | None,
          now: datetime) -> User | None:
    """authenticate behind the throttle: 429 while the name or address waits; a failure is counted
    (the caller commits `writer` even though the login fails), a success clears the name's count.
    The check and bcrypt read through `db_session`; only the count is written, through `writer`, so
    no write transaction spans the hash."""
    throttle.check(db_session=db_session, username=username, address=address, now=now)
    user = authenticate(db_session=db_session, username=username, password=password)
    if user is None:
        throttle.failed(db_session=writer, username=username, address=address, now=now)
    elif throttle.has_failures(db_session=db_session, username=username):
        throttle.succeeded(db_session=writer, username=username)
    return user


def _check_scope(user_in: UserCreate) -> None:
    """A street-scoped role without a street, a malformed street code, or a street outside its district, is unusable."""
    if user_in.role in (Role.street_admin, Role.grid_worker) and not user_in.street_code:
        raise InvalidInput(
            f"role {user_in.role} needs a street_code", f"角色 {user_in.role} 必须指定街道编码",
            code="street_code_required",
        )
    if user_in.street_code and (problem := street_code_problem(user_in.street_code)):
        raise InvalidInput(f"street_code: {problem.en}", f"街道编码无效：{problem.zh}", code="invalid_street_code")
    if user_in.street_code and user_in.district_code and district_of(user_in.street_code) != user_in.district_code:
        raise InvalidInput(
            "street_code does not belong to district_code", "街道编码与区编码不一致", code="scope_mismatch"
        )


def create(*, db_session: Session, user_in: UserCreate, hashed_password: str | None = None) -> User:
    """Create a user; a precomputed hash lets bulk loaders (demo) skip bcrypt per user."""
    _check_scope(user_in)
    if get_by_username(db_session=db_session, username=user_in.username):
        raise Conflict(f"username {user_in.username} exists", f"用户名 {user_in.username} 已存在", code="user_exists")
    district = user_in.district_code or (district_of(user_in.street_code) if user_in.street_code else None)
    user = User(
        username=user_in.username,
        full_name=user_in.full_name,
        phone=user_in.phone,
        role=user_in.role.value,
        district_code=district,
        street_code=user_in.street_code,
        hashed_password=hashed_password or hash_password(user_in.password, rounds=get_settings().bcrypt_rounds),
    )
    db_session.add(user)
    db_session.flush()
    return user


def record_app_session(*, db_session: Session, user: User, app_version: str, now: datetime) -> AppSession:
    """Count one sync of the mobile app: the user's row of the day (Asia/Shanghai), created on the
    first sync of the day, its last time and count moved on by the next ones. Two phones of one
    worker syncing at once race on the unique (user, day): the loser updates the winner's row."""
    day = now.astimezone(ZoneInfo(get_settings().timezone)).date()
    for _ in range(2):
        row = db_session.scalar(select(AppSession).where(AppSession.user_id == user.id, AppSession.day == day))
        if row is not None:
            row.last_at, row.app_version, row.syncs = now, app_version, row.syncs + 1
            db_session.flush()
            return row
        try:
            with db_session.begin_nested():
                row = AppSession(user_id=user.id, day=day, app_version=app_version, first_at=now, last_at=now,
                                 syncs=1)
                db_session.add(row)
                db_session.flush()
            return row
        except IntegrityError:
            continue
    raise RuntimeError("app session row neither found nor created")  # pragma: no cover


def check_current_password(*, db_session: Session, user: User, password: str, address: str | None,
                           now: datetime) -> bool:
    """The password check of a password change, behind the login throttle: a stolen token is no way
    round it to guess the password (a failure counts as a failed login; the caller commits)."""
    throttle.check(db_session=db_session, username=user.username, address=address, now=now)
    if verify_password(password, user.hashed_password):
        return True
    throttle.failed(db_session=db_session, username=user.username, address=address, now=now)
    return False


def set_password(*, db_session: Session, user: User, hashed_password: str) -> User:
    """The user's own new password (hashed by the caller, before the write transaction): no longer
    the one an administrator set."""
    row = db_session.get(User, user.id)
    assert row is not None
    row.hashed_password, row.must_change_password = hashed_password, False
    db_session.flush()
    return row
