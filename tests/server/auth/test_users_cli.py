"""`gridops users …` as an administrator runs it: the first admin, a roster dry run then --apply
(initial passwords to a 0600 file, never on screen), list, disable, reset."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth.models import User
from server.auth.security import verify_password
from server.database.core import make_engine
from tests import factories
from tests.server.auth.test_roster import GOOD, GRID_A, GRID_B, xlsx

ROOT = Path(__file__).resolve().parents[3]


def _gridops(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRIDOPS_DATABASE_URL": url, "GRIDOPS_BCRYPT_ROUNDS": "4"}
    return subprocess.run([sys.executable, "-m", "server.cli.main", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def _users(url: str) -> dict[str, User]:
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as s:
        users = {u.username: u for u in s.scalars(select(User))}
    engine.dispose()
    return users


def test_users_cli(fresh_db_url: str, tmp_path: Path) -> None:
    engine = make_engine(fresh_db_url)
    with Session(engine) as s:
        factories.tree(s)
        factories.grid(s, GRID_A, factories.gk_square(0, 0), name="第一网格")
        factories.grid(s, GRID_B, factories.gk_square(1, 0), name="第二网格")
        s.commit()
    engine.dispose()

    first = _gridops(fresh_db_url, "users", "add", "chief", "--name", "区管理员", "--role", "district_admin",
                     "--district", factories.DISTRICT)
    assert first.returncode == 0, first.stderr
    password = first.stdout.strip().splitlines()[-1]
    chief = _users(fresh_db_url)["chief"]
    assert chief.must_change_password and verify_password(password, chief.hashed_password)

    roster = tmp_path / "花名册.xlsx"
    roster.write_bytes(xlsx(GOOD))
    dry = _gridops(fresh_db_url, "users", "import", str(roster))
    assert dry.returncode == 0 and "would create" in dry.stdout and "applied=False" in dry.stdout, dry.stdout
    assert "zhangsan" not in _users(fresh_db_url)
    assert _gridops(fresh_db_url, "users", "import", str(roster), "--apply").returncode == 2  # where to?

    out = tmp_path / "初始密码.csv"
    done = _gridops(fresh_db_url, "users", "import", str(roster), "--apply", "--passwords-out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 users, 3 grid assignments, applied=True" in done.stdout
    assert os.stat(out).st_mode & 0o777 == 0o600
    with out.open(encoding="utf-8-sig") as f:
        given = {row[0]: row[2] for row in list(csv.reader(f))[1:]}
    users = _users(fresh_db_url)
    assert set(given) == {"zhangsan", "lisi", "wangwu", "zhaoliu"}
    assert all(verify_password(given[n], users[n].hashed_password) for n in given)
    assert not any(p in done.stdout + done.stderr for p in given.values())  # only in the file
    again = _gridops(fresh_db_url, "users", "import", str(roster), "--apply", "--passwords-out", str(out))
    assert again.returncode == 2 and "never overwritten" in again.stderr

    listed = _gridops(fresh_db_url, "users", "list", "--role", "grid_worker")
    assert "zhangsan" in listed.stdout and "138****8001" in listed.stdout and "13800138001" not in listed.stdout
    assert _gridops(fresh_db_url, "users", "disable", "lisi").returncode == 0
    assert not _users(fresh_db_url)["lisi"].is_active
    assert "lisi" in _gridops(fresh_db_url, "users", "list", "--disabled").stdout
    reset = _gridops(fresh_db_url, "users", "reset-password", "zhangsan")
    assert verify_password(reset.stdout.strip().splitlines()[-1], _users(fresh_db_url)["zhangsan"].hashed_password)
    unknown = _gridops(fresh_db_url, "users", "disable", "nobody")
    assert unknown.returncode == 2 and "user_not_found" in unknown.stderr
