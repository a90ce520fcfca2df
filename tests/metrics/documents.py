"""The documents the render and golden tests look at, built from the seed declarations and fixed figures.

`golden_self_evaluation` is the self-evaluation reviewed by eye once (docs/self_evaluation_golden.png)
and compared cell by cell since (tests/metrics/data/golden_self_evaluation.json; regenerate with
`python -m tests.metrics.documents` after a deliberate change, and look at the PNG again).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from metrics.budget import BudgetExecution
from metrics.declaration import read_declaration
from metrics.monitoring import write_monitoring
from metrics.self_evaluation import ActualValue, write_self_evaluation
from metrics.weekly_report import DeviceOutage, OverdueEvent, WeekFigures, WeeklySummary, write_weekly_report
from tests.metrics.seed_xlsx import DATA_DIR

UTC = timezone.utc
GOLDEN_JSON = DATA_DIR / "golden_self_evaluation.json"
SEED_003_SHEET = "07基层社会治理和网格化创新工作经费"
LONG_REASON = ("网格事件正常办结率88.50%，未达到目标≥90%：46件未在时限内办结（共400件），主要集中在网格"
               "440112001001001(12件)、440112003002004(9件)、440112005001003(7件)；原因为汛期排水类事件集中、"
               "部分职能部门处置时限较长，已建立超期事件周调度机制并纳入街道月度考核。")
OPEN_EVENTS = [{"事件编号": f"2026-{n:06d}", "网格": f"440112001001{n % 7 + 1:03d}", "类别": "市容环境",
                "状态": "已派遣", "上报时间": datetime(2026, 3, 1, 1, tzinfo=UTC) + timedelta(days=n),
                "超期": True} for n in range(1, 13)]


def golden_actuals() -> dict[str, ActualValue]:
    """The figures of the issue: the 60-point quality score missed (53.29 < 55), a long drafted reason."""
    return {
        "closure_rate": ActualValue(98.25, "%"),
        "on_time_closure_rate": ActualValue(88.5, "%", deviation_reason=LONG_REASON, drilldown=OPEN_EVENTS),
        "quality_score": ActualValue(26.4, "分"),
        "quality_score_60": ActualValue(53.29, "分"),
    }


def golden_self_evaluation(path: Path) -> Path:
    declaration = read_declaration(DATA_DIR / "seed_003.xlsx", sheet=SEED_003_SHEET)
    return write_self_evaluation(path, declaration, golden_actuals(), year=2026,
                                 budget=BudgetExecution(2.15, 2.0395), unit_name="广州市黄埔区委政法委")


def mismatched_self_evaluation(path: Path) -> Path:
    """A 2021 declaration filled with 2026 data and another budget; a huge offline figure in the reason."""
    declaration = read_declaration(DATA_DIR / "seed_002.xlsx", sheet="01雪亮工程一期维护费")
    offline = [{"设备编码": f"440112{n:014d}", "名称": f"萝岗街道视频监控点位{n}", "在线率": 61.25 + n,
                "离线小时": 112379.05} for n in range(1, 11)]
    reason = ("视频监控点位设备在线率87.10%，未达到目标≥95%：10台设备存在离线，累计离线1,123,790.5小时，"
              "在线率最低的为44011200000000000001(62.25%)。")
    actuals = {"online_rate": ActualValue(87.1, "%", deviation_reason=reason, drilldown=offline),
               "satisfaction": ActualValue(96.4, "%")}
    return write_self_evaluation(path, declaration, actuals, year=2026, budget=BudgetExecution(200.0, 187.3))


def monitoring(path: Path) -> Path:
    declaration = read_declaration(DATA_DIR / "seed_002.xlsx", sheet="01雪亮工程一期维护费")
    return write_monitoring(path, declaration, {"online_rate": [93.0, 94.5, 95.5, None], "satisfaction": [91.0]},
                            quarter=3, year=2021, budget=BudgetExecution(189.8, 120.0, planned_rate=75.0),
                            notes={"online_rate": "一季度链路割接导致部分点位离线，二季度起按周巡检。"})


def weekly_summary() -> WeeklySummary:
    """A week with more grids, overdue events and outages than the report lists."""
    start = datetime(2026, 11, 16, tzinfo=UTC)
    overdue = [OverdueEvent(f"2026-{n:06d}", "矛盾纠纷" if n % 2 else "市容环境", f"440112001001{n:03d}",
                            start - timedelta(days=10, hours=n), start - timedelta(days=2, hours=n), "已处置",
                            48.0 + n * 1.5) for n in range(1, 51)]
    outages = [DeviceOutage(f"440112{n:014d}", "视频监控点位", f"萝岗街道开创大道与科丰路交叉口东北角{n}号杆",
                            start - timedelta(hours=n * 7), 1123790.5 if n == 1 else n * 7.0) for n in range(1, 31)]
    return WeeklySummary(
        area="黄埔区", week_start=date(2026, 11, 16), week_end=date(2026, 11, 22),
        events_by_category={"市容环境": 120, "安全隐患": 45, "矛盾纠纷": 12, "治安问题": 30, "出租屋": 71},
        events_by_grid={f"440112001001{n:03d}": 30 - n for n in range(1, 16)},
        overdue=overdue, device_outages=outages, closed_events=190,
        last_week=WeekFigures(new_events=187, closed_events=190, overdue_events=61, device_outages=12),
        last_week_by_category={"市容环境": 100, "安全隐患": 50, "消防": 7},
        grids_with_events=176, overdue_total=312, outage_total=44)


def weekly_docx(out_dir: Path) -> Path:
    files = write_weekly_report(weekly_summary(), out_dir, charts=False)
    assert files.docx is not None
    return files.docx


def cell_values(path: Path) -> dict[str, list[list[Any]]]:
    """Every sheet's values (data_only: what a reader that does not recalculate sees), JSON-ready."""
    book = load_workbook(path, data_only=True)
    return {ws.title: [[v.isoformat() if isinstance(v, datetime) else v for v in row]
                       for row in ws.iter_rows(values_only=True)] for ws in book.worksheets}


if __name__ == "__main__":  # regenerate the golden file after a deliberate change (then look at the PNG)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        values = cell_values(golden_self_evaluation(Path(tmp) / "golden.xlsx"))
    GOLDEN_JSON.write_text(json.dumps(values, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(GOLDEN_JSON)
