"""Users: creation, lookup, password check, password changes and resets, disabling, the admin log."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from gis.codes import district_of, street_code_problem
from server.auth import passwords, phones, throttle
from server.auth.enums import Role
from server.auth.models import AdminAction, AppSession, User
from server.auth.schemas import UserCreate
from server.auth.security import decode_token  # noqa: F401  (public: server.deps checks request tokens)
from server.auth.security import dummy_hash, hash_password, verify_password
from server.config import get_settings
from server.database.prefix import prefix_range
from server.errors import Conflict, InvalidInput, NotFound
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


def check_password(user_in: UserCreate) -> None:
    """The policy (server.auth.passwords) for a new user's password: 422 with the rule broken."""
    passwords.check(user_in.password, username=user_in.username, personal=(user_in.full_name, user_in.phone))


def normal_phone(value: str | None) -> str | None:
    """A phone's normal form (server.auth.phones); 422 invalid_phone if it is none."""
    if value is None or not value.strip():
        return None
    if (phone := phones.normalise(value)) is None:
        raise InvalidInput("invalid phone number: a mobile (11 digits) or a landline with its area code",
                           "电话号码无效：应为 11 位手机号或带区号的固定电话", code="invalid_phone")
    return phone


def get_by_phone(*, db_session: Session, phone: str) -> User | None:
    return db_session.scalars(select(User).where(User.phone_hash == phones.hash_phone(phone)).limit(1)).first()


def create(*, db_session: Session, user_in: UserCreate, hashed_password: str | None = None,
           must_change_password: bool = False, full_time: bool | None = None, now: datetime | None = None) -> User:
    """Create a user; a precomputed hash lets bulk loaders (demo, roster) skip bcrypt per user, and
    callers passing one have checked the policy themselves (the demo's password is public anyway).
    `must_change_password`: the password was set by someone else (an administrator, a roster)."""
    _check_scope(user_in)
    if get_by_username(db_session=db_session, username=user_in.username):
        raise Conflict(f"username {user_in.username} exists", f"用户名 {user_in.username} 已存在", code="user_exists")
    phone = normal_phone(user_in.phone)
    if phone and get_by_phone(db_session=db_session, phone=phone):
        raise Conflict("another user has this phone number", "该手机号已被其他用户使用", code="phone_exists")
    if hashed_password is None:
        check_password(user_in)
    district = user_in.district_code or (district_of(user_in.street_code) if user_in.street_code else None)
    phone_enc, phone_hash = phones.stored(phone)
    user = User(
        username=user_in.username,
        full_name=user_in.full_name,
        phone_enc=phone_enc,
        phone_hash=phone_hash,
        role=user_in.role.value,
        district_code=district,
        street_code=user_in.street_code,
        full_time=full_time,
        must_change_password=must_change_password,
        password_changed_at=None if must_change_password else now,
        hashed_password=hashed_password or hash_password(user_in.password, rounds=get_settings().bcrypt_rounds),
    )
    db_session.add(user)
    db_session.flush()
    return user


def record(*, db_session: Session, actor: User | None, action: str, now: datetime, target: User | None = None,
           detail: str | None = None) -> None:
    """One row of the admin log (admin_action), committed with the change it records."""
    db_session.add(AdminAction(at=now, actor_id=actor.id if actor else None, actor=actor.username if actor else "cli",
                               action=action, target_id=target.id if target else None,
                               detail=detail[:256] if detail else None))
    db_session.flush()


# --- passwords, disabling, listing -------------------------------------------------------------------
# bcrypt takes tens of ms by design: views hash and verify before their write transaction starts
# (SQLite's one write lock), then apply the result here.

def hash_new_password(*, user: User, password: str) -> str:
    """The policy for this user's new password, then its hash (no database)."""
    passwords.check(password, username=user.username, personal=(user.full_name,))
    return hash_password(password, rounds=get_settings().bcrypt_rounds)


def set_password(*, db_session: Session, user: User, hashed: str, now: datetime, temporary: bool) -> None:
    """Store a new password hash. `temporary`: a reset by an administrator (the account may be in
    someone else's hands): every token of the user stops, and its owner must change the password
    before doing anything else. The owner's own change keeps their sessions (the app's included)."""
    user.hashed_password = hashed
    user.must_change_password = temporary
    user.password_changed_at = None if temporary else now
    if temporary:
        user.token_version = (user.token_version or 0) + 1
    db_session.flush()


def set_active(*, db_session: Session, user: User, active: bool, actor: User | None, now: datetime) -> User:
    """Disable (its tokens stop at the next request: server.deps looks the user up each time) or enable."""
    if user.is_active != active:
        user.is_active = active
        user.token_version = (user.token_version or 0) + 1
        record(db_session=db_session, actor=actor, action="user_enable" if active else "user_disable", now=now,
               target=user)
    return user


def user_filter(*, prefix: str | None, q: str | None = None, role: Role | None = None,
                street_code: str | None = None, disabled: bool | None = None) -> list[ColumnElement[bool]]:
    """Users inside an area prefix (a district's 6 digits: its users; a street's 9: that street's);
    None for the trusted CLI. A user without a district lies in no area; one whose street is
    outside the district lies outside it (deny by default, as server.territory)."""
    where: list[ColumnElement[bool]] = []
    if prefix is not None:
        where.append(_in_area(User, prefix))
    if q:
        phone = phones.normalise(q)
        found = or_(User.username.icontains(q, autoescape=True), User.full_name.icontains(q, autoescape=True))
        where.append(or_(found, User.phone_hash == phones.hash_phone(phone)) if phone else found)
    if role is not None:
        where.append(User.role == role.value)
    if street_code:
        where.append(User.street_code == street_code)
    if disabled is not None:
        where.append(User.is_active.is_(not disabled))
    return where


def _in_area(user: Any, prefix: str) -> ColumnElement[bool]:
    """`user` (the User entity or an alias) lies in the area; a user whose street is outside it is
    outside, whatever their district says."""
    in_street = prefix_range(user.street_code, prefix)
    return and_(user.district_code == prefix, or_(user.street_code.is_(None), in_street)) if len(prefix) == 6 \
        else in_street


def list_actions(*, db_session: Session, prefix: str, page: int = 1,
                 page_size: int = 50) -> tuple[list[tuple[AdminAction, str | None]], int]:
    """The admin log of an area, newest first, with each target's username: actions on its users, and
    those on nobody in particular (a roster import) by its administrators."""
    target, actor = aliased(User), aliased(User)
    q = (select(AdminAction, target.username).outerjoin(target, AdminAction.target_id == target.id)
         .outerjoin(actor, AdminAction.actor_id == actor.id)
         .where(or_(and_(AdminAction.target_id.is_not(None), _in_area(target, prefix)),
                    and_(AdminAction.target_id.is_(None), _in_area(actor, prefix)))))
    total = db_session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = db_session.execute(q.order_by(AdminAction.id.desc()).offset((page - 1) * page_size).limit(page_size))
    return [(a, name) for a, name in rows], total


def list_users(*, db_session: Session, where: list[ColumnElement[bool]], page: int = 1,
               page_size: int = 50) -> tuple[list[User], int]:
    total = db_session.scalar(select(func.count()).select_from(User).where(*where)) or 0
    rows = db_session.scalars(select(User).where(*where).order_by(User.username)
                              .offset((page - 1) * page_size).limit(page_size))
    return list(rows), total


def get_in_area(*, db_session: Session, user_id: int, prefix: str | None) -> User:
    """The user, if inside the area; outside it is as unknown as one that does not exist (404)."""
    user = db_session.scalar(select(User).where(User.id == user_id, *user_filter(prefix=prefix)))
    if user is None:
        raise NotFound(f"user {user_id} not found", f"用户 {user_id} 不存在", code="user_not_found")
    return user


def record_app_session(*, db_session: Session, user: User, app_version: str, now: datetime) -> AppSession:
    """Count one sync of the mobile app: the user's row of the day (Asia/Shanghai), created on the
    first sync of the day, its last time and count moved on by the next ones. One INSERT … ON
    CONFLICT DO UPDATE … RETURNING (PostgreSQL and SQLite alike): every phone syncs every minute,
    and this was three statements and a savepoint; two phones of one worker syncing at once meet
    on the unique (user, day), the second one's insert becoming the update."""
    day = now.astimezone(ZoneInfo(get_settings().timezone)).date()
    insert = pg_insert if db_session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (insert(AppSession)
            .values(user_id=user.id, day=day, app_version=app_version, first_at=now, last_at=now, syncs=1)
            .on_conflict_do_update(index_elements=[AppSession.user_id, AppSession.day],
                                   set_={"last_at": now, "app_version": app_version, "syncs": AppSession.syncs + 1})
            .returning(AppSession))
    return db_session.scalars(stmt, execution_options={"populate_existing": True}).one()
