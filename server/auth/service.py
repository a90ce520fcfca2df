"""Users: creation, lookup, password check."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth.enums import Role
from server.auth.models import User
from server.auth.schemas import UserCreate
from server.auth.security import hash_password, verify_password
from server.config import get_settings
from server.errors import Conflict, InvalidInput
from server.inputs import has_control_characters


def get_by_username(*, db_session: Session, username: str) -> User | None:
    return db_session.scalar(select(User).where(User.username == username))


def get(*, db_session: Session, user_id: int) -> User | None:
    return db_session.get(User, user_id)


def authenticate(*, db_session: Session, username: str, password: str) -> User | None:
    """None for unknown user, wrong password or a disabled account: the caller says which is not told."""
    if has_control_characters(username):  # no username has one, and PostgreSQL refuses a NUL in a query
        return None
    user = get_by_username(db_session=db_session, username=username)
    if user is None or not user.is_active or not verify_password(password, user.hashed_password):
        return None
    return user


def _check_scope(user_in: UserCreate) -> None:
    """A street-scoped role without a street, or a street outside its district, is unusable."""
    if user_in.role in (Role.street_admin, Role.grid_worker) and not user_in.street_code:
        raise InvalidInput(
            f"role {user_in.role} needs a street_code", f"角色 {user_in.role} 必须指定街道编码",
            code="street_code_required",
        )
    if user_in.street_code and user_in.district_code and not user_in.street_code.startswith(user_in.district_code):
        raise InvalidInput(
            "street_code does not belong to district_code", "街道编码与区编码不一致", code="scope_mismatch"
        )


def create(*, db_session: Session, user_in: UserCreate, hashed_password: str | None = None) -> User:
    """Create a user; a precomputed hash lets bulk loaders (demo) skip bcrypt per user."""
    _check_scope(user_in)
    if get_by_username(db_session=db_session, username=user_in.username):
        raise Conflict(f"username {user_in.username} exists", f"用户名 {user_in.username} 已存在", code="user_exists")
    district = user_in.district_code or (user_in.street_code[:6] if user_in.street_code else None)
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
