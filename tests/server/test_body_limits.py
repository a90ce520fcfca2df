"""Body limits per route: a small one for JSON and forms, the large one only on the upload routes."""

from __future__ import annotations

import json

from server.main import MB
from tests import factories


def _headers(db_session):  # type: ignore[no-untyped-def]
    world = factories.event_world(db_session)
    return factories.auth_headers(world["users"]["worker_a"]), factories.auth_headers(world["users"]["admin"])


def test_2mb_json_body_is_413_with_the_envelope(client, db_session) -> None:  # type: ignore[no-untyped-def]
    worker, _ = _headers(db_session)
    body = json.dumps(factories.event_body(description="长" * (700 * 1024)), ensure_ascii=False)  # ~2 MB of UTF-8
    assert len(body.encode()) > 2 * MB
    r = client.post("/api/v1/events", content=body, headers={**worker, "Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "body_too_large" and r.json()["error"]["detail"]["limit_bytes"] == MB
    assert r.headers["x-request-id"]


def test_chunked_json_body_is_cut_off_at_the_limit(client, db_session) -> None:  # type: ignore[no-untyped-def]
    """No Content-Length: the stream is counted (how little is read: tests/server/test_uploads.py)."""
    worker, _ = _headers(db_session)

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"description": "'
        for _ in range(4):
            yield b"x" * MB

    r = client.post("/api/v1/events", content=chunks(), headers={**worker, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


def test_the_limit_is_a_setting(settings_env, db_session) -> None:  # type: ignore[no-untyped-def]
    from starlette.testclient import TestClient

    from server.main import create_app
    from tests.conftest import use_session

    settings_env(GRIDOPS_MAX_BODY_MB="4")
    app = use_session(create_app(), db_session)
    worker, _ = _headers(db_session)
    body = json.dumps(factories.event_body(description="长" * (700 * 1024)), ensure_ascii=False)
    with TestClient(app) as client:
        r = client.post("/api/v1/events", content=body, headers={**worker, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"  # read, then too long a text


def test_upload_routes_keep_their_large_limit(client, db_session) -> None:  # type: ignore[no-untyped-def]
    _, admin = _headers(db_session)
    big = b"GIF89a" + b"\0" * (2 * MB)  # over the JSON limit, far under the upload one
    r = client.post("/api/v1/grids/import", files={"file": ("g.zip", big, "application/zip")}, headers=admin)
    assert r.status_code == 400 and r.json()["error"]["code"] == "not_a_zip"  # read and judged, not refused for size
    ledger = b"a,b\n" + (b"1," + b"x" * 1000 + b"\n") * 2000
    r = client.post("/api/v1/devices/import", files={"file": ("d.csv", ledger, "text/csv")},
                    headers=admin)
    assert r.status_code == 200, r.text
