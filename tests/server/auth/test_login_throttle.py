"""Login throttle and equal cost: guesses slow down per name and per address, in the database,
and an unknown name costs one bcrypt check like a known one (no enumeration by timing)."""

from __future__ import annotations

from datetime import timedelta

import bcrypt
import pytest
import time_machine
from sqlalchemy.orm import Session

from server.auth import service, throttle
from server.auth.enums import Role
from server.auth.models import LoginThrottle
from server.database.core import make_engine
from server.errors import TooManyRequests
from tests import factories
from tests.conftest import NOW

TOKEN = "/api/v1/auth/token"


@pytest.fixture
def admin(db_session):  # type: ignore[no-untyped-def]
    factories.tree(db_session)
    return factories.user(db_session, Role.district_admin, username="admin")


@pytest.fixture
def still():  # type: ignore[no-untyped-def]
    """The clock stands still (a loaded machine must not outlast a 1 s wait between two requests)."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _login(client, username: str = "admin", password: str = "wrong-password"):  # type: ignore[no-untyped-def]
    return client.post(TOKEN, data={"username": username, "password": password})


def test_guesses_slow_down_then_the_wait_lifts(client, admin, still) -> None:  # type: ignore[no-untyped-def]
    """The issue: 50 wrong passwords at 2.5/s, then success. Now the 7th guess already waits."""
    for _ in range(6):  # five free failures; the sixth starts a 1 s wait
        assert _login(client).status_code == 401
    r = _login(client, password=factories.PASSWORD)  # even the right password waits: no guess is checked
    assert r.status_code == 429 and r.json()["error"]["code"] == "login_throttled"
    assert r.headers["Retry-After"] == "1" and r.json()["error"]["detail"] == {"retry_after": 1}
    still.shift(1)
    assert _login(client).status_code == 401  # the seventh failure: 2 s
    assert _login(client).headers["Retry-After"] == "2"
    still.shift(2)
    assert _login(client, password=factories.PASSWORD).status_code == 200
    for _ in range(5):  # the right password cleared the count: free failures again
        assert _login(client).status_code == 401
    assert _login(client, password=factories.PASSWORD).status_code == 200


def test_unknown_names_are_throttled_alike(client, admin, still) -> None:  # type: ignore[no-untyped-def]
    known = [_login(client).json() for _ in range(6)]
    unknown = [_login(client, username="nobody").json() for _ in range(6)]
    assert known == unknown  # same codes and messages, failure after failure
    assert _login(client, username="nobody").status_code == 429


def test_one_address_guessing_many_names_waits(client, admin, settings_env, still) -> None:  # type: ignore[no-untyped-def]
    settings_env(GRIDOPS_LOGIN_ADDRESS_FREE_FAILURES="3")
    for name in ("a1", "a2", "a3", "a4"):  # one failure per name: only the address adds up
        assert _login(client, username=name).status_code == 401
    r = _login(client, password=factories.PASSWORD)
    assert r.status_code == 429 and r.json()["error"]["code"] == "login_throttled"


def test_waits_double_up_to_the_maximum(db_session: Session) -> None:
    """A patient guesser, each guess as soon as the last wait ends: 1 s, 2 s, 4 s … then 15 min for ever."""
    waits, at = [], NOW
    for _ in range(30):
        throttle.check(db_session=db_session, username="admin", address=None, now=at)
        throttle.failed(db_session=db_session, username="admin", address=None, now=at)
        row = db_session.query(LoginThrottle).one()
        waits.append(round((row.blocked_until - at).total_seconds()) if row.blocked_until else 0)
        at = row.blocked_until or at + timedelta(seconds=1)
    assert waits[:10] == [0, 0, 0, 0, 0, 1, 2, 4, 8, 16]
    assert waits[-10:] == [900] * 10


def test_wait_formula() -> None:
    assert [throttle.wait_seconds(n, free=5, max_s=900) for n in range(1, 18)] == \
        [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
    assert throttle.wait_seconds(5.2, free=5, max_s=900) == 1  # a drained level rounds up
    assert throttle.wait_seconds(10_000, free=5, max_s=900) == 900


def test_a_real_user_is_never_kept_out_long(db_session: Session) -> None:
    """A flood of guesses: the name waits at most login_max_block_s after the last one, and a quiet
    morning forgets a user's own typos."""
    for i in range(100):
        throttle.failed(db_session=db_session, username="admin", address="10.0.0.9", now=NOW + timedelta(seconds=i))
    last = NOW + timedelta(seconds=99)
    with pytest.raises(TooManyRequests) as blocked:
        throttle.check(db_session=db_session, username="admin", address="10.0.0.8", now=last)
    assert blocked.value.headers["Retry-After"] == "900"
    throttle.check(db_session=db_session, username="admin", address="10.0.0.8", now=last + timedelta(seconds=900))
    for i in range(4):  # the user's own typos in the morning …
        throttle.failed(db_session=db_session, username="w001", address=None, now=NOW + timedelta(seconds=i))
    later = NOW + timedelta(hours=2)  # … drained by noon: five more free failures
    for i in range(5):
        throttle.failed(db_session=db_session, username="w001", address=None, now=later + timedelta(seconds=i))
    throttle.check(db_session=db_session, username="w001", address=None, now=later + timedelta(seconds=5))


def test_a_success_clears_the_name_not_the_address(db_session: Session) -> None:
    """An attacker's own account logging in between guesses must not reset their address."""
    at = [NOW + timedelta(seconds=i / 10) for i in range(60)]
    for i in range(49):
        throttle.failed(db_session=db_session, username=f"guess{i}", address="10.0.0.7", now=at[i])
    throttle.succeeded(db_session=db_session, username="mine")
    throttle.failed(db_session=db_session, username="x", address="10.0.0.7", now=at[49])
    throttle.failed(db_session=db_session, username="y", address="10.0.0.7", now=at[50])
    with pytest.raises(TooManyRequests):
        throttle.check(db_session=db_session, username="mine", address="10.0.0.7", now=at[51])
    for _ in range(5):
        throttle.failed(db_session=db_session, username="admin", address=None, now=at[51])
    throttle.succeeded(db_session=db_session, username="admin")
    throttle.failed(db_session=db_session, username="admin", address=None, now=at[52])
    throttle.check(db_session=db_session, username="admin", address=None, now=at[52])  # count cleared


def test_rows_hold_no_name_or_address_and_old_ones_go(db_session: Session) -> None:
    throttle.failed(db_session=db_session, username="my-secret-pass", address="10.0.0.9", now=NOW - timedelta(days=2))
    keys = [r.key for r in db_session.query(LoginThrottle)]
    assert len(keys) == 2 and not any("secret" in k or "10.0" in k for k in keys)
    throttle.failed(db_session=db_session, username="admin", address=None, now=NOW)
    assert db_session.query(LoginThrottle).count() == 1  # the two-day-old rows were forgotten


def test_processes_share_the_count(fresh_db_url: str) -> None:
    """Two engines (two server processes): failures committed by one make the other refuse."""
    engines = [make_engine(fresh_db_url) for _ in range(2)]
    try:
        with Session(engines[0]) as one:
            for i in range(6):
                throttle.failed(db_session=one, username="admin", address=None, now=NOW + timedelta(seconds=i))
                one.commit()
        with Session(engines[1]) as two, pytest.raises(TooManyRequests):
            throttle.check(db_session=two, username="admin", address=None, now=NOW + timedelta(seconds=5.5))
    finally:
        for e in engines:
            e.dispose()


def test_unknown_and_disabled_names_cost_one_bcrypt_check(db_session, admin, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The issue: unknown names answered in 62 ms, known ones in 382 ms."""
    checked: list[bytes] = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda pw, hashed: checked.append(hashed) or real(pw, hashed))
    disabled = factories.user(db_session, Role.auditor, username="gone")
    disabled.is_active = False
    for name in ("admin", "nobody", "gone"):
        assert service.authenticate(db_session=db_session, username=name, password="wrong-password") is None
    assert len(checked) == 3
    assert len({h[:7] for h in checked}) == 1  # "$2b$04$": the same cost for the dummy hash
    assert checked[1] != admin.hashed_password.encode()
