"""Whatever fails, the client gets the JSON envelope with a request id, and the log has that id
with the traceback; every response carries X-Request-ID."""

from __future__ import annotations

import logging

import pytest
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from server.openapi import ErrorBody
from tests import factories


def _assert_internal_error(response, caplog: pytest.LogCaptureFixture, cause: str) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/json")
    error = ErrorBody.model_validate(response.json()).error
    assert error.code == "internal_error" and error.request_id
    assert response.headers["x-request-id"] == error.request_id and error.request_id in error.message_zh
    logged = [r for r in caplog.records if r.name == "gridops.requests" and error.request_id in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelno == logging.ERROR
    assert logged[0].exc_info is not None and cause in str(logged[0].exc_info[1])  # the traceback goes with it
    return error.request_id


def test_an_error_in_a_route_is_the_envelope_with_its_request_id(app, caplog) -> None:  # type: ignore[no-untyped-def]
    @app.get("/api/v1/boom")
    def boom() -> None:
        raise OverflowError("date value out of range")

    with TestClient(app, raise_server_exceptions=False) as client:
        _assert_internal_error(client.get("/api/v1/boom"), caplog, "date value out of range")


def test_an_error_in_a_middleware_outside_ours_is_the_envelope_too(app, caplog) -> None:  # type: ignore[no-untyped-def]
    class Broken:
        def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
            self.inner = inner

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                raise RuntimeError("proxy header middleware broke")
            await self.inner(scope, receive, send)

    app.add_middleware(Broken)  # added after create_app: outside RequestId, caught by the Exception handler
    with TestClient(app, raise_server_exceptions=False) as client:
        _assert_internal_error(client.get("/api/v1/grids"), caplog, "proxy header middleware broke")


def test_every_response_has_a_request_id(client, db_session) -> None:  # type: ignore[no-untyped-def]
    world = factories.event_world(db_session)
    ok = client.get("/api/v1/grids", headers=factories.auth_headers(world["users"]["admin"]))
    missing = client.get("/api/v1/nowhere")
    ids = {ok.headers["x-request-id"], missing.headers["x-request-id"]}
    assert ok.status_code == 200 and missing.status_code == 404 and len(ids) == 2


def test_a_sane_incoming_request_id_is_kept_a_strange_one_replaced(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/health", headers={"X-Request-ID": "lb-7f3a9c21"}).headers["x-request-id"] == "lb-7f3a9c21"
    replaced = client.get("/api/v1/health", headers={"X-Request-ID": "x\r\ny"}).headers["x-request-id"]
    assert replaced != "x\r\ny" and len(replaced) == 32
