"""`gridops assessment run|pay` end to end on the demo district, as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from server.assessment.rule import DEFAULT_RULE
from tests.conftest import fresh_database_url, subprocess_now

ROOT = Path(__file__).resolve().parents[3]


def _run(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli.main", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "GRIDOPS_DATABASE_URL": url, "GRIDOPS_BCRYPT_ROUNDS": "4", **env},
                          timeout=600, check=False)


def test_run_and_pay_on_the_demo(tmp_path: Path) -> None:
    url = fresh_database_url("spatialite", tmp_path, "gridops_assessment_cli")
    assert _run(url, "db", "upgrade").returncode == 0
    assert _run(url, "demo", "--days", "40").returncode == 0
    today = subprocess_now().astimezone(ZoneInfo("Asia/Shanghai")).date()  # the CLI runs on its own clock
    last = f"{today.year - (today.month == 1)}-{(today.month - 2) % 12 + 1:02d}"  # last month: over, 40 days of data
    sheet = tmp_path / "kaohe.xlsx"
    run = _run(url, "assessment", "run", "--month", last, "--xlsx", str(sheet))
    assert run.returncode == 0, run.stderr
    assert f"{last} 网格员月度考核" in run.stdout and "街道平均" in run.stdout
    assert len(load_workbook(sheet).sheetnames) == 7  # the demo's 6 streets, then 明细
    pay = _run(url, "assessment", "pay", "--month", last, "--pool", "1000000.00")
    assert pay.returncode == 2 and "month_not_frozen" in pay.stderr
    pools = tmp_path / "pools.json"
    pools.write_text(json.dumps({"440112001000": "200000.01"}), encoding="utf-8")
    pay = _run(url, "assessment", "pay", "--month", last, "--pool", "1000000.00", "--draft", "--street-pools", str(pools))
    assert pay.returncode == 0, pay.stderr
    assert "200,000.01 元（街道资金表）" in pay.stdout
    assert "合计 1,000,000.00 元，分到个人 1,000,000.00 元" in pay.stdout
    bad = tmp_path / "rule.json"
    bad.write_text(DEFAULT_RULE.read_text(encoding="utf-8").replace('"per": -2', '"per": 2'), encoding="utf-8")
    broken = _run(url, "assessment", "run", "--month", last, GRIDOPS_ASSESSMENT_RULE=str(bad))
    assert broken.returncode == 2 and "assessment_rule_invalid" in broken.stderr
    assert "'overdue_events': per must be negative" in broken.stderr and "街道" not in broken.stdout
