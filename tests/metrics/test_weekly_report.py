"""The Friday weekly report: Markdown content, the docx opened with python-docx, charts with or without CJK fonts."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from docx import Document

from metrics import weekly_report as wr
from metrics.weekly_report import (DeviceOutage, OverdueEvent, WeekFigures, WeeklySummary, build_sections, change,
                                   render_markdown, write_weekly_report)

UTC = timezone.utc
SUMMARY = WeeklySummary(
    area="黄埔区", week_start=date(2026, 11, 16), week_end=date(2026, 11, 22),
    events_by_category={"市容环境": 120, "安全隐患": 45, "矛盾纠纷": 12, "治安|问题": 30},
    events_by_grid={f"440112001001{n:03d}": 30 - n for n in range(1, 13)},
    overdue=[OverdueEvent("2026-000002", "安全隐患", "440112001001002", datetime(2026, 11, 12, 1, tzinfo=UTC),
                          datetime(2026, 11, 14, 9, tzinfo=UTC), "已派遣", 30.0),
             OverdueEvent("2026-000001", "市容环境", "440112001001001", datetime(2026, 11, 10, 2, tzinfo=UTC),
                          datetime(2026, 11, 13, 9, tzinfo=UTC), "已派遣", 72.5)],
    device_outages=[DeviceOutage("CAM-0012", "视频监控点位", "萝岗街道", datetime(2026, 11, 19, tzinfo=UTC), 80.0)],
    closed_events=190, last_week=WeekFigures(new_events=187, closed_events=190, overdue_events=4, device_outages=0),
    last_week_by_category={"市容环境": 100, "安全隐患": 50, "消防": 7},
)
EMPTY = WeeklySummary("黄埔区", date(2026, 11, 16), date(2026, 11, 22), {}, {})


@pytest.mark.parametrize(("now", "before", "text"), [
    (220, 200, "+20（+10.0%）"), (3, 4, "-1（-25.0%）"), (5, 5, "持平"), (5, 0, "+5"), (None, 3, "—"), (3, None, "—"),
])
def test_change(now: int | None, before: int | None, text: str) -> None:
    assert change(now, before) == text


def test_sections_and_trends() -> None:
    sections = build_sections(SUMMARY)
    assert [s.heading for s in sections] == ["一、总体情况", "二、新增事件（按类别）", "三、新增事件（按网格）", "四、超期事件",
                                             "五、设备离线"]
    assert sections[0].rows[0] == ("新增事件（件）", "207", "187", "+20（+10.7%）")
    assert sections[0].rows[2] == ("超期事件（件）", "2", "4", "-2（-50.0%）")
    assert sections[1].rows[-1] == ("消防", "0", "7", "-7（-100.0%）")
    assert len(sections[2].rows) == wr.TOP_GRIDS and sections[2].rows[0] == ("440112001001001", "29")
    assert [r[0] for r in sections[3].rows] == ["2026-000001", "2026-000002"]  # longest overdue first
    assert sections[3].rows[0][3:5] == ("2026-11-10 10:00", "2026-11-13 17:00")  # Asia/Shanghai


def test_markdown() -> None:
    text = render_markdown(SUMMARY)
    assert text.startswith("# 黄埔区社会治安形势情况周报（2026年第47周）\n")
    for heading in ("## 一、总体情况", "## 四、超期事件", "## 五、设备离线"):
        assert heading in text
    assert "| 新增事件（件） | 207 | 187 | +20（+10.7%） |" in text
    assert "| 治安\\|问题 | 30 | 0 | +30 |" in text
    assert "| CAM-0012 | 视频监控点位 | 萝岗街道 | 2026-11-19 08:00 | 80.0 |" in text
    assert "![" not in text


def test_an_empty_week_says_so() -> None:
    text = render_markdown(EMPTY)
    assert text.count("本周无新增事件。") == 2 and "本周无超期事件。" in text and "本周无设备离线。" in text
    assert "| 新增事件（件） | 0 | — | — |" in text


def test_files(tmp_path: Path) -> None:
    files = write_weekly_report(SUMMARY, tmp_path)
    assert set(files.charts) == {"events_by_category", "events_by_grid"}
    for chart in files.charts.values():
        assert chart.read_bytes().startswith(b"\x89PNG") and chart.stat().st_size > 5_000
    markdown = files.markdown.read_text(encoding="utf-8")
    assert "](weekly_report_20261116_charts/events_by_category.png)" in markdown
    document = Document(str(files.docx))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    assert headings == [SUMMARY.title, "一、总体情况", "二、新增事件（按类别）", "三、新增事件（按网格）", "四、超期事件",
                        "五、设备离线"]
    assert len(document.tables) == 5 and len(document.inline_shapes) == 2
    assert [c.text for c in document.tables[0].rows[0].cells] == ["指标", "本周", "上周", "变化"]
    assert document.tables[3].rows[1].cells[0].text == "2026-000001"
    assert document.sections[0].page_width == 7560310  # A4, 21 cm in EMU


def test_without_a_cjk_font_charts_still_come(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wr, "cjk_font", lambda: None)
    files = write_weekly_report(SUMMARY, tmp_path, stem="no_font")
    assert all(p.exists() for p in files.charts.values())
    assert wr.NO_FONT_NOTE in files.markdown.read_text(encoding="utf-8")
    assert any(wr.NO_FONT_NOTE in p.text for p in Document(str(files.docx)).paragraphs)


def test_markdown_only(tmp_path: Path) -> None:
    files = write_weekly_report(EMPTY, tmp_path, docx=False, charts=False)
    assert files.docx is None and files.charts == {} and files.markdown.exists()
    assert not list(tmp_path.glob("*.png"))


def test_the_font_lookup_prefers_a_cjk_family_when_one_is_installed() -> None:
    font = wr.cjk_font()
    assert font is None or isinstance(font, str)
    week = SUMMARY.week_start + timedelta(days=7)
    assert WeeklySummary("区", week, week, {}, {}).title.endswith("2026年第48周）")
