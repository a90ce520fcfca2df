"""The `gridops` command end to end, as a user runs it: migrate, demo, check, export, re-import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from tests.conftest import BACKENDS, fresh_database_url, subprocess_now

GRIDOPS = [sys.executable, "-m", "server.cli.main"]
ROOT = Path(__file__).resolve().parents[2]


def _run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRIDOPS_DATABASE_URL": url, "GRIDOPS_BCRYPT_ROUNDS": "4"}
    return subprocess.run([*GRIDOPS, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_database_url(request.param, tmp_path, "gridops_cli_test")


def test_help_lists_every_command() -> None:
    out = subprocess.run([*GRIDOPS, "--help"], capture_output=True, text=True, cwd=ROOT).stdout
    for cmd in ("serve", "db", "demo", "grids"):
        assert cmd in out
    grids = subprocess.run([*GRIDOPS, "grids", "--help"], capture_output=True, text=True, cwd=ROOT).stdout
    for cmd in ("import", "export", "check"):
        assert cmd in grids


def _every_demo_event_numbered(db_url: str) -> None:
    """The demo's bulk-loaded events get their numbers (2026-000123) like events created one by one."""
    from sqlalchemy import func, select

    from server.database.core import make_engine
    from server.events.models import Event

    engine = make_engine(db_url)
    with engine.connect() as conn:
        total, numbered, distinct = conn.execute(select(func.count(), func.count(Event.serial),
                                                        func.count(func.distinct(Event.serial)))).one()
    engine.dispose()
    assert total > 0 and numbered == distinct == total


def test_demo_check_export_reimport(db_url: str, tmp_path: Path) -> None:
    assert _run(db_url, "db", "upgrade").returncode == 0
    demo = _run(db_url, "demo", "--days", "20")
    assert demo.returncode == 0, demo.stderr
    assert "288 grids" in demo.stdout and "36 communities" in demo.stdout
    assert _run(db_url, "demo", "--if-empty").returncode == 0
    _every_demo_event_numbered(db_url)
    weekly = _run(db_url, "metrics", "weekly-report", "--area", "黄埔区", "-o", str(tmp_path / "reports"))
    assert weekly.returncode == 0, weekly.stderr
    report = next((tmp_path / "reports").glob("*.md")).read_text(encoding="utf-8")
    assert "个网格有新增事件" in report and "e+" not in report
    stats = _run(db_url, "db", "analyze")
    assert stats.returncode == 0 and "planner statistics gathered" in stats.stdout, stats.stderr

    today = subprocess_now().astimezone(ZoneInfo("Asia/Shanghai")).date()  # the CLI runs on its own clock
    period = f"{today - timedelta(days=30)}..{today}"
    board = _run(db_url, "metrics", "compute", "--scope", "district:440112", "--period", period, "--by", "street",
                 "--indicator", "closure_rate", "--indicator", "visits_per_worker_month", "--json")
    assert board.returncode == 0, board.stderr
    values = {(v["scope"], v["code"]): v for v in json.loads(board.stdout)}
    streets = [k for k in values if k[0].startswith("street:") and k[1] == "closure_rate"]
    assert len(streets) == 6  # the district and its 6 streets, from one pass
    district = values["district:440112", "closure_rate"]
    assert district["denominator"] > 0
    assert district["denominator"] == sum(values[k]["denominator"] for k in streets)
    assert district["numerator"] == sum(values[k]["numerator"] for k in streets)
    table = _run(db_url, "metrics", "compute", "--scope", "street:440112001", "--period", period, "--by", "community",
                 "--indicator", "closure_rate")
    assert table.returncode == 0 and table.stdout.count("community:440112001") == 6, table.stdout + table.stderr

    check = _run(db_url, "grids", "check", "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout)["findings"] == []

    out = tmp_path / "export.zip"
    export = _run(db_url, "grids", "export", str(out), "--epsg", "4547")
    assert export.returncode == 0, export.stderr
    assert "exported 288 grids" in export.stdout

    again = _run(db_url, "grids", "import", str(out), "--dry-run")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "288 grids read, 0 created, 288 unchanged" in again.stdout


def test_import_without_prj_says_how_to_fix(tmp_path: Path) -> None:
    from gis.shapefile_io import GridFeature, write_grids
    from tests.factories import gk_square

    paths = write_grids(tmp_path / "g.shp", [GridFeature("440112001001001", "a", None, None, gk_square(0, 0), {})])
    next(p for p in paths if p.suffix == ".prj").unlink()
    r = _run(f"sqlite:///{tmp_path / 'x.db'}", "grids", "check", str(tmp_path / "g.shp"))
    assert r.returncode == 2
    assert "missing_prj" in r.stderr and "--crs" in r.stderr
    ok = _run(f"sqlite:///{tmp_path / 'x.db'}", "grids", "check", str(tmp_path / "g.shp"), "--crs", "4490")
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_pyproj_and_spatialite_coexist_at_exit(tmp_path: Path) -> None:
    """mod_spatialite loaded before pyproj aborts the interpreter at exit; our import order prevents it."""
    code = ("from server.database.core import make_engine; from sqlalchemy import text;"
            f"e = make_engine('sqlite:///{tmp_path / 'p.db'}');"
            "c = e.connect(); print(c.execute(text('select spatialite_version()')).scalar());"
            "import pyproj; pyproj.Transformer.from_crs(4490, 4547, always_xy=True).transform(113.3, 23.1)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr


def test_serve_raises_the_open_files_soft_limit_for_its_live_feeds() -> None:
    """In a child process, so this one keeps its limits: a soft limit of 256 is raised, never past the hard one."""
    code = ("import resource; from server.cli.main import raise_open_files; "
            "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE); "
            "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)); "
            "print(raise_open_files(1000), resource.getrlimit(resource.RLIMIT_NOFILE)[0], "
            "raise_open_files(10**9) == (hard if hard != resource.RLIM_INFINITY else 10**9))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1000", "1000", "True"]
