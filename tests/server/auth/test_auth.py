"""Login, tokens and role checks: each rule with a request that must pass and one that must fail."""

from __future__ import annotations

import pytest

from server.auth import service
from server.auth.enums import Role
from server.auth.schemas import UserCreate
from server.auth.security import create_token
from server.config import get_settings
from server.errors import InvalidInput
from tests import factories


@pytest.fixture
def admin(db_session):  # type: ignore[no-untyped-def]
    factories.tree(db_session)
    return factories.user(db_session, Role.district_admin, username="admin")


def test_login_and_me(client, admin) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/auth/token", data={"username": "admin", "password": factories.PASSWORD})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["username"] == "admin" and me.json()["role"] == "district_admin"


def test_wrong_password_is_401_with_stable_code(client, admin) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/auth/token", data={"username": "admin", "password": "nope-nope"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "login_failed"
    assert r.json()["error"]["message_zh"] == "用户名或密码错误"


@pytest.mark.parametrize("path", ["/api/v1/auth/me", "/api/v1/grids", "/api/v1/streets", "/api/v1/grids/export"])
def test_endpoints_need_a_token(client, admin, path: str) -> None:  # type: ignore[no-untyped-def]
    r = client.get(path)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "token_missing"


def test_expired_and_forged_tokens_are_refused(client, admin) -> None:  # type: ignore[no-untyped-def]
    expired = create_token(subject="admin", role="district_admin", secret=get_settings().secret_key, minutes=-1)
    r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_expired"
    forged = create_token(subject="admin", role="district_admin", secret="another-secret-of-32-bytes-or-more!", minutes=5)
    r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_invalid"


def test_a_token_accepted_once_is_refused_when_it_expires_and_a_look_alike_never_passes(  # type: ignore[no-untyped-def]
        client, admin, time_machine) -> None:
    """Verified tokens are kept (server.auth.security): the expiry is still checked at every request,
    and a token that differs from a kept one by one character is verified, and refused."""
    time_machine.move_to("2026-06-01T08:00:00+08:00", tick=False)
    token = create_token(subject="admin", role="district_admin", secret=get_settings().secret_key, minutes=5)
    me = {"Authorization": f"Bearer {token}"}
    assert [client.get("/api/v1/auth/me", headers=me).status_code for _ in range(2)] == [200, 200]
    head, _, signature = token.rpartition(".")
    altered = f"{head}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {altered}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_invalid"
    time_machine.move_to("2026-06-01T08:05:00+08:00", tick=False)  # exp is reached: refused from that second
    r = client.get("/api/v1/auth/me", headers=me)
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_expired"


def test_disabled_user_cannot_use_a_valid_token(client, db_session, admin) -> None:  # type: ignore[no-untyped-def]
    headers = factories.auth_headers(admin)
    admin.is_active = False
    db_session.flush()
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_only_district_admin_creates_users(client, db_session, admin) -> None:  # type: ignore[no-untyped-def]
    body = {"username": "worker9", "full_name": "网格员9", "password": factories.PASSWORD, "role": "grid_worker",
            "street_code": factories.STREET}
    street_admin = factories.user(db_session, Role.street_admin)
    r = client.post("/api/v1/auth/users", json=body, headers=factories.auth_headers(street_admin))
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_forbidden"
    r = client.post("/api/v1/auth/users", json=body, headers=factories.auth_headers(admin))
    assert r.status_code == 201, r.text
    assert r.json()["district_code"] == factories.DISTRICT
    again = client.post("/api/v1/auth/users", json=body, headers=factories.auth_headers(admin))
    assert again.status_code == 409 and again.json()["error"]["code"] == "user_exists"


def test_user_outside_admin_district_is_forbidden(client, admin) -> None:  # type: ignore[no-untyped-def]
    body = {"username": "outsider1", "full_name": "x", "password": factories.PASSWORD, "role": "street_admin",
            "street_code": "440113001000"}
    r = client.post("/api/v1/auth/users", json=body, headers=factories.auth_headers(admin))
    assert r.status_code == 403 and r.json()["error"]["code"] == "scope_forbidden"


def test_worker_needs_street(client, admin) -> None:  # type: ignore[no-untyped-def]
    body = {"username": "worker1", "full_name": "w", "password": factories.PASSWORD, "role": "grid_worker"}
    r = client.post("/api/v1/auth/users", json=body, headers=factories.auth_headers(admin))
    assert r.status_code == 422 and r.json()["error"]["code"] == "street_code_required"


@pytest.mark.parametrize("street", ["440112000000", "440112001001"])  # street part 000; a community's code
def test_malformed_street_code_is_refused(client, admin, street: str) -> None:  # type: ignore[no-untyped-def]
    """Once created, a street-scoped user with such a code could see nothing (the territory denies)."""
    body = {"username": "worker2", "full_name": "w", "password": factories.PASSWORD, "role": "grid_worker",
            "street_code": street}
    r = client.post("/api/v1/auth/users", json=body, headers=factories.auth_headers(admin))
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_street_code"


def test_district_follows_the_street(db_session) -> None:  # type: ignore[no-untyped-def]
    user_in = UserCreate(username="worker3", full_name="w", password=factories.PASSWORD, role=Role.grid_worker,
                         street_code="440112002000")
    assert service.create(db_session=db_session, user_in=user_in).district_code == "440112"
    other = user_in.model_copy(update={"username": "worker4", "district_code": "440113"})
    with pytest.raises(InvalidInput) as exc:
        service.create(db_session=db_session, user_in=other)
    assert exc.value.code == "scope_mismatch"


def test_passwords_are_hashed(db_session, admin) -> None:  # type: ignore[no-untyped-def]
    assert admin.hashed_password.startswith("$2") and factories.PASSWORD not in admin.hashed_password
