"""FastAPI dependencies: the database session, the current user, and role checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Annotated

import jwt
from anyio import to_thread
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session, sessionmaker

from server import user_cache
from server.auth import service as auth_service
from server.auth.enums import Role
from server.auth.models import User
from server.config import get_settings
from server.database.core import get_engine, get_read_sessionmaker, get_write_once_sessionmaker
from server.database.types import utcnow
from server.errors import Forbidden, NotAuthenticated
from server.keys import InsecureSettings, token_secret
from server.territory import territory
from server.user_cache import UserCache

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Dependencies that neither block nor touch the database are `async def`: FastAPI runs every plain
# `def` dependency in a worker thread of its own, one hop to the thread pool and back each, and a
# request used to make four or five such hops before its view (bench/bench_request_cpu.py).


async def _session(maker: sessionmaker[Session]) -> AsyncIterator[Session]:
    """Async on purpose: the endpoint uses the session in a worker thread, and closing it here, on
    the event loop, gives its connection back without waiting for a thread again. As a sync
    dependency, 200 requests queued for 40 threads each held a pooled connection while waiting to
    close it, and the threads that had the turn waited for a connection (PostgreSQL pool time-outs,
    SQLite lock time-outs: bench/bench_load.py)."""
    session = maker()
    try:
        yield session
    finally:
        session.close()


async def get_read_db() -> AsyncIterator[Session]:
    """A session that only reads: on SQLite it never takes nor waits for the write lock, so reads
    run beside the writer (WAL). Login uses it: bcrypt must not run inside a write transaction."""
    async for session in _session(get_read_sessionmaker()):
        yield session


async def get_write_db() -> AsyncIterator[Session]:
    """A session that writes, for the few GET endpoints that do (the audited PII read): its
    transaction takes SQLite's write lock up front; after its commit it only reads."""
    async for session in _session(get_write_once_sessionmaker()):
        yield session


async def get_db(request: Request) -> AsyncIterator[Session]:
    """The request's session: a read session for GET/HEAD, a write session otherwise (tests
    override this, get_read_db and get_write_db)."""
    maker = get_read_sessionmaker() if request.method in READ_METHODS else get_write_once_sessionmaker()
    async for session in _session(maker):
        yield session


DbSession = Annotated[Session, Depends(get_db)]
ReadDbSession = Annotated[Session, Depends(get_read_db)]
WriteDbSession = Annotated[Session, Depends(get_write_db)]


async def get_now() -> datetime:
    """The wall clock, read here for every request and nowhere below: services take `now`, and
    tests override this dependency to freeze time."""
    return utcnow()


Now = Annotated[datetime, Depends(get_now)]


@contextmanager
def session_scope() -> Iterator[Session]:
    with get_read_sessionmaker()() as session:
        yield session


async def get_session_scope() -> Callable[[], AbstractContextManager[Session]]:
    """Short read sessions, closed when their block ends: one per poll of the live feed, and the
    user lookup of every request, so no request holds a session (nor, on SQLite, a lock) for it."""
    return session_scope


SessionScope = Annotated[Callable[[], AbstractContextManager[Session]], Depends(get_session_scope)]


async def get_user_cache() -> UserCache | None:
    """The process's cache of users (server.user_cache; None for an in-memory SQLite database); tests use none."""
    return user_cache.for_engine(get_engine())


def _claims(token: str | None) -> dict[str, object]:
    if not token:
        raise NotAuthenticated("missing bearer token", "缺少登录令牌", code="token_missing")
    try:
        secret = token_secret(get_settings())
    except InsecureSettings:  # a token signed with the public secret proves nothing
        raise NotAuthenticated("this server has no secret key of its own: tokens are refused",
                               "服务器未设置自己的密钥，拒绝所有令牌", code="server_key_unsafe") from None
    try:
        return auth_service.decode_token(token, secret=secret, now=utcnow())  # a dependency: it reads the clock
    except jwt.ExpiredSignatureError:
        raise NotAuthenticated("token expired, log in again", "登录已过期，请重新登录", code="token_expired") from None
    except jwt.PyJWTError:
        raise NotAuthenticated("invalid token", "登录令牌无效", code="token_invalid") from None


def _read_user(scope: Callable[[], AbstractContextManager[Session]], username: str,
               cache: UserCache | None) -> User | None:
    generation = cache.generation() if cache else 0
    with scope() as db_session:
        user = auth_service.get_by_username(db_session=db_session, username=username)
    if cache is not None and user is not None:
        cache.put(user, generation)
    return user


async def get_authenticated_user(scope: SessionScope, token: Annotated[str | None, Depends(oauth2_scheme)],
                                 cache: Annotated[UserCache | None, Depends(get_user_cache)]) -> User:
    """The token's user, checked on every request, so disabling a user, or raising their
    token_version (a reset, disabling), stops their tokens at once. From the process's cache, which
    every change to a user row empties in every process (server.user_cache); when not there, read in
    a short session of its own, in a worker thread, and returned detached (User has no
    relationships: services use its columns). The request's own transaction starts later, in the
    view, so a write transaction never spans the hop from this dependency to the view."""
    claims = _claims(token)
    username = str(claims["sub"])
    user = cache.get(username) if cache is not None else None
    if user is None:
        user = await to_thread.run_sync(_read_user, scope, username, cache)
    if user is None or not user.is_active:
        raise NotAuthenticated("user disabled or unknown", "用户不存在或已停用", code="user_inactive")
    if claims.get("ver", 0) != user.token_version:
        raise NotAuthenticated("this login has ended (password reset or account disabled): log in again",
                               "密码已被重置或账号曾被停用，本次登录已失效，请重新登录", code="token_revoked")
    return user


AuthenticatedUser = Annotated[User, Depends(get_authenticated_user)]


async def get_current_user(user: AuthenticatedUser) -> User:
    """The token's user, once they have set their own password: an initial or reset password was
    known to someone else, so until it is changed only /auth/me, /auth/password and the policy answer."""
    if user.must_change_password:
        raise Forbidden("change your initial password first (POST /api/v1/auth/password)",
                        "请先修改初始密码后再使用", code="password_change_required")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: Role) -> Callable[..., User]:
    """Dependency factory: the current user, if their role is one of `roles` and their territory is
    not nothing (a district role without a district has the role's name, not its powers)."""
    allowed = frozenset(roles)

    async def _check(user: CurrentUser, now: Now) -> User:
        role = auth_service.role_of(user)
        if role in allowed and territory(user, now).nothing:
            raise Forbidden(f"user {user.username} has no valid district or street for role {user.role}",
                            f"用户 {user.username} 未关联有效的区或街道", code="no_territory")
        if role not in allowed:
            raise Forbidden(
                f"role {user.role} may not do this (needs one of {sorted(allowed)})",
                f"当前角色 {user.role} 无此权限",
                code="role_forbidden",
            )
        return user

    return _check

