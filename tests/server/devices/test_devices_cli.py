"""`gridops devices …` and `gridops rentals sync-cards` as an operator runs them (SQLite file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devices import credentials

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def url(tmp_path_factory) -> str:  # type: ignore[no-untyped-def]
    db = tmp_path_factory.mktemp("cli") / "cli.db"
    url = f"sqlite:///{db}"
    assert _run(url, "db", "upgrade").returncode == 0
    return url


def _run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRIDOPS_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "server.cli.main", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


def test_import_issues_secrets_and_writes_broker_files(url: str, tmp_path: Path) -> None:
    ledger = tmp_path / "台账.csv"
    ledger.write_text("设备编码,设备名称,设备类型,心跳间隔\nMJ-9,九号门禁,门禁,30\nZFW-9,链路九,政法网链路,\n",
                      encoding="gbk")
    dry = _run(url, "devices", "import", str(ledger), "--dry-run")
    assert dry.returncode == 0 and "committed=False" in dry.stdout, dry.stdout + dry.stderr
    done = _run(url, "devices", "import", str(ledger), "--secrets-out", str(tmp_path / "s.csv"))
    assert done.returncode == 0 and "2 devices created" in done.stdout, done.stdout + done.stderr
    secrets = dict(line.split(",")[::2] for line in (tmp_path / "s.csv").read_text().split()[1:])
    again = _run(url, "devices", "import", str(ledger))
    assert again.returncode == 1 and "device_exists" in again.stdout

    pw = _run(url, "devices", "passwd-file", str(tmp_path / "passwd"), "--user", "gridops-ingester:pw1")
    assert pw.returncode == 0, pw.stderr
    entries = dict(line.split(":", 1) for line in (tmp_path / "passwd").read_text().split())
    assert set(entries) == {"MJ-9", "ZFW-9", "gridops-ingester"}
    assert credentials.verify_secret(secrets["MJ-9"], entries["MJ-9"])
    assert oct((tmp_path / "passwd").stat().st_mode)[-3:] == "600"
    acl = _run(url, "devices", "acl", str(tmp_path / "acl"))
    assert "pattern write gridops/v1/+/%u/+" in (tmp_path / "acl").read_text(), acl.stderr
    sch = _run(url, "devices", "schemas", str(tmp_path / "schemas"))
    assert json.loads((tmp_path / "schemas" / "heartbeat.v1.json").read_text())["properties"]["v"]["const"] == 1, sch.stderr


def test_card_sync_command(url: str) -> None:
    r = _run(url, "rentals", "sync-cards")
    assert r.returncode == 0 and "card events read" in r.stdout, r.stdout + r.stderr


def test_help_lists_device_commands(url: str) -> None:
    out = _run(url, "devices", "--help").stdout
    for cmd in ("import", "ingest", "simulate", "passwd-file", "acl", "schemas"):
        assert cmd in out


def test_serve_wires_the_card_sync_beside_the_embedded_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Devices never import rentals: `gridops serve` (the entry point) starts the card sync, on the
    embedded set-up's stop event, so stopping the demo stops the sync too."""
    import threading

    from server.cli import devices_cmd
    from server.config import Settings
    from server.devices import embedded
    from server.rentals import scheduled

    stop = threading.Event()
    fake = embedded.Embedded(broker=None, ingest=None, simulator=None, stop_event=stop)  # type: ignore[arg-type]
    started: list[tuple[threading.Event, int]] = []
    monkeypatch.setattr(embedded, "start", lambda settings: fake)
    monkeypatch.setattr(scheduled, "start_card_sync",
                        lambda factory, ev, *, no_entry_days: started.append((ev, no_entry_days)))
    settings = Settings(mqtt_embedded=True, tenant_no_entry_days=12)
    assert devices_cmd.start_embedded(settings) is fake
    assert started == [(stop, 12)]
