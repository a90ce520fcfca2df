"""Jobs kept single by the database (server/database/singleton.py): while one process holds a job,
another gets False and skips its run; the sweep's CLI says so and sweeps nothing."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import Engine

from server.database.core import make_engine
from server.database.singleton import only_one


def test_a_second_holder_is_refused_until_the_first_lets_go(fresh_db_url: str) -> None:
    first, second = make_engine(fresh_db_url), make_engine(fresh_db_url)  # two processes' engines
    try:
        with only_one(first, "events sweep") as held:
            assert held
            with only_one(second, "events sweep") as other:
                assert not other
            with only_one(second, "card sync") as different_job:
                assert different_job
        with only_one(second, "events sweep") as after:
            assert after
    finally:
        first.dispose()
        second.dispose()


def test_the_sweep_skips_its_run_while_another_sweeps(fresh_db_url: str) -> None:
    holder: Engine = make_engine(fresh_db_url)
    env = {"GRIDOPS_DATABASE_URL": fresh_db_url}
    try:
        with only_one(holder, "events sweep") as held:
            assert held
            run = subprocess.run([sys.executable, "-m", "server.cli.main", "events", "sweep"], capture_output=True,
                                 text=True, timeout=120, env={**os.environ, **env})
        assert run.returncode == 0, run.stderr
        assert "another process is sweeping now" in run.stdout
        run = subprocess.run([sys.executable, "-m", "server.cli.main", "events", "sweep"], capture_output=True,
                             text=True, timeout=120, env={**os.environ, **env})
        assert run.returncode == 0, run.stderr
        assert "sweep: " in run.stdout and "another" not in run.stdout
    finally:
        holder.dispose()
