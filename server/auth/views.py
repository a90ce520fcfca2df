"""Login (OAuth2 password flow), one's own password, and user administration (list, disable,
enable, password reset, the roster import)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from fastapi.security import OAuth2PasswordRequestForm as OAuth2Form

from server.auth import passwords, roster, service, throttle
from server.auth.enums import Role
from server.auth.models import User
from server.auth.schemas import (
    AdminActionPage, AdminActionRead, AppSessionIn, AppSessionRead, InitialPasswordRead, PasswordChange, PasswordPolicy, RosterMoveRead, RosterReportRead, RosterUserRead,
    TemporaryPassword, Token, UserCreate, UserPage, UserRead,
)
from server.auth.security import create_token, hash_password, verify_password
from server.config import get_settings
from server.deps import (
    AuthenticatedUser, CurrentUser, DbSession, Now, ReadDbSession, WriteDbSession, require_roles,
)
from server.errors import Forbidden, InvalidInput, NotAuthenticated
from server.inputs import IdPath, Line, Page, PageSize
from server.keys import token_secret
from server.openapi import UPLOAD_RESPONSES, error
from server.responses import model_response
from server.territory import territory

router = APIRouter(prefix="/auth", tags=["auth"])
users_router = APIRouter(prefix="/users", tags=["users"])
# Who administers accounts: a district admin their district's users, a street admin the grid
# workers of their street (server.territory's prefix); everyone else nobody.
UserAdmin = Annotated[User, Depends(require_roles(Role.district_admin, Role.street_admin))]
app_router = APIRouter(prefix="/app", tags=["app"])


@router.post("/token", response_model=Token,
             responses={429: error("too many failed logins for this name or from this address: wait Retry-After "
                                   "seconds (login_throttled)")})
def login(db_session: ReadDbSession, writer: WriteDbSession, form: Annotated[OAuth2Form, Depends()],
          request: Request, now: Now) -> Token:
    """bcrypt (tens of ms by design) runs in a read session, never holding SQLite's write lock; the
    throttle's count is written afterwards in a short write transaction of its own. An initial or
    reset password logs in with `must_change_password: true`, and the token then serves only
    POST /auth/password and GET /auth/me."""
    user = service.login(db_session=db_session, writer=writer, username=form.username, password=form.password,
                         address=request.client.host if request.client else None, now=now)
    writer.commit()  # the failure counts although the request fails
    if user is None:
        raise NotAuthenticated("wrong username or password", "用户名或密码错误", code="login_failed")
    return _token(user)


def _token(user: User) -> Token:
    settings = get_settings()
    token = create_token(  # token_secret refuses (503) to sign with the public secret outside the demo
        subject=user.username, role=user.role, secret=token_secret(settings), minutes=settings.token_minutes,
        version=user.token_version or 0)
    return Token(access_token=token, expires_in=settings.token_minutes * 60,
                 must_change_password=user.must_change_password)


@router.get("/me", response_model=UserRead)
def me(user: AuthenticatedUser) -> UserRead:
    """Answers with `must_change_password: true` too, so the app knows to ask for a new password."""
    return UserRead.of(user)


@router.get("/password-policy", response_model=PasswordPolicy)
def password_policy(user: AuthenticatedUser) -> dict[str, Any]:
    """The rules every new password must meet, in both languages: the app and the dashboard show these."""
    return passwords.policy()


@router.post("/password", response_model=UserRead,
             responses={422: error("the current password is wrong (wrong_password), the new one is the same "
                                   "(password_unchanged) or breaks a rule: password_too_short, password_common … "
                                   "(see GET /auth/password-policy)"),
                        429: error("too many wrong current passwords (login_throttled)")})
def change_password(body: PasswordChange, user: AuthenticatedUser, reader: ReadDbSession, writer: WriteDbSession,
                    request: Request, now: Now) -> UserRead:
    """Change one's own password, given the current one (proof it is the owner, not a borrowed
    session); the token in use goes on working, now for every endpoint. Wrong current passwords
    count against the login throttle: a stolen token is no way to guess the password. A wrong
    current password is 422, not 401: the token is fine. bcrypt runs before the write transaction."""
    address = request.client.host if request.client else None
    throttle.check(db_session=reader, username=user.username, address=address, now=now)
    reader.rollback()
    if not verify_password(body.current_password, user.hashed_password):
        throttle.failed(db_session=writer, username=user.username, address=address, now=now)
        writer.commit()
        raise InvalidInput("the current password is wrong", "当前密码错误", code="wrong_password")
    if body.new_password == body.current_password:
        raise InvalidInput("the new password is the current one", "新密码不能与当前密码相同", code="password_unchanged")
    hashed = service.hash_new_password(user=user, password=body.new_password)
    fresh = service.get(db_session=writer, user_id=user.id)
    assert fresh is not None  # get_authenticated_user has just read it
    service.set_password(db_session=writer, user=fresh, hashed=hashed, now=now, temporary=False)
    writer.commit()
    return UserRead.of(fresh)


@router.post("/users", response_model=UserRead, status_code=201)
def create_user(
    db_session: DbSession,
    user_in: UserCreate,
    admin: Annotated[User, Depends(require_roles(Role.district_admin))],
    now: Now,
) -> UserRead:
    """The password is an initial one: the new user must change it at the first login."""
    if user_in.district_code and user_in.district_code != admin.district_code:
        raise Forbidden("users outside your district", "不能创建本区以外的用户", code="scope_forbidden")
    if user_in.street_code and not user_in.street_code.startswith(admin.district_code or "-"):
        raise Forbidden("street outside your district", "街道不在本区范围内", code="scope_forbidden")
    service.check_password(user_in)
    hashed = hash_password(user_in.password, rounds=get_settings().bcrypt_rounds)  # before the write transaction
    user = service.create(db_session=db_session, user_in=user_in, hashed_password=hashed, must_change_password=True,
                          now=now)
    service.record(db_session=db_session, actor=admin, action="user_create", now=now, target=user)
    db_session.commit()
    return UserRead.of(user)


# --- user administration ----------------------------------------------------------------------------

def _area(admin: User, now: Any) -> str:
    """The admin's area prefix (require_roles has refused an admin without one)."""
    prefix = territory(admin, now).prefix
    assert prefix, "require_roles refuses users without a territory"
    return prefix


def _managed(db_session: Any, admin: User, user_id: int, now: Any) -> User:
    """A user the admin may act on: inside their area, a street admin only grid workers, nobody themselves."""
    user = service.get_in_area(db_session=db_session, user_id=user_id, prefix=_area(admin, now))
    if admin.role == Role.street_admin and user.role != Role.grid_worker:
        raise Forbidden("a street admin manages the grid workers of their street", "街道管理员只能管理本街道的网格员",
                        code="role_forbidden")
    if user.id == admin.id:
        raise Forbidden("not on your own account (change your password with POST /auth/password)",
                        "不能对自己的账号执行此操作", code="own_account")
    return user


@users_router.get("", response_model=UserPage)
def list_users(db_session: DbSession, admin: UserAdmin, now: Now, page: Page = 1, page_size: PageSize = 50,
               q: Annotated[Line | None, Query(max_length=64, description="part of a username or name, or a "
                                                                             "whole phone number")] = None,
               role: Role | None = None, street_code: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
               disabled: bool | None = None) -> UserPage:
    """The users of one's area (a district admin's district, a street admin's street), by username."""
    where = service.user_filter(prefix=_area(admin, now), q=q, role=role, street_code=street_code, disabled=disabled)
    rows, total = service.list_users(db_session=db_session, where=where, page=page, page_size=page_size)
    return UserPage(items=[UserRead.of(u) for u in rows], total=total, page=page, page_size=page_size)


@users_router.get("/actions", response_model=AdminActionPage)
def list_actions(db_session: DbSession, user: Annotated[User, Depends(require_roles(Role.district_admin, Role.auditor))],
                 now: Now, page: Page = 1, page_size: PageSize = 50) -> AdminActionPage:
    """The admin log of one's district, newest first: who disabled, enabled, reset, created or imported."""
    rows, total = service.list_actions(db_session=db_session, prefix=_area(user, now), page=page, page_size=page_size)
    return AdminActionPage(items=[AdminActionRead(id=a.id, at=a.at, actor=a.actor, action=a.action, target=name,
                                                  detail=a.detail) for a, name in rows],
                           total=total, page=page, page_size=page_size)


@users_router.post("/{user_id}/disable", response_model=UserRead)
def disable_user(db_session: DbSession, admin: UserAdmin, user_id: IdPath, now: Now) -> UserRead:
    """The user's tokens stop at their next request; logging in is refused like a wrong password."""
    user = service.set_active(db_session=db_session, user=_managed(db_session, admin, user_id, now), active=False,
                              actor=admin, now=now)
    db_session.commit()
    return UserRead.of(user)


@users_router.post("/{user_id}/enable", response_model=UserRead)
def enable_user(db_session: DbSession, admin: UserAdmin, user_id: IdPath, now: Now) -> UserRead:
    user = service.set_active(db_session=db_session, user=_managed(db_session, admin, user_id, now), active=True,
                              actor=admin, now=now)
    db_session.commit()
    return UserRead.of(user)


@users_router.post("/{user_id}/reset-password", response_model=TemporaryPassword)
def reset_password(reader: ReadDbSession, writer: WriteDbSession, admin: UserAdmin, user_id: IdPath,
                   now: Now) -> TemporaryPassword:
    """A generated temporary password, shown this once: the user's tokens stop, and they must change
    it at their next login. Hashed before the write transaction (bcrypt is slow by design)."""
    _managed(reader, admin, user_id, now)
    reader.rollback()
    password = passwords.generate()
    hashed = hash_password(password, rounds=get_settings().bcrypt_rounds)
    user = _managed(writer, admin, user_id, now)
    service.set_password(db_session=writer, user=user, hashed=hashed, now=now, temporary=True)
    service.record(db_session=writer, actor=admin, action="password_reset", now=now, target=user)
    writer.commit()
    return TemporaryPassword(username=user.username, password=password)


@users_router.post("/import", response_model=RosterReportRead, responses=UPLOAD_RESPONSES)
def import_users(db_session: DbSession, admin: UserAdmin, now: Now,
                 file: Annotated[UploadFile, File(description="花名册 .xlsx or .csv (UTF-8 or GBK)")],
                 dry_run: bool = True) -> RosterReportRead:
    """All or nothing: a dry run by default; with `dry_run=false` and no row error the users, their
    scopes and grid assignments are written, and each new user's initial password is returned this
    once (they must change it at the first login)."""
    db_session.commit()  # end the token check's transaction: no database lock is held while the file is read
    data = file.file.read()
    report = roster.import_roster(db_session, data, filename=file.filename or "roster.xlsx", now=now,
                                  apply=not dry_run, actor=admin)
    if report.applied:
        db_session.commit()
    else:
        db_session.rollback()
    return RosterReportRead(
        filename=report.filename, rows=report.rows, ok=report.ok, applied=report.applied, errors=report.errors,
        users=[RosterUserRead.model_validate(u, from_attributes=True) for u in report.users],  # never the phone
        existing=report.existing, assignment_count=len(report.assignments),
        moves=[RosterMoveRead.model_validate(m, from_attributes=True) for m in report.moves],
        passwords=[InitialPasswordRead.model_validate(p, from_attributes=True) for p in report.passwords])


@app_router.post("/sessions", response_model=AppSessionRead)
def record_app_session(db_session: DbSession, user: CurrentUser, body: AppSessionIn, now: Now) -> Response:
    """The mobile app calls this once per sync: the day's row of the caller (the app usage
    indicator counts the workers who synced in a month). Names no record: only the caller's own use."""
    row = service.record_app_session(db_session=db_session, user=user, app_version=body.app_version, now=now)
    db_session.commit()
    return model_response(AppSessionRead.model_validate(row))
