"""Declaration in, self-evaluation out: computed rows from data, drafted reasons, manual rows kept."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from metrics.declaration import read_declaration
from metrics.self_evaluation import write_self_evaluation
from server.events import service as events
from server.events.enums import EventState
from server.events.schemas import EventCreate
from server.events.transitions import transition
from server.indicators.evaluation import actual_values, quarterly_progress
from server.indicators.periods import parse_period, parse_scope
from tests import factories

SEED_003 = Path(__file__).resolve().parents[2] / "metrics" / "data" / "seed_003.xlsx"
SHEET = "07基层社会治理和网格化创新工作经费"


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    """November 2026: 4 cases in grid A, 3 closed on time, 1 left open."""
    w = factories.event_world(db_session)
    t = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    for i in range(4):
        body = factories.event_body(reported_at=(t + timedelta(hours=i)).isoformat(), uuid=str(uuid.uuid4()))
        e, _ = events.create(db_session=db_session, reporter=w["users"]["worker_a"], data=EventCreate(**body),
                             now=t + timedelta(hours=i, minutes=1))
        for j, s in enumerate(["accepted", "dispatched", "handled", "closed"] if i < 3 else []):
            transition(db_session=db_session, event=e, to=EventState(s), actor=w["users"]["admin"],
                       at=t + timedelta(hours=i, minutes=10 + j))
    db_session.flush()
    return w


def test_self_evaluation_from_data(db_session, world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    declaration = read_declaration(SEED_003, sheet=SHEET)
    now = datetime(2026, 12, 31, tzinfo=UTC)
    actuals = actual_values(db_session=db_session, declaration=declaration, scope=parse_scope("district:440112"),
                            period=parse_period("2026"), now=now)
    assert actuals["closure_rate"].value == 75.0 and actuals["on_time_closure_rate"].value == 75.0
    reason = actuals["closure_rate"].deviation_reason
    assert reason and "1件未按要求办结" in reason and "440112001001001" in reason
    assert [r["状态"] for r in actuals["closure_rate"].drilldown] == ["已上报"]
    out = write_self_evaluation(tmp_path / "self.xlsx", declaration, actuals)
    wb = load_workbook(out)
    cells = [c for row in wb["绩效自评表"].iter_rows(values_only=True) for c in row if c is not None]
    assert "75.00%" in " ".join(str(c) for c in cells)
    assert any(str(c).startswith("明细") for c in wb.sheetnames)
    assert any("需人工填写" in str(c) for c in cells)  # rows without data are kept for a person


def test_quarterly_progress(db_session, world) -> None:  # type: ignore[no-untyped-def]
    declaration = read_declaration(SEED_003, sheet=SHEET)
    progress = quarterly_progress(db_session=db_session, declaration=declaration,
                                  scope=parse_scope("district:440112"), year=2026,
                                  now=datetime(2026, 11, 30, tzinfo=UTC))
    assert progress["closure_rate"] == [None, None, None, 75.0]  # no cases in Q1–Q3: no data, not 100 %


def _cli(monkeypatch, db_session, *argv: str) -> int:  # type: ignore[no-untyped-def]
    """`gridops metrics …` in process, on the test's session."""
    from contextlib import nullcontext

    import server.database.core as core
    from server.cli.main import main

    monkeypatch.setattr(core, "get_sessionmaker", lambda: (lambda: nullcontext(db_session)))
    return main(["metrics", *argv])


def test_self_eval_command_counts_rows_and_writes_every_mapping(db_session, world, tmp_path, monkeypatch,
                                                                capsys) -> None:  # type: ignore[no-untyped-def]
    import csv

    out, mapping = tmp_path / "self.xlsx", tmp_path / "mapping.csv"
    assert _cli(monkeypatch, db_session, "self-eval", "--declaration", str(SEED_003), "--sheet", SHEET,
                "--year", "2026", "-o", str(out), "--write-mapping", str(mapping)) == 0
    printed = capsys.readouterr()
    ws = load_workbook(out)["绩效自评表"]
    marks = [ws.cell(row=r, column=6).value for r in range(5, ws.max_row + 1)
             if ws.cell(row=r, column=3).value and ws.cell(row=r, column=1).value != "合计"]
    computed, missed = sum(m in ("是", "否") for m in marks), marks.count("否")
    assert len(marks) == 6 and computed > 0
    assert f"6 rows, {computed} computed from data ({missed} not met" in printed.out
    assert f"{6 - computed} for manual input" in printed.out and printed.err == ""
    with mapping.open(encoding="utf-8-sig") as handle:  # every row mapped: the file is written all the same
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6 and all(r["指标编码"] for r in rows) and "6 rows, 0 unmapped" in printed.out


def test_self_eval_command_warns_about_another_year(db_session, world, tmp_path, monkeypatch,
                                                    capsys) -> None:  # type: ignore[no-untyped-def]
    seed_002 = SEED_003.with_name("seed_002.xlsx")
    out = tmp_path / "self.xlsx"
    assert _cli(monkeypatch, db_session, "self-eval", "--declaration", str(seed_002), "--year", "2026",
                "-o", str(out)) == 0
    err = capsys.readouterr().err
    assert "申报表年度为2021年，本表按2026年度数据计算" in err and "--year" in err
    assert load_workbook(out)["绩效自评表"]["A3"].value.startswith("注意：申报表年度为2021年")
