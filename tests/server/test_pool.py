"""A server whose PostgreSQL pool has no free connection answers 503 database_busy, never a 500."""

from __future__ import annotations

import sqlalchemy.exc
from starlette.testclient import TestClient

from server.auth.enums import Role
from server.deps import get_db
from tests import factories


def test_pool_exhausted_is_503_with_retry_after(app, db_session) -> None:  # type: ignore[no-untyped-def]
    admin = factories.user(db_session, Role.district_admin)

    async def no_connection():  # type: ignore[no-untyped-def]
        raise sqlalchemy.exc.TimeoutError("QueuePool limit of size 20 overflow 20 reached")
        yield  # pragma: no cover

    app.dependency_overrides[get_db] = no_connection
    with TestClient(app) as client:
        r = client.get("/api/v1/grids", headers=factories.auth_headers(admin))
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert r.json()["error"]["code"] == "database_busy"


def test_sessions_close_on_the_event_loop() -> None:
    """The request's session is an async dependency: closing it needs no worker thread (server.deps)."""
    import inspect

    from server import deps

    for dependency in (deps.get_db, deps.get_read_db, deps.get_write_db):
        assert inspect.isasyncgenfunction(dependency)
