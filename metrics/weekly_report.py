"""The Friday situation report (情况周报, seed 004): Markdown always, docx with PNG charts when asked.

Input is a plain `WeeklySummary` the caller fills from the database: new events by category and
by grid, the overdue list, device outages, and last week's figures for the trend. The report is
built once as a list of `Section`s and rendered twice (Markdown, docx), so both say the same.

Charts use matplotlib's Agg canvas directly (no pyplot, no global backend) and a CJK font when
one is installed (Debian: fonts-noto-cjk; found through matplotlib or `fc-list :lang=zh`).
Without one the charts are still drawn, Chinese labels show as boxes, the glyph warnings are
silenced and the report says so under each chart.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from metrics.numbers import count, number, percent_change
from metrics.office_text import office_text

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
CJK_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei",
                "Microsoft YaHei", "PingFang SC", "Noto Sans CJK JP", "Noto Sans CJK TC")
TOP_GRIDS = 10
TABLE_FONT_PT = 8  # a 15-digit grid code and a date-time each fit one line of the A4 tables at this size
NO_FONT_NOTE = "（本机未安装中文字体，图中中文可能显示为方框；Debian 可安装 fonts-noto-cjk）"


@dataclass(frozen=True)
class OverdueEvent:
    """`serial` is the event number people say on the phone (2026-000123); category and state in Chinese."""

    serial: str
    category: str
    grid_code: str
    reported_at: datetime
    due_at: datetime
    state: str
    overdue_hours: float


@dataclass(frozen=True)
class DeviceOutage:
    device_code: str
    kind: str  # 视频监控点位 / 政法网链路 / 视联网终端 / 门禁 …, as the caller names it
    location: str
    offline_since: datetime
    offline_hours: float


@dataclass(frozen=True)
class WeekFigures:
    """The headline numbers compared week to week."""

    new_events: int
    closed_events: int | None
    overdue_events: int
    device_outages: int


@dataclass(frozen=True)
class WeeklySummary:
    """The week's figures. Lists may be cut (`events_by_grid`, `overdue`, `device_outages` hold the
    first items only); the totals are counted separately by the caller and never taken from a list's
    length: `grids_with_events`, `overdue_total`, `outage_total` (None: the list is complete)."""

    area: str
    week_start: date
    week_end: date
    events_by_category: Mapping[str, int]
    events_by_grid: Mapping[str, int]
    overdue: Sequence[OverdueEvent] = ()
    device_outages: Sequence[DeviceOutage] = ()
    closed_events: int | None = None
    last_week: WeekFigures | None = None
    last_week_by_category: Mapping[str, int] | None = None
    grids_with_events: int | None = None
    overdue_total: int | None = None
    outage_total: int | None = None

    @property
    def this_week(self) -> WeekFigures:
        return WeekFigures(sum(self.events_by_category.values()), self.closed_events, self.overdue_count,
                           self.outage_count)

    @property
    def grid_count(self) -> int:
        return len(self.events_by_grid) if self.grids_with_events is None else self.grids_with_events

    @property
    def overdue_count(self) -> int:
        return len(self.overdue) if self.overdue_total is None else self.overdue_total

    @property
    def outage_count(self) -> int:
        return len(self.device_outages) if self.outage_total is None else self.outage_total

    @property
    def title(self) -> str:
        year, week, _ = self.week_start.isocalendar()
        return f"{self.area}社会治安形势情况周报（{year}年第{week}周）"


@dataclass(frozen=True)
class Section:
    """One heading of the report: sentences, an optional table, an optional chart key."""

    heading: str
    paragraphs: list[str] = field(default_factory=list)
    headers: tuple[str, ...] = ()
    rows: list[tuple[str, ...]] = field(default_factory=list)
    chart: str | None = None
    widths_cm: tuple[float, ...] = ()  # docx column widths, so codes and times are not broken across lines


@dataclass(frozen=True)
class WeeklyReportFiles:
    markdown: Path
    docx: Path | None
    charts: dict[str, Path]


def change(now: int | None, before: int | None) -> str:
    """"+12（+8.5%）", "-3（-20%）", "持平", or "—" when a side is unknown."""
    if now is None or before is None:
        return "—"
    return percent_change(now, before)


def cut_note(shown: int, total: int) -> str:
    """What a cut list says about itself: "（仅列前 10 项，共 176 项）", or nothing when complete."""
    return f"（仅列前 {count(shown)} 项，共 {count(total)} 项）" if total > shown else ""


def _c(value: int | None) -> str:
    return "—" if value is None else count(value)


def _local(moment: datetime) -> str:
    shown = moment.astimezone(LOCAL_TZ) if moment.tzinfo else moment
    return shown.strftime("%Y-%m-%d %H:%M")


def _overview(s: WeeklySummary) -> Section:
    now, before = s.this_week, s.last_week
    figures = (("新增事件（件）", now.new_events, before and before.new_events),
               ("办结事件（件）", now.closed_events, before and before.closed_events),
               ("超期事件（件）", now.overdue_events, before and before.overdue_events),
               ("离线设备（台）", now.device_outages, before and before.device_outages))
    rows = [(name, _c(a), _c(b), change(a, b)) for name, a, b in figures]
    sentence = (f"本周（{s.week_start:%Y-%m-%d} 至 {s.week_end:%Y-%m-%d}）新增事件 {count(now.new_events)} 件，"
                f"较上周 {change(now.new_events, before and before.new_events)}；超期事件 {count(now.overdue_events)} 件；"
                f"离线设备 {count(now.device_outages)} 台。")
    return Section("一、总体情况", [sentence], ("指标", "本周", "上周", "变化"), rows)


def _by_category(s: WeeklySummary) -> Section:
    last = s.last_week_by_category
    names = sorted(set(s.events_by_category) | set(last or {}), key=lambda c: -s.events_by_category.get(c, 0))
    rows = [(c, count(s.events_by_category.get(c, 0)), "—" if last is None else count(last.get(c, 0)),
             change(s.events_by_category.get(c, 0), None if last is None else last.get(c, 0))) for c in names]
    text = [] if rows else ["本周无新增事件。"]
    return Section("二、新增事件（按类别）", text, ("类别", "本周", "上周", "变化"), rows, chart="events_by_category")


def _by_grid(s: WeeklySummary) -> Section:
    top = sorted(s.events_by_grid.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_GRIDS]
    text = [f"本周共 {count(s.grid_count)} 个网格有新增事件，以下为事件最多的 {len(top)} 个网格"
            f"{cut_note(len(top), s.grid_count)}。"] if top else ["本周无新增事件。"]
    return Section("三、新增事件（按网格）", text, ("网格", "事件数"), [(g, count(n)) for g, n in top],
                   chart="events_by_grid")


def _overdue(s: WeeklySummary) -> Section:
    items = sorted(s.overdue, key=lambda e: -e.overdue_hours)
    rows = [(e.serial, e.category, e.grid_code, _local(e.reported_at), _local(e.due_at),
             number(e.overdue_hours, "小时").removesuffix("小时"), e.state) for e in items]
    text = [f"截至周末仍超期的事件 {count(s.overdue_count)} 件，按超期时长排列{cut_note(len(rows), s.overdue_count)}。"] \
        if rows else ["本周无超期事件。"]
    return Section("四、超期事件", text, ("事件编号", "类别", "网格", "上报时间", "办结时限", "超期（小时）", "状态"), rows,
                   widths_cm=(2.5, 1.7, 3.2, 3.2, 3.2, 1.6, 1.6))


def _outages(s: WeeklySummary) -> Section:
    items = sorted(s.device_outages, key=lambda d: -d.offline_hours)
    rows = [(d.device_code, d.kind, d.location, _local(d.offline_since),
             number(d.offline_hours, "小时").removesuffix("小时")) for d in items]
    text = [f"本周离线设备 {count(s.outage_count)} 台，按离线时长排列{cut_note(len(rows), s.outage_count)}。"] \
        if rows else ["本周无设备离线。"]
    return Section("五、设备离线", text, ("设备编号", "类型", "位置", "离线起始", "离线时长（小时）"), rows,
                   widths_cm=(4.1, 2.2, 4.8, 3.2, 2.2))


def build_sections(summary: WeeklySummary) -> list[Section]:
    """The report's content, once, for every output format."""
    return [_overview(summary), _by_category(summary), _by_grid(summary), _overdue(summary), _outages(summary)]


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(summary: WeeklySummary, charts: Mapping[str, Path] | None = None,
                    relative_to: Path | None = None) -> str:
    """The report as Markdown; chart links are relative to `relative_to` (the Markdown file's folder)."""
    lines = [f"# {summary.title}", ""]
    for section in build_sections(summary):
        lines += [f"## {section.heading}", ""] + [p + "\n" for p in section.paragraphs]
        if section.rows:
            lines.append("| " + " | ".join(section.headers) + " |")
            lines.append("|" + "---|" * len(section.headers))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in section.rows]
            lines.append("")
        chart = (charts or {}).get(section.chart or "")
        if chart is not None:
            link = chart.relative_to(relative_to) if relative_to and chart.is_relative_to(relative_to) else chart
            lines += [f"![{section.heading}]({link.as_posix()})", ""]
            if cjk_font() is None:
                lines += [NO_FONT_NOTE, ""]
    return "\n".join(lines).rstrip() + "\n"


def _fc_list_fonts() -> list[str]:
    """Files of fonts fontconfig knows for Chinese; empty without fontconfig."""
    if shutil.which("fc-list") is None:
        return []
    try:
        out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.split(":")[0].strip() for line in out.stdout.splitlines() if line.strip()]


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """A font family with Chinese glyphs known to matplotlib, registering fontconfig's if need be."""
    from matplotlib import font_manager  # noqa: PLC0415  (matplotlib only when charts are drawn)

    def known() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((f for f in CJK_FAMILIES if f in names), None)

    if (found := known()) is not None:
        return found
    added = []
    for path in _fc_list_fonts():
        try:
            font_manager.fontManager.addfont(path)
            added.append(font_manager.FontProperties(fname=path).get_name())
        except (OSError, RuntimeError, ValueError):
            continue
    return known() or (added[0] if added else None)


def _bar_chart(path: Path, title: str, labels: list[str], series: list[tuple[str, list[int]]]) -> Path:
    """Grouped bars with their values on top; the CJK font (if any) for every text in the figure."""
    from matplotlib import rc_context  # noqa: PLC0415
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    font = cjk_font()
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    with rc_context({"font.family": families, "axes.unicode_minus": False}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph .* missing")
        figure = Figure(figsize=(8, 4.2), dpi=150)
        FigureCanvasAgg(figure)
        ax = figure.add_subplot()
        width = 0.8 / len(series)
        for i, (name, values) in enumerate(series):
            bars = ax.bar([x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))], values,
                          width=width, label=name)
            ax.bar_label(bars, fontsize=8)
        slanted = len(labels) > 5
        ax.set_xticks(range(len(labels)), labels, rotation=30 if slanted else 0, ha="right" if slanted else "center")
        ax.set_title(title)
        if len(series) > 1:
            ax.legend()
        figure.tight_layout()
        figure.savefig(path, format="png")
    return path


def render_charts(summary: WeeklySummary, out_dir: str | Path) -> dict[str, Path]:
    """PNG bar charts: events by category (this week vs last) and the busiest grids."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    charts: dict[str, Path] = {}
    categories = sorted(summary.events_by_category, key=lambda c: -summary.events_by_category[c])
    if categories:
        series = [("本周", [summary.events_by_category[c] for c in categories])]
        if summary.last_week_by_category is not None:
            series.append(("上周", [summary.last_week_by_category.get(c, 0) for c in categories]))
        charts["events_by_category"] = _bar_chart(out / "events_by_category.png", "新增事件（按类别）", categories, series)
    grids = sorted(summary.events_by_grid.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_GRIDS]
    if grids:
        charts["events_by_grid"] = _bar_chart(out / "events_by_grid.png", f"事件最多的{len(grids)}个网格",
                                              [g for g, _ in grids], [("本周", [n for _, n in grids])])
    return charts


def _docx_table(document: object, section: Section) -> None:
    from docx.shared import Pt  # noqa: PLC0415

    table = document.add_table(rows=1, cols=len(section.headers))  # type: ignore[attr-defined]
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, section.headers):
        cell.text = office_text(text)
        for run in cell.paragraphs[0].runs:
            run.font.bold = True
    for row in section.rows:
        for cell, text in zip(table.add_row().cells, row):
            cell.text = office_text(text)
    if section.widths_cm:
        from docx.shared import Cm  # noqa: PLC0415

        table.autofit = False
        for column, width in zip(table.columns, section.widths_cm):
            column.width = Cm(width)
            for cell in column.cells:
                cell.width = Cm(width)  # Word reads the cells' widths, LibreOffice the grid's
    for row in table.rows:
        for cell in row.cells:
            for run in cell.paragraphs[0].runs:
                run.font.size = Pt(TABLE_FONT_PT)


def _docx_document() -> object:
    """A4 portrait, 宋体 for Chinese text (w:eastAsia), so Word shows the same fonts everywhere."""
    from docx import Document  # noqa: PLC0415
    from docx.oxml.ns import qn  # noqa: PLC0415
    from docx.shared import Cm, Pt  # noqa: PLC0415

    document = Document()
    page = document.sections[0]
    page.page_width, page.page_height = Cm(21), Cm(29.7)
    page.left_margin = page.right_margin = Cm(2)
    normal = document.styles["Normal"]
    normal.font.name = "宋体"
    normal.font.size = Pt(11)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "宋体")
    return document


def write_docx(summary: WeeklySummary, path: str | Path, charts: Mapping[str, Path] | None = None) -> Path:
    """The report as a Word document: the same sections as the Markdown, tables with borders, charts inline."""
    from docx.shared import Cm  # noqa: PLC0415

    document = _docx_document()
    document.add_heading(office_text(summary.title), level=0)  # type: ignore[attr-defined]
    for section in build_sections(summary):
        document.add_heading(office_text(section.heading), level=1)  # type: ignore[attr-defined]
        for paragraph in section.paragraphs:
            document.add_paragraph(office_text(paragraph))  # type: ignore[attr-defined]
        if section.rows:
            _docx_table(document, section)
        chart = (charts or {}).get(section.chart or "")
        if chart is not None:
            document.add_picture(str(chart), width=Cm(16))  # type: ignore[attr-defined]
            if cjk_font() is None:
                document.add_paragraph(NO_FONT_NOTE)  # type: ignore[attr-defined]
    path = Path(path)
    document.save(str(path))  # type: ignore[attr-defined]
    return path


def write_weekly_report(summary: WeeklySummary, out_dir: str | Path, *, stem: str | None = None,
                        docx: bool = True, charts: bool = True) -> WeeklyReportFiles:
    """Markdown (always), PNG charts and docx into `out_dir`; file names carry the week."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = stem or f"weekly_report_{summary.week_start:%Y%m%d}"
    drawn = render_charts(summary, out / f"{stem}_charts") if charts else {}
    markdown = out / f"{stem}.md"
    markdown.write_text(render_markdown(summary, drawn, relative_to=out), encoding="utf-8")
    document = write_docx(summary, out / f"{stem}.docx", drawn) if docx else None
    return WeeklyReportFiles(markdown=markdown, docx=document, charts=drawn)
