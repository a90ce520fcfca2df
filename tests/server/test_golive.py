"""A fresh database goes live from the sample district folder (tests/data/golive) with `gridops setup`,
run as a user runs it; then a worker from the roster logs in, changes the initial password and reports
an event in their grid. A folder with one bad file writes nothing at all."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.database.core import make_engine
from server.divisions.models import Community, District
from server.grids.models import Grid
from server.rentals.models import PiiImport, Rental, Tenant
from tests import factories, golive_sample
from tests.server.test_cli import _run

SAMPLE = golive_sample.FOLDER


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with Session(engine) as s:
        out = {m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0
               for m in (District, Community, Grid, Rental, Tenant, PiiImport)}
        out["boundaries"] = s.scalar(select(func.count()).where(Community.boundary.is_not(None))) or 0
    engine.dispose()
    return out


def test_fresh_database_goes_live_from_the_sample_folder(fresh_db_url: str, tmp_path: Path, live_server) -> None:  # type: ignore[no-untyped-def]
    check = _run(fresh_db_url, "setup", str(SAMPLE))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "试运行" in check.stdout and "错误" not in check.stdout
    assert set(_counts(fresh_db_url).values()) == {0}  # a check writes nothing

    passwords = tmp_path / "初始密码.csv"
    live = _run(fresh_db_url, "setup", str(SAMPLE), "--apply", "--passwords-out", str(passwords))
    assert live.returncode == 0, live.stdout + live.stderr
    assert "已写入" in live.stdout
    assert _counts(fresh_db_url) == {"district": 1, "community": 4, "grid": 8, "rental": 3, "tenant": 4,
                                     "pii_import_log": 2, "boundaries": 4}
    assert passwords.stat().st_mode & 0o077 == 0  # initial passwords: readable by their owner only
    with passwords.open(encoding="utf-8-sig") as f:
        initial = {row["用户名"]: row["初始密码"] for row in csv.DictReader(f)}
    assert len(initial) == 6

    worker, grid = golive_sample.WORKER["username"], golive_sample.WORKER["grid"]
    base = live_server(fresh_db_url)
    with httpx.Client(base_url=f"{base}/api/v1", timeout=30) as api:
        first = api.post("/auth/token", data={"username": worker, "password": initial[worker]})
        assert first.status_code == 200 and first.json()["must_change_password"] is True, first.text
        bearer = {"Authorization": f"Bearer {first.json()['access_token']}"}
        assert api.get("/grids", headers=bearer).json()["error"]["code"] == "password_change_required"
        changed = api.post("/auth/password", headers=bearer,
                           json={"old_password": initial[worker], "new_password": "Dongcheng-Wangge-2026!"})
        assert changed.status_code == 200 and changed.json()["must_change_password"] is False, changed.text
        bearer = {"Authorization": f"Bearer {changed.json()['access_token']}"}
        mine = api.get("/grids", headers=bearer).json()
        assert [g["code"] for g in mine["items"]] == [grid]
        lon, lat = golive_sample.centre(grid)
        event = api.post("/events", headers=bearer, json=factories.event_body(lon=lon, lat=lat, address="东城大道1号"))
        assert event.status_code == 201, event.text
        assert event.json()["grid_code"] == grid and event.json()["reporter"] == worker


def _broken(tmp_path: Path) -> Path:
    """The sample with one grid moved to a community the division list does not have."""
    from gis.geopackage import read_grids_gpkg, write_grids_gpkg

    folder = tmp_path / "district"
    shutil.copytree(SAMPLE, folder)
    grids = read_grids_gpkg(folder / "网格.gpkg").features
    grids[0].code, grids[0].community_code = "440113003001001", "440113003001"
    write_grids_gpkg(folder / "网格.gpkg", grids)
    return folder


def test_one_bad_file_writes_nothing(fresh_db_url: str, tmp_path: Path) -> None:
    result = _run(fresh_db_url, "setup", str(_broken(tmp_path)), "--apply")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "unknown_community" in result.stdout and "440113003001001" in result.stdout
    assert "未写入任何数据" in result.stdout
    assert set(_counts(fresh_db_url).values()) == {0}  # the divisions, roster and ledgers before and after: none
    assert not (tmp_path / "district" / "初始密码.csv").exists()


@pytest.mark.parametrize("extra", ["网格.shp", "网格.geojson"])
def test_two_files_for_one_step_are_an_error(fresh_db_url: str, tmp_path: Path, extra: str) -> None:
    folder = tmp_path / "district"
    shutil.copytree(SAMPLE, folder)
    (folder / extra).write_bytes(b"{}")
    result = _run(fresh_db_url, "setup", str(folder))
    assert result.returncode == 1 and "网格 有两个文件" in result.stdout, result.stdout + result.stderr
