"""Declaration import: the seeds typed into xlsx come back row for row, parsed and mapped; bad files say why."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from metrics.declaration import (Declaration, DeclarationError, MappingError, apply_mapping, load_mapping,
                                 read_declaration, read_declarations, write_mapping)
from metrics.matching import normalise_name
from tests.metrics import seed_text as st
from tests.metrics.seed_xlsx import DATA_DIR, SEEDS, write_seed_workbook

# (rows, rows mapped automatically) per seed: pins the matching rules against the real declarations.
MAPPED = {"001": (6, 1), "002": (54, 15), "003": (94, 29), "004": (20, 7)}

# (seed, sheet position, 三级指标) → code, for the operational indicators the platform computes.
OPERATIONAL = [
    ("001", 0, "社区治理满意度", "satisfaction"),
    ("002", 0, "设备在线率", "online_rate"),
    ("002", 0, "满意度", "satisfaction"),
    ("002", 1, "视频在线率", "terminal_online_rate"),
    ("002", 3, "使用率", "app_usage_rate"),  # by its description: 综治“9+X”信息系统手机APP使用率
    ("002", 5, "案件调解率", "mediation_success_rate"),
    ("002", 5, "调解案件结案效率", "dispute_reply_within_30_days_rate"),
    ("003", 6, "网格事件办结率", "closure_rate"),
    ("003", 6, "网格事件流转时限", "on_time_closure_rate"),
    ("003", 10, "上报网格事件质量", "quality_score"),
    ("003", 12, "政法四级网链路正常使用", "link_online_rate"),
    ("003", 15, "已安装门禁系统的出租屋内来穗人员登记率", "tenant_registration_rate"),
    ("003", 15, "已安装门禁系统的出租屋内来穗人员注销率", "tenant_deregistration_rate"),
    ("003", 19, "保证综治视联网设备、链路正常", "terminal_online_rate"),
    ("003", 20, "日常巡查情况", "visits_per_worker_month"),
    ("003", 20, "上报网格事件数量", "reports_per_worker_month"),
    ("003", 22, "出租屋纳管率", "rental_managed_rate"),
    ("004", 0, " 指标2：举办网格员培训班", "trainings_held"),
    ("004", 0, " 指标1：群众对网格员满意度", "satisfaction"),
]


@pytest.fixture(scope="module")
def seed_books(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Declaration]]:
    folder = tmp_path_factory.mktemp("seeds")
    return {seed: read_declarations(write_seed_workbook(seed, folder / f"seed_{seed}.xlsx")) for seed in SEEDS}


def _squash_rows(rows: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    return [tuple(st.squash(c) for c in row) for row in rows]


def _carried(rows: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    out, last = [], ""
    for row in rows:
        last = row[0] or last
        out.append((last, *row[1:]))
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_transcription_matches_the_seed_text(seed: str) -> None:
    text = st.seed_text(seed)
    if text is None:
        pytest.skip("shared/seeds is not beside this checkout")
    projects = SEEDS[seed]
    if seed == "001":
        assert _squash_rows(st.rows_001(text)) == _squash_rows(list(projects[0].rows))
    elif seed == "002":
        expected = [_squash_rows([r[:5] for r in _carried(t)]) for t in st.tables_002(text)]
        assert expected == [_squash_rows([r[:5] for r in p.rows]) for p in projects]
    elif seed == "003":
        assert st.projects_003(text) == {p.name: list(p.rows) for p in projects}
    else:
        tables = st.tables_004(text)
        for project in projects:
            assert [(r[3].strip(), r[5].strip()) for r in project.rows] == tables[project.sheet or ""]


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_workbook_round_trip(seed: str, seed_books: dict[str, list[Declaration]]) -> None:
    declarations = seed_books[seed]
    assert len(declarations) == len(SEEDS[seed])
    for declaration, project in zip(declarations, SEEDS[seed]):
        assert (declaration.project, declaration.budget_wan, declaration.year) == (
            project.name, project.budget_wan, project.year)
        assert [r.target.original for r in declaration.rows] == [r[project.target_column].strip() for r in project.rows]
        assert [r.indicator_text for r in declaration.rows] == [r[project.header.index("三级指标") if "三级指标" in
                                                                  project.header else 2].strip() for r in project.rows]
        for row in declaration.rows:
            assert row.target.kind in ("numeric", "text")
            assert (row.target.value is None) == (row.target.kind == "text")
            assert row.level1 and row.level2 and row.level1_key in ("产出", "效益", "满意度")


@pytest.mark.parametrize("seed", SEEDS)
def test_how_many_rows_map_automatically(seed: str, seed_books: dict[str, list[Declaration]]) -> None:
    rows = [r for d in seed_books[seed] for r in d.rows]
    assert (len(rows), sum(r.indicator_code is not None for r in rows)) == MAPPED[seed]
    assert all(r.match in ("exact", "contains", "fuzzy", "description") for r in rows if r.indicator_code)


@pytest.mark.parametrize(("seed", "sheet", "indicator", "code"), OPERATIONAL)
def test_operational_indicators_are_mapped(seed: str, sheet: int, indicator: str, code: str,
                                           seed_books: dict[str, list[Declaration]]) -> None:
    rows = [r for r in seed_books[seed][sheet].rows if r.indicator_text == indicator.strip()]
    assert rows and {r.indicator_code for r in rows} == {code}


def test_seed_003_rows_with_a_formula_are_judged_by_the_period_target(seed_books: dict[str, list[Declaration]]) -> None:
    rows = seed_books["003"][6].rows
    formula = next(r for r in rows if r.target.original == "网格事件办结率=办结数/上报数")
    assert formula.target.kind == "text" and formula.scored_target.describe() == "≥98%"
    sixty = next(r for r in rows if "总分/12个月" in r.target.original)
    assert (sixty.indicator_code, sixty.scored_target.value) == ("quality_score_60", 55.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_committed_fixtures_match_the_transcription(seed: str, seed_books: dict[str, list[Declaration]]) -> None:
    committed = read_declarations(DATA_DIR / f"seed_{seed}.xlsx")
    strip = [[(r.level1, r.level2, r.indicator_text, r.target, r.indicator_code) for r in d.rows] for d in committed]
    fresh = [[(r.level1, r.level2, r.indicator_text, r.target, r.indicator_code) for r in d.rows]
             for d in seed_books[seed]]
    assert strip == fresh


def test_merged_level_cells_are_carried_down() -> None:
    sheet = load_workbook(DATA_DIR / "seed_004.xlsx").worksheets[0]
    assert {str(r) for r in sheet.merged_cells.ranges} >= {"A5:A14", "B5:B12", "B13:B14", "C5:C7"}
    assert sheet["B6"].value is None
    rows = read_declaration(DATA_DIR / "seed_004.xlsx").rows
    assert [r.level1 for r in rows] == ["产出指标"] * 8 + ["满意度指标"] * 2
    assert [r.level2 for r in rows][:4] == ["数量指标", "数量指标", "数量指标", "质量指标"]


def _book(path: Path, rows: list[list[object]], title: str = "Sheet") -> Path:
    workbook = Workbook()
    workbook.active.title = title
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    return path


TABLE = [["一级指标", "二级指标", "三级指标", "指标值"], ["产出指标", "数量指标", "网格事件办结率", "≥98%"],
         [None, None, "出租屋纳管率", "98%以上"], [None, "质量指标", "事件质量评分", "≥25分"],
         [None, None, None, None], ["满意度指标", "服务对象满意度", "满意度", "按实际报送"]]


@pytest.mark.parametrize(("header", "project", "year", "budget"), [
    ([["项目名称：综治专项经费"], ["预算年度", 2026], ["预算(万元)", 95]], "综治专项经费", 2026, 95.0),
    ([["（2021年）"], ["项目名称", None, "雪亮工程"], ["预算数", "189.8万元"]], "雪亮工程", 2021, 189.8),
    ([["2022年度绩效目标表"], ["项目名称", "维稳经费"], ["预算金额", "160000元"]], "维稳经费", 2022, 16.0),
    ([], "", None, None),
])
def test_header_block(tmp_path: Path, header: list[list[object]], project: str, year: int | None,
                      budget: float | None) -> None:
    declaration = read_declaration(_book(tmp_path / "d.xlsx", header + TABLE))
    assert (declaration.project, declaration.year, declaration.budget_wan) == (project, year, budget)
    assert [r.row_number for r in declaration.rows] == [len(header) + n for n in (2, 3, 4, 6)]
    assert [r.level2 for r in declaration.rows] == ["数量指标", "数量指标", "质量指标", "服务对象满意度"]
    assert [r.indicator_code for r in declaration.rows] == ["closure_rate", "rental_managed_rate", "quality_score",
                                                            "satisfaction"]


def test_the_table_ends_at_the_budget_breakdown(tmp_path: Path) -> None:
    rows = TABLE + [["项目预算分解", "构成明细", "平安建设", "5.00"], ["产出指标", "数量指标", "x", "1"]]
    assert len(read_declaration(_book(tmp_path / "d.xlsx", rows)).rows) == 4


def test_unmapped_rows_are_kept(tmp_path: Path) -> None:
    declaration = read_declaration(_book(tmp_path / "d.xlsx", TABLE + [[None, None, "安装数量", "≥680"]]))
    assert declaration.rows[-1].indicator_code is None and declaration.rows[-1].target.value == 680.0
    assert [r.indicator_text for r in declaration.unmapped] == ["安装数量"]


@pytest.mark.parametrize(("rows", "en", "zh"), [
    ([["姓名", "电话"], ["张三", "123"]], "row 1: 姓名 | 电话", "未找到"),
    ([["一级指标", "二级指标", "三级指标", "备注"]], "lacks ['指标值']", "缺少 指标值"),
    ([], "holds: nothing", "内容：空"),
])
def test_a_workbook_without_the_table_says_what_it_found(tmp_path: Path, rows: list[list[object]], en: str,
                                                         zh: str) -> None:
    with pytest.raises(DeclarationError) as caught:
        read_declarations(_book(tmp_path / "x.xlsx", rows, title="名单"))
    assert isinstance(caught.value, ValueError)
    assert en in caught.value.message_en and zh in caught.value.message_zh and "名单" in str(caught.value)


def test_not_an_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "d.xlsx"
    path.write_text("项目名称,平安建设", encoding="utf-8")
    with pytest.raises(DeclarationError, match="无法作为 xlsx 工作簿读取"):
        read_declaration(path)


def test_a_missing_sheet_lists_the_sheets() -> None:
    with pytest.raises(DeclarationError, match="年度目标, 长期目标"):
        read_declaration(DATA_DIR / "seed_004.xlsx", sheet="三年目标")
    assert read_declaration(DATA_DIR / "seed_004.xlsx", sheet="长期目标").sheet == "长期目标"


def _edit(path: Path, changes: dict[str, str]) -> None:
    """Set 指标编码 of the rows whose 三级指标 is a key, as a person would in Excel."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        records = list(csv.DictReader(handle))
    for record in records:
        record["指标编码"] = changes.get(record["三级指标"], record["指标编码"])
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)


def test_mapping_file_round_trip(tmp_path: Path) -> None:
    declarations = read_declarations(DATA_DIR / "seed_003.xlsx")
    path = write_mapping(tmp_path / "mapping.csv", declarations)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        records = list(csv.DictReader(handle))
    assert len(records) == 94 and list(records[0])[:6] == ["工作表", "行号", "一级指标", "二级指标", "三级指标", "指标值"]
    _edit(path, {"来穗人员登记率、注销率达到市、区任务目标": "tenant_registration_rate", "满意度调查": ""})
    remapped = read_declarations(DATA_DIR / "seed_003.xlsx", mapping=load_mapping(path))
    rows = {normalise_name(r.indicator_text): r for d in remapped for r in d.rows}
    assert rows[normalise_name("来穗人员登记率、注销率达到市、区任务目标")].indicator_code == "tenant_registration_rate"
    assert (rows["满意度调查"].indicator_code, rows["满意度调查"].match) == (None, "mapping")
    assert sum(r.indicator_code is not None for d in remapped for r in d.rows) == 29


def test_mapping_with_an_unknown_code(tmp_path: Path) -> None:
    path = write_mapping(tmp_path / "m.csv", read_declaration(DATA_DIR / "seed_001.xlsx"))
    _edit(path, {"项目完成率": "completion_rate"})
    with pytest.raises(MappingError, match="completion_rate"):
        load_mapping(path)


def test_mapping_for_another_version_of_the_table(tmp_path: Path) -> None:
    path = write_mapping(tmp_path / "m.csv", read_declaration(DATA_DIR / "seed_001.xlsx"))
    declaration = read_declaration(DATA_DIR / "seed_004.xlsx")
    mapping = {("", key[1]): entry for key, entry in load_mapping(path).items()}
    with pytest.raises(MappingError, match="映射文件与申报表不一致"):
        apply_mapping(declaration, mapping)


def test_mapping_file_without_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("行号,名称\n5,x\n", encoding="utf-8")
    with pytest.raises(MappingError, match="三级指标、指标编码"):
        load_mapping(path)
