"""Several servers share few PostgreSQL connections through PgBouncer in transaction mode
(README, "Past one machine"): with GRIDOPS_DB_PGBOUNCER the server prepares no statements (a
statement psycopg prepared on one server connection is missing on the next), the live feed and
concurrent reports work through it, and the jobs' locks go to GRIDOPS_DATABASE_DIRECT_URL."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from server.config import Settings
from server.database.core import make_engine
from server.database.migrate import upgrade
from server.events.models import Event
from tests import factories
from tests.conftest import PG_URL, fresh_database_url

PGBOUNCER = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
pytestmark = pytest.mark.skipif(not (PG_URL and PGBOUNCER), reason="needs PostgreSQL and pgbouncer (apt-get install pgbouncer)")
ROOT = Path(__file__).resolve().parents[2]
WRITERS = {"worker_a": (0, 0), "worker_b": (1, 0), "worker_c": (5, 5), "street1": (1, 0)}
EVENTS_EACH = 10
POOL = 3  # server connections PgBouncer keeps: fewer than the writers, so they change hands


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def pgbouncer(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(URL through PgBouncer in transaction mode, direct URL) of a fresh migrated database."""
    direct = fresh_database_url("postgis", tmp_path, "gridops_pgbouncer")
    upgrade(direct)
    url = make_url(direct)
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    folder.chmod(0o777)  # PgBouncer refuses to run as root: it runs as postgres and writes its log here
    port = _free_port()
    (folder / "pgbouncer.ini").write_text(f"""[databases]
{url.database} = host={url.host} port={url.port or 5432} dbname={url.database} user={url.username} password={url.password}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / 'users.txt'}
pool_mode = transaction
default_pool_size = {POOL}
max_client_conn = 500
ignore_startup_parameters = extra_float_digits
logfile = {folder / 'pgbouncer.log'}
""")
    (folder / "users.txt").write_text(f'"{url.username}" ""\n')
    for f in folder.iterdir():
        f.chmod(0o644)
    as_user = ["-u", "postgres"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([PGBOUNCER, *as_user, str(folder / "pgbouncer.ini")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.1)
    try:
        yield url.set(port=port, host="127.0.0.1").render_as_string(hide_password=False), direct
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def test_servers_work_through_pgbouncer_in_transaction_mode(pgbouncer, live_server) -> None:  # type: ignore[no-untyped-def]
    bounced, direct = pgbouncer
    engine = make_engine(direct)
    with Session(engine, expire_on_commit=False) as s:
        users = factories.event_world(s)["users"]
        s.commit()
    base = live_server(bounced, GRIDOPS_DB_PGBOUNCER="true", GRIDOPS_DATABASE_DIRECT_URL=direct)
    expected = len(WRITERS) * EVENTS_EACH
    seen: set[str] = set()
    opened = threading.Event()

    def read_feed() -> None:
        with httpx.Client(base_url=base, timeout=70) as c, c.stream(
                "GET", "/api/v1/events/feed", params={"cursor": 0, "seconds": 60, "poll": 0.2},
                headers=factories.auth_headers(users["admin"])) as r:
            assert r.status_code == 200
            opened.set()
            for line in r.iter_lines():
                if line.startswith("data: ") and json.loads(line[6:])["kind"] == "create":
                    seen.add(json.loads(line[6:])["event_uuid"])
                if len(seen) >= expected:
                    return

    def write(name: str) -> list[int]:
        with httpx.Client(base_url=base, timeout=60, headers=factories.auth_headers(users[name])) as c:
            statuses = [c.post("/api/v1/events", json=factories.event_body(factories.gk_square(*WRITERS[name])))
                        .status_code for _ in range(EVENTS_EACH)]
            statuses += [c.get("/api/v1/events", params={"page_size": 50}).status_code for _ in range(8)]
        return statuses

    reader = threading.Thread(target=read_feed, daemon=True)
    reader.start()
    assert opened.wait(20)
    with ThreadPoolExecutor(len(WRITERS)) as pool:  # more clients than PgBouncer has server connections
        statuses = [code for batch in pool.map(write, WRITERS) for code in batch]
    reader.join(timeout=70)
    assert sorted(set(statuses)) == [200, 201] and statuses.count(201) == expected
    assert len(seen) == expected
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Event)) == expected
        assert s.scalar(select(func.count(func.distinct(Event.serial)))) == expected
    engine.dispose()

    env = {**os.environ, "GRIDOPS_DATABASE_URL": bounced, "GRIDOPS_DB_PGBOUNCER": "true",
           "GRIDOPS_DATABASE_DIRECT_URL": direct}
    run = subprocess.run([sys.executable, "-m", "server.cli.main", "events", "sweep"], capture_output=True, text=True,
                         timeout=120, env=env, cwd=ROOT)
    assert run.returncode == 0 and "sweep: " in run.stdout, run.stderr


def test_pgbouncer_without_a_direct_url_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="GRIDOPS_DATABASE_DIRECT_URL"):
        Settings(database_url="postgresql+psycopg://u@h/db", db_pgbouncer=True)


def test_prepared_statements_are_why(pgbouncer) -> None:  # type: ignore[no-untyped-def]
    """What GRIDOPS_DB_PGBOUNCER prevents: psycopg prepares a statement after its fifth run on a
    connection; through PgBouncer the next run may land on a server connection without it."""
    bounced, _ = pgbouncer
    errors: list[str] = []

    def hammer(prepare: bool) -> None:
        engine = make_engine(bounced, pgbouncer=not prepare)
        try:
            with engine.connect() as conn:
                for i in range(40):
                    conn.execute(text("SELECT count(*) FROM event WHERE id > :i"), {"i": i})
                    conn.commit()
        except Exception as exc:  # noqa: BLE001 - what fails is the point
            errors.append(type(exc).__name__ + str(exc).split("\n")[0])
        finally:
            engine.dispose()

    with ThreadPoolExecutor(POOL + 3) as pool:
        list(pool.map(hammer, [False] * (POOL + 3)))
    assert errors == []
    with ThreadPoolExecutor(POOL + 3) as pool:
        list(pool.map(hammer, [True] * (POOL + 3)))
    assert errors and all("prepared statement" in e for e in errors), errors
