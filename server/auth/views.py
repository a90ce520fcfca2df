"""Login (OAuth2 password flow) and user administration."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from server.auth import service
from server.auth.enums import Role
from server.auth.models import User
from server.auth.models import AppSession
from server.auth.schemas import AppSessionIn, AppSessionRead, PasswordChange, Token, UserCreate, UserRead
from server.auth.security import create_token, hash_password, verify_password
from server.config import get_settings
from server.deps import CurrentUser, DbSession, Now, ReadDbSession, WriteDbSession, require_roles
from server.errors import Forbidden, InvalidInput, NotAuthenticated
from server.keys import token_secret
from server.openapi import error

router = APIRouter(prefix="/auth", tags=["auth"])
app_router = APIRouter(prefix="/app", tags=["app"])


@router.post("/token", response_model=Token,
             responses={429: error("too many failed logins for this name or from this address: wait Retry-After "
                                   "seconds (login_throttled)")})
def login(db_session: ReadDbSession, writer: WriteDbSession, form: Annotated[OAuth2PasswordRequestForm, Depends()],
          request: Request, now: Now) -> Token:
    """bcrypt (tens of ms by design) runs in a read session, never holding SQLite's write lock; the
    throttle's count is written afterwards in a short write transaction of its own."""
    user = service.login(db_session=db_session, writer=writer, username=form.username, password=form.password,
                         address=request.client.host if request.client else None, now=now)
    writer.commit()  # the failure counts although the request fails
    if user is None:
        raise NotAuthenticated("wrong username or password", "用户名或密码错误", code="login_failed")
    settings = get_settings()
    token = create_token(  # token_secret refuses (503) to sign with the public secret outside the demo
        subject=user.username, role=user.role, secret=token_secret(settings), minutes=settings.token_minutes
    )
    return Token(access_token=token, expires_in=settings.token_minutes * 60)


@router.get("/me", response_model=UserRead)
def me(user: CurrentUser) -> User:
    return user


@router.post("/users", response_model=UserRead, status_code=201)
def create_user(
    db_session: DbSession,
    user_in: UserCreate,
    admin: Annotated[User, Depends(require_roles(Role.district_admin))],
) -> User:
    if user_in.district_code and user_in.district_code != admin.district_code:
        raise Forbidden("users outside your district", "不能创建本区以外的用户", code="scope_forbidden")
    if user_in.street_code and not user_in.street_code.startswith(admin.district_code or "-"):
        raise Forbidden("street outside your district", "街道不在本区范围内", code="scope_forbidden")
    hashed = hash_password(user_in.password, rounds=get_settings().bcrypt_rounds)  # before the write transaction
    user = service.create(db_session=db_session, user_in=user_in, hashed_password=hashed)
    user.must_change_password = True  # the administrator knows it: the user chooses their own at first log-in
    db_session.commit()
    return user


@router.post("/password", response_model=UserRead,
             responses={429: error("too many wrong passwords for this name or from this address (login_throttled)")})
def change_password(db_session: DbSession, user: CurrentUser, body: PasswordChange, request: Request,
                    now: Now) -> User:
    """The caller's own password, given the current one (wrong guesses count as failed logins). A
    wrong current password is 422 (not 401: the token is fine)."""
    address = request.client.host if request.client else None
    if not service.check_current_password(db_session=db_session, user=user, password=body.current_password,
                                          address=address, now=now):
        db_session.commit()  # the failure counts although the request fails
        raise InvalidInput("the current password is wrong", "当前密码错误", code="wrong_password")
    if verify_password(body.new_password, user.hashed_password):
        raise InvalidInput("the new password is the current one", "新密码不能与当前密码相同",
                           code="password_unchanged")
    hashed = hash_password(body.new_password, rounds=get_settings().bcrypt_rounds)
    changed = service.set_password(db_session=db_session, user=user, hashed_password=hashed)
    db_session.commit()
    return changed


@app_router.post("/sessions", response_model=AppSessionRead)
def record_app_session(db_session: DbSession, user: CurrentUser, body: AppSessionIn, now: Now) -> AppSession:
    """The mobile app calls this once per sync: the day's row of the caller (the app usage
    indicator counts the workers who synced in a month). Names no record: only the caller's own use."""
    row = service.record_app_session(db_session=db_session, user=user, app_version=body.app_version, now=now)
    db_session.commit()
    return row
