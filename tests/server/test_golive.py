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


def test_each_import_command_on_its_own(fresh_db_url: str, tmp_path: Path) -> None:
    """divisions import, divisions boundaries, grids import (GeoPackage), rentals import: checks, then --apply."""
    div = _run(fresh_db_url, "divisions", "import", str(SAMPLE / "区划代码.csv"))
    assert div.returncode == 0 and "新社区 4" in div.stdout and "试运行" in div.stdout, div.stdout + div.stderr
    assert _run(fresh_db_url, "divisions", "import", str(SAMPLE / "区划代码.csv"), "--apply").returncode == 0
    bnd = _run(fresh_db_url, "divisions", "boundaries", str(SAMPLE / "社区边界.gpkg"), "--apply")
    assert bnd.returncode == 0 and "EPSG:4547" in bnd.stdout, bnd.stdout + bnd.stderr
    grids = _run(fresh_db_url, "grids", "import", str(SAMPLE / "网格.gpkg"))
    assert grids.returncode == 0 and "8 grids read, 8 created" in grids.stdout, grids.stdout + grids.stderr
    rentals = _run(fresh_db_url, "rentals", "import", str(SAMPLE / "来穗人员.xlsx"), str(SAMPLE / "出租屋台账.xlsx"))
    assert rentals.returncode == 0 and "新增 3" in rentals.stdout and "新增 4" in rentals.stdout, rentals.stdout
    assert _counts(fresh_db_url)["rental"] == 0  # checked only
    assert _counts(fresh_db_url)["grid"] == 8 and _counts(fresh_db_url)["boundaries"] == 4


def test_bad_files_on_the_command_line(fresh_db_url: str, tmp_path: Path) -> None:
    utf16 = tmp_path / "区划代码.csv"
    utf16.write_bytes((SAMPLE / "区划代码.csv").read_bytes().decode("gbk").encode("utf-16"))
    enc = _run(fresh_db_url, "divisions", "import", str(utf16), "--apply")
    assert enc.returncode == 2 and "[unreadable_file]" in enc.stderr and "GBK" in enc.stderr, enc.stderr
    orphan = tmp_path / "orphan.csv"
    orphan.write_text("统计用区划代码,城乡分类代码,名称\n440113001001,111,东城社区居委会\n", encoding="utf-8")
    parent = _run(fresh_db_url, "divisions", "import", str(orphan), "--apply")
    assert parent.returncode == 1 and "[unknown_parent]" in parent.stdout and "未写入" in parent.stdout, parent.stdout
    dxf = tmp_path / "网格.dxf"
    dxf.write_bytes(b"0\nSECTION\n")
    fmt = _run(fresh_db_url, "grids", "import", str(dxf))
    assert fmt.returncode == 2 and "[unsupported_format]" in fmt.stderr and "GeoPackage" in fmt.stderr, fmt.stderr
    assert "shp" not in fmt.stderr.split("]")[0]
    strange = tmp_path / "名单.csv"
    strange.write_text("甲,乙\n1,2\n", encoding="utf-8")
    ledger = _run(fresh_db_url, "rentals", "import", str(strange))
    assert ledger.returncode == 2 and "[unknown_ledger]" in ledger.stderr, ledger.stderr
    assert set(_counts(fresh_db_url).values()) == {0}
