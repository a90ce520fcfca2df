"""No default secrets: the app, `gridops serve` and `gridops devices ingest` refuse the public
development key (and a missing PII key) outside the demo, and say how to set the keys."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import jwt
import pytest

from server import keys
from server.auth.enums import Role
from server.cli.main import SHUTDOWN_GRACE_S
from server.config import DEV_SECRET, Settings
from server.keys import InsecureSettings

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "a-secret-of-our-own-with-more-than-32-bytes"
PII_KEY = "Z3JpZG9wcy10ZXN0LXBpaS1rZXktMzItYnl0ZXMhISE="
NO_KEYS = {"GRIDOPS_SECRET_KEY": None, "GRIDOPS_PII_KEY": None, "GRIDOPS_DEMO": None}


def _settings(secret: str, pii: str | None, demo: bool) -> Settings:
    return Settings(_env_file=None, secret_key=secret, pii_key=pii, demo=demo)  # type: ignore[call-arg]


@pytest.mark.parametrize(("secret", "pii", "demo", "refused"), [
    (DEV_SECRET, None, False, ["secret_key_default", "pii_key_missing"]),
    (DEV_SECRET, PII_KEY, False, ["secret_key_default"]),
    (GOOD_SECRET, None, False, ["pii_key_missing"]),
    (GOOD_SECRET, "not-a-fernet-key", False, ["pii_key_invalid"]),
    ("short-secret", PII_KEY, False, ["secret_key_short"]),
    ("short-secret", PII_KEY, True, ["secret_key_short"]),  # set on purpose and weak: not even the demo
    (GOOD_SECRET, "not-a-fernet-key", True, ["pii_key_invalid"]),  # would fail at the first tenant anyway
    (DEV_SECRET, None, True, []),  # the demo (./dev up)
    (GOOD_SECRET, PII_KEY, False, []),
])
def test_which_keys_are_refused(secret: str, pii: str | None, demo: bool, refused: list[str]) -> None:
    settings = _settings(secret, pii, demo)
    if not refused:
        keys.enforce(settings)
        return
    with pytest.raises(InsecureSettings) as exc:
        keys.enforce(settings)
    assert exc.value.detail == refused and exc.value.code == refused[0]


def test_refusal_says_how_to_set_the_keys() -> None:
    with pytest.raises(InsecureSettings) as exc:
        keys.enforce(_settings(DEV_SECRET, None, False))
    for text in (exc.value.message_en, exc.value.message_zh):
        assert "GRIDOPS_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')" in text
        assert "GRIDOPS_PII_KEY=$(python3 -c" in text and "GRIDOPS_DEMO=true" in text
        assert "gridops secrets derived-pii-key" in text
    assert "密钥不安全，拒绝启动" in exc.value.message_zh and "refusing to start" in exc.value.message_en


def test_generated_keys_pass(tmp_path: Path) -> None:
    """The commands the refusal prints make keys that are accepted."""
    made = {name: subprocess.run(["bash", "-c", command], capture_output=True, text=True).stdout.strip()
            for name, command in (("secret", keys.GENERATE_SECRET), ("pii", keys.GENERATE_PII_KEY))}
    keys.enforce(_settings(made["secret"], made["pii"], False))
    from cryptography.fernet import Fernet

    Fernet(made["pii"].encode())


def test_demo_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="server.keys"):
        keys.enforce(_settings(DEV_SECRET, None, True))
    assert {r.getMessage().split(":")[0] for r in caplog.records} == {"GRIDOPS_DEMO"}
    assert len(caplog.records) == 2


def test_pii_key_derived_only_in_the_demo() -> None:
    assert keys.pii_key(_settings(GOOD_SECRET, PII_KEY, False)) == PII_KEY
    assert keys.pii_key(_settings(DEV_SECRET, None, True)) == keys.derived_pii_key(DEV_SECRET)
    with pytest.raises(InsecureSettings, match="GRIDOPS_PII_KEY is not set"):
        keys.pii_key(_settings(GOOD_SECRET, None, False))


def test_derived_pii_key_keeps_earlier_tenants_readable(settings_env, capsys) -> None:  # type: ignore[no-untyped-def]
    """Stored without GRIDOPS_PII_KEY (the key derived from the secret), read with the key the command prints."""
    from server.cli.main import main
    from server.rentals import pii

    settings_env(GRIDOPS_SECRET_KEY=GOOD_SECRET, GRIDOPS_PII_KEY=None, GRIDOPS_DEMO="true")
    stored, person = pii.encrypt("13912345678"), pii.id_hash("11010519491231002X")
    assert main(["secrets", "derived-pii-key"]) == 0
    settings_env(GRIDOPS_PII_KEY=capsys.readouterr().out.strip(), GRIDOPS_DEMO=None)
    assert pii.decrypt(stored) == "13912345678" and pii.id_hash("11010519491231002X") == person


def test_app_factory_refuses_the_dev_secret_outside_the_demo(settings_env) -> None:  # type: ignore[no-untyped-def]
    from server.main import create_app

    settings_env(**NO_KEYS)
    with pytest.raises(InsecureSettings):
        create_app()
    settings_env(GRIDOPS_DEMO="true")
    create_app()


def _dev_token(username: str) -> str:
    """What anyone who reads the repository can make."""
    return jwt.encode({"sub": username, "exp": datetime.now(UTC) + timedelta(minutes=5)}, DEV_SECRET, "HS256")


def test_dev_secret_tokens_are_refused_outside_the_demo(client, db_session, settings_env) -> None:  # type: ignore[no-untyped-def]
    """Even an app that exists (built before its settings changed) neither accepts nor signs such tokens."""
    from tests import factories

    factories.tree(db_session)
    factories.user(db_session, Role.district_admin, username="admin")
    dev = {"Authorization": f"Bearer {_dev_token('admin')}"}
    assert client.get("/api/v1/auth/me", headers=dev).json()["error"]["code"] == "token_invalid"  # own secret

    settings_env(GRIDOPS_SECRET_KEY=None, GRIDOPS_DEMO="false")  # the server's secret is now the public one
    r = client.get("/api/v1/auth/me", headers=dev)
    assert r.status_code == 401 and r.json()["error"]["code"] == "server_key_unsafe"
    login = client.post("/api/v1/auth/token", data={"username": "admin", "password": factories.PASSWORD})
    assert login.status_code == 503 and login.json()["error"]["code"] == "secret_key_default"

    settings_env(GRIDOPS_DEMO="true")  # the demo accepts it: the refusal above is the check, not chance
    assert client.get("/api/v1/auth/me", headers=dev).status_code == 200


# -- the commands --------------------------------------------------------------------------------


@pytest.fixture
def no_runners(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, list[object]]:
    """serve and ingest with their long-running parts replaced: only the start-up path runs."""
    import uvicorn

    from server.cli import devices_cmd
    from server.database import core
    from server.devices import runner

    started: dict[str, list[object]] = {"uvicorn": [], "ingester": []}
    stopped = threading.Event()
    stopped.set()
    service = SimpleNamespace(stop=lambda: started["ingester"].append("stopped"))
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: started["uvicorn"].append(kw))
    monkeypatch.setattr(devices_cmd, "start_embedded", lambda settings: None)
    monkeypatch.setattr(devices_cmd, "_stop_on_signals", lambda: stopped)
    monkeypatch.setattr(core, "get_sessionmaker", lambda: None)
    monkeypatch.setattr(runner, "start", lambda *a: started["ingester"].append("started") or service)
    return started


@pytest.mark.parametrize(("argv", "runner"), [
    (["serve"], "uvicorn"),
    (["devices", "ingest", "--no-card-sync"], "ingester"),
])
def test_services_refuse_without_keys(no_runners, settings_env, capsys, argv: list[str],  # type: ignore[no-untyped-def]
                                      runner: str) -> None:
    from server.cli.main import main

    settings_env(**NO_KEYS)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "GRIDOPS_SECRET_KEY=$(" in err and "GRIDOPS_PII_KEY=$(" in err and "密钥不安全" in err
    assert no_runners[runner] == []

    settings_env(GRIDOPS_DEMO="true")
    assert main(argv) == 0
    assert no_runners[runner]


def test_serve_runs_with_keys_of_its_own(no_runners, settings_env, capsys) -> None:  # type: ignore[no-untyped-def]
    from server.cli.main import main

    settings_env(GRIDOPS_SECRET_KEY=GOOD_SECRET, GRIDOPS_PII_KEY=PII_KEY, GRIDOPS_DEMO=None)
    assert main(["serve", "--port", "8123"]) == 0
    assert no_runners["uvicorn"] == [{"factory": True, "host": "127.0.0.1", "port": 8123, "workers": 1,
                                     "timeout_graceful_shutdown": SHUTDOWN_GRACE_S}]
    assert "demo login" not in capsys.readouterr().out  # no demo password advertised in production


@pytest.mark.parametrize("argv", [["serve"], ["devices", "ingest"]])
def test_refusal_end_to_end(tmp_path: Path, argv: list[str]) -> None:
    """As an operator runs it: exit status and message, with no key in the environment (nor a .env here)."""
    env = {k: v for k, v in os.environ.items() if k not in NO_KEYS}
    env |= {"PYTHONPATH": str(ROOT), "GRIDOPS_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    r = subprocess.run([sys.executable, "-m", "server.cli.main", *argv], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "error [secret_key_default]" in r.stderr and "GRIDOPS_PII_KEY=$(" in r.stderr
