"""Account rules: the password policy everywhere a password is set, the first login with an initial
password, disabling (existing tokens stop), resets, the users list by area, the roster upload."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from server.auth.enums import Role
from server.auth.models import AdminAction, User
from tests import factories
from tests.conftest import NOW
from tests.server.auth.test_roster import GOOD, GRID_A, xlsx

USERS = "/api/v1/users"
OTHER_STREET = "440112002000"


@pytest.fixture
def admin(db_session):  # type: ignore[no-untyped-def]
    factories.tree(db_session)
    factories.grid(db_session, GRID_A, factories.gk_square(0, 0), name="第一网格")
    return factories.user(db_session, Role.district_admin, username="admin")


def _login(client, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _code(r) -> str:  # type: ignore[no-untyped-def]
    return r.json()["error"]["code"]


def _new_user(client, admin, **body: Any):  # type: ignore[no-untyped-def]
    body = {"username": "worker9", "full_name": "网格员九", "password": "Kapok-Grid-2026", "role": "grid_worker",
            "street_code": factories.STREET, **body}
    return client.post("/api/v1/auth/users", json=body, headers=factories.auth_headers(admin))


# --- the policy -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("password", "code"), [
    ("12345678", "password_too_short"), ("password123", "password_common"), ("Password1234", "password_guessable"),
    ("worker9worker9", "password_contains_username"), ("qwertyuiop", "password_common"),
    ("woaini13141314", "password_guessable"), ("aaaaaaaaaaaa", "password_guessable"),
])
def test_a_weak_password_is_refused_with_the_reason(client, admin, password: str, code: str) -> None:  # type: ignore[no-untyped-def]
    r = _new_user(client, admin, password=password)
    assert r.status_code == 422 and _code(r) == code, r.text
    assert r.json()["error"]["message_zh"].startswith("密码不符合要求：")
    assert r.json()["error"]["detail"] == {"rule": code}


def test_the_policy_is_published_with_the_same_rules(client, admin) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/auth/password-policy", headers=factories.auth_headers(admin))
    assert r.status_code == 200
    body = r.json()
    assert body["min_length"] == 10 and body["max_bytes"] == 72
    codes = {rule["code"] for rule in body["rules"]}
    assert {"password_too_short", "password_common", "password_contains_username", "password_guessable"} <= codes
    assert all(rule["message_zh"] for rule in body["rules"])


# --- first login, own change ---------------------------------------------------------------------------

def test_first_login_with_an_initial_password_must_change_it(client, admin) -> None:  # type: ignore[no-untyped-def]
    assert _new_user(client, admin).status_code == 201
    r = _login(client, "worker9", "Kapok-Grid-2026")
    assert r.status_code == 200 and r.json()["must_change_password"] is True
    first = _bearer(r.json()["access_token"])
    assert client.get("/api/v1/auth/me", headers=first).json()["must_change_password"] is True
    for path in ("/api/v1/grids", "/api/v1/events", "/api/v1/streets"):
        refused = client.get(path, headers=first)
        assert refused.status_code == 403 and _code(refused) == "password_change_required", path

    wrong = client.post("/api/v1/auth/password", headers=first,
                        json={"current_password": "not-it-at-all", "new_password": "Lychee-Boat-88"})
    assert wrong.status_code == 422 and _code(wrong) == "wrong_password"
    weak = client.post("/api/v1/auth/password", headers=first,
                       json={"current_password": "Kapok-Grid-2026", "new_password": "1234567890"})
    assert weak.status_code == 422 and _code(weak) == "password_common"
    same = client.post("/api/v1/auth/password", headers=first,
                       json={"current_password": "Kapok-Grid-2026", "new_password": "Kapok-Grid-2026"})
    assert same.status_code == 422 and _code(same) == "password_unchanged"

    changed = client.post("/api/v1/auth/password", headers=first,
                          json={"current_password": "Kapok-Grid-2026", "new_password": "Lychee-Boat-88"})
    assert changed.status_code == 200 and changed.json()["must_change_password"] is False
    assert client.get("/api/v1/grids", headers=first).status_code == 200  # the same token, now for everything
    assert _login(client, "worker9", "Kapok-Grid-2026").status_code == 401
    assert _login(client, "worker9", "Lychee-Boat-88").json()["must_change_password"] is False


# --- disable, enable, reset ------------------------------------------------------------------------------

def test_a_disabled_users_existing_token_stops_working(client, db_session, admin) -> None:  # type: ignore[no-untyped-def]
    worker = factories.user(db_session, Role.grid_worker, username="wkr")
    token = _bearer(_login(client, "wkr", factories.PASSWORD).json()["access_token"])
    assert client.get("/api/v1/grids", headers=token).status_code == 200

    r = client.post(f"{USERS}/{worker.id}/disable", headers=factories.auth_headers(admin))
    assert r.status_code == 200 and r.json()["is_active"] is False
    stopped = client.get("/api/v1/grids", headers=token)
    assert stopped.status_code == 401 and _code(stopped) == "user_inactive"
    assert _code(_login(client, "wkr", factories.PASSWORD)) == "login_failed"

    assert client.post(f"{USERS}/{worker.id}/enable", headers=factories.auth_headers(admin)).json()["is_active"]
    assert _code(client.get("/api/v1/grids", headers=token)) == "token_revoked"  # the old token stays ended
    assert _login(client, "wkr", factories.PASSWORD).status_code == 200
    actions = [(a.action, a.actor, a.target_id) for a in db_session.scalars(select(AdminAction).order_by(AdminAction.id))]
    assert actions == [("user_disable", "admin", worker.id), ("user_enable", "admin", worker.id)]


def test_a_reset_forces_a_change(client, db_session, admin) -> None:  # type: ignore[no-untyped-def]
    worker = factories.user(db_session, Role.grid_worker, username="wkr")
    token = _bearer(_login(client, "wkr", factories.PASSWORD).json()["access_token"])
    r = client.post(f"{USERS}/{worker.id}/reset-password", headers=factories.auth_headers(admin))
    assert r.status_code == 200 and r.json()["username"] == "wkr" and r.json()["must_change_password"]
    temporary = r.json()["password"]
    assert _code(client.get("/api/v1/auth/me", headers=token)) == "token_revoked"
    assert _login(client, "wkr", factories.PASSWORD).status_code == 401
    login = _login(client, "wkr", temporary)
    assert login.json()["must_change_password"] is True
    first = _bearer(login.json()["access_token"])
    assert _code(client.get("/api/v1/grids", headers=first)) == "password_change_required"
    changed = client.post("/api/v1/auth/password", headers=first,
                          json={"current_password": temporary, "new_password": "Lychee-Boat-88"})
    assert changed.status_code == 200
    assert client.get("/api/v1/grids", headers=first).status_code == 200
    audit = db_session.scalars(select(AdminAction)).all()
    assert [(a.action, a.target_id) for a in audit] == [("password_reset", worker.id)]
    assert temporary not in (audit[0].detail or "")


def test_a_street_admin_manages_only_workers_of_their_street(client, db_session, admin) -> None:  # type: ignore[no-untyped-def]
    street_admin = factories.user(db_session, Role.street_admin, username="sadm")
    peer = factories.user(db_session, Role.street_admin, username="sadm2")
    own = factories.user(db_session, Role.grid_worker, username="wkr")
    other = factories.user(db_session, Role.grid_worker, username="far", street_code=OTHER_STREET)
    h = factories.auth_headers(street_admin)
    assert client.post(f"{USERS}/{own.id}/disable", headers=h).status_code == 200
    assert _code(client.post(f"{USERS}/{peer.id}/disable", headers=h)) == "role_forbidden"
    assert _code(client.post(f"{USERS}/{street_admin.id}/disable", headers=h)) == "role_forbidden"
    far = client.post(f"{USERS}/{other.id}/reset-password", headers=h)
    assert far.status_code == 404 and _code(far) == "user_not_found"  # as if it did not exist
    assert _code(client.post(f"{USERS}/{admin.id}/disable", headers=factories.auth_headers(admin))) == "own_account"
    worker = client.post(f"{USERS}/{other.id}/disable", headers=factories.auth_headers(own))
    assert worker.status_code in (401, 403)


# --- the list ----------------------------------------------------------------------------------------------

def test_the_list_is_scoped_searchable_and_paged(client, db_session, admin) -> None:  # type: ignore[no-untyped-def]
    street_admin = factories.user(db_session, Role.street_admin, username="sadm")
    for n in range(3):
        factories.user(db_session, Role.grid_worker, username=f"wkr{n}")
    far = factories.user(db_session, Role.grid_worker, username="far", street_code=OTHER_STREET)
    factories.user(db_session, Role.district_admin, username="elsewhere").district_code = "440113"
    far.is_active = False
    db_session.flush()
    h = factories.auth_headers(admin)

    def names(headers: dict[str, str], **params: Any) -> list[str]:
        r = client.get(USERS, headers=headers, params=params)
        assert r.status_code == 200, r.text
        return [u["username"] for u in r.json()["items"]]

    assert names(h) == ["admin", "far", "sadm", "wkr0", "wkr1", "wkr2"]  # not the other district's
    assert names(factories.auth_headers(street_admin)) == ["sadm", "wkr0", "wkr1", "wkr2"]
    assert names(h, q="wkr", page_size=2, page=2) == ["wkr2"]
    assert client.get(USERS, headers=h, params={"q": "wkr", "page_size": 2}).json()["total"] == 3
    assert names(h, role="street_admin") == ["sadm"]
    assert names(h, disabled="true") == ["far"]
    assert names(h, street_code=OTHER_STREET) == ["far"]
    worker = db_session.scalar(select(User).where(User.username == "wkr0"))
    refused = client.get(USERS, headers=factories.auth_headers(worker))
    assert refused.status_code == 403 and _code(refused) == "role_forbidden"


def test_phones_are_stored_encrypted_shown_masked_and_searchable(client, db_session, admin) -> None:  # type: ignore[no-untyped-def]
    assert _new_user(client, admin, phone="138 0013 8000").status_code == 201
    user = db_session.scalar(select(User).where(User.username == "worker9"))
    assert user.phone_enc and "13800138000" not in user.phone_enc
    r = client.get(USERS, headers=factories.auth_headers(admin), params={"q": "13800138000"})
    assert [(u["username"], u["phone_masked"]) for u in r.json()["items"]] == [("worker9", "138****8000")]
    twice = _new_user(client, admin, username="worker10", phone="13800138000")
    assert twice.status_code == 409 and _code(twice) == "phone_exists"
    bad = _new_user(client, admin, username="worker11", phone="12345")
    assert bad.status_code == 422 and _code(bad) == "invalid_phone"


# --- the roster upload -------------------------------------------------------------------------------------

def _upload(client, user, data: bytes, **params: str):  # type: ignore[no-untyped-def]
    return client.post(f"{USERS}/import", headers=factories.auth_headers(user), params=params,
                       files={"file": ("花名册.xlsx", data, "application/octet-stream")})


def test_roster_upload_dry_run_then_a_worker_logs_in_changes_and_reports(client, db_session, admin) -> None:  # type: ignore[no-untyped-def]
    rows = [GOOD[0], GOOD[2]]  # a worker of GRID_A and a street admin
    dry = _upload(client, admin, xlsx(rows))
    assert dry.status_code == 200 and dry.json()["ok"], dry.text
    assert not dry.json()["applied"] and not dry.json()["passwords"]
    assert [u["username"] for u in dry.json()["users"]] == ["zhangsan", "wangwu"]
    assert db_session.scalar(select(User).where(User.username == "zhangsan")) is None

    done = _upload(client, admin, xlsx(rows), dry_run="false")
    assert done.json()["applied"] and done.json()["assignment_count"] == 1
    password = {p["username"]: p["password"] for p in done.json()["passwords"]}["zhangsan"]
    login = _login(client, "zhangsan", password)
    assert login.json()["must_change_password"] is True
    changed = client.post("/api/v1/auth/password", headers=_bearer(login.json()["access_token"]),
                          json={"current_password": password, "new_password": "Lychee-Boat-88"})
    fresh = _bearer(login.json()["access_token"])
    assert changed.status_code == 200
    assert [g["code"] for g in client.get("/api/v1/grids", headers=fresh).json()["items"]] == [GRID_A]
    event = client.post("/api/v1/events", headers=fresh, json=factories.event_body(factories.gk_square(0, 0)))
    assert event.status_code == 201 and event.json()["grid_code"] == GRID_A, event.text


def test_roster_upload_with_errors_writes_nothing(client, db_session, admin) -> None:  # type: ignore[no-untyped-def]
    bad = [GOOD[0], [2, "李四", "13800138002", "区级管理员", "街道1", "", "", "", ""]]
    r = _upload(client, admin, xlsx(bad), dry_run="false")
    assert r.status_code == 200 and not r.json()["ok"] and not r.json()["applied"] and not r.json()["passwords"]
    assert [(e["row"], e["code"]) for e in r.json()["errors"]] == [(3, "role_not_grantable")]
    assert db_session.scalar(select(User).where(User.username == "zhangsan")) is None


def test_a_grid_worker_may_not_import(client, db_session, admin) -> None:  # type: ignore[no-untyped-def]
    worker = factories.user(db_session, Role.grid_worker)
    r = _upload(client, worker, xlsx(GOOD[:1]))
    assert r.status_code == 403 and _code(r) == "role_forbidden"


def test_an_open_event_feed_ends_when_its_user_is_disabled_or_reset(db_session, admin) -> None:  # type: ignore[no-untyped-def]
    """The live feed reads its user on every poll (GET /events/feed streams up to an hour)."""
    from contextlib import contextmanager

    from server.events.views import _changes
    from server.sse import user_poll

    @contextmanager
    def scope():  # type: ignore[no-untyped-def]
        yield db_session

    worker = factories.user(db_session, Role.grid_worker, username="wkr")
    poll = user_poll(scope, worker, _changes)  # as the feed opened with the worker's token
    assert poll(0, NOW) == []
    worker.token_version = 1  # a reset
    assert poll(0, NOW) is None
    worker.is_active = False
    assert user_poll(scope, worker, _changes)(0, NOW) is None


def test_the_admin_log_is_read_by_the_districts_admin_and_auditor(client, db_session, admin) -> None:  # type: ignore[no-untyped-def]
    worker = factories.user(db_session, Role.grid_worker, username="wkr")
    client.post(f"{USERS}/{worker.id}/disable", headers=factories.auth_headers(admin))
    client.post(f"{USERS}/{worker.id}/reset-password", headers=factories.auth_headers(admin))
    _upload(client, admin, xlsx(GOOD[:1]), dry_run="false")
    auditor = factories.user(db_session, Role.auditor)
    r = client.get(f"{USERS}/actions", headers=factories.auth_headers(auditor))
    assert r.status_code == 200 and r.json()["total"] == 4
    assert [(a["action"], a["actor"], a["target"]) for a in r.json()["items"]] == [
        ("roster_import", "admin", None), ("user_create", "admin", "zhangsan"), ("password_reset", "admin", "wkr"),
        ("user_disable", "admin", "wkr")]
    elsewhere = factories.user(db_session, Role.district_admin, username="panyu")
    elsewhere.district_code = "440113"
    db_session.flush()
    assert client.get(f"{USERS}/actions", headers=factories.auth_headers(elsewhere)).json()["items"] == []
    street = client.get(f"{USERS}/actions", headers=factories.auth_headers(factories.user(db_session, Role.street_admin)))
    assert street.status_code == 403
