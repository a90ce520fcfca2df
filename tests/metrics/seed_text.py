"""Indicator rows read straight from the seed text dumps, to check the xlsx transcription against them.

Each dump has its own shape: 001 is tab-separated lines, 002 has one cell per tab-led line
(continuation lines without a tab, level names split over lines), 003 packs a project's rows
into one cell as "1、1-产出指标:11-数量指标;指标;实施周期指标值:…;年度指标值:…", 004 prints its two
tables twice. These readers are only as general as those four files need.
"""

from __future__ import annotations

import re

from tests.metrics.seed_xlsx import SEED_FILES, SEEDS_DIR

H_002 = ("一级指标", "二级指标", "三级指标", "绩效指标描述", "指标值", "指标值确定依据")
_003_ITEM = re.compile(r"\s*\d-([^:;：]+)[:;：]\s*\d\d-([^:;：]+)[:;：](.*?)[;；]\s*实施周期指标值[:：;](.*?)[;；]\s*"
                       r"年度指标值[:：](.*)$", re.S)
_TRAILING = "。.;； "


def seed_text(seed: str) -> str | None:
    """The dump's text, or None where shared/seeds is not beside the checkout."""
    path = SEEDS_DIR / SEED_FILES[seed]
    return path.read_text(encoding="utf-8") if path.exists() else None


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def rows_001(text: str) -> list[tuple[str, ...]]:
    """(level1, level2, indicator, target, description), levels carried down over blank cells."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "一级目标\t二级目标" in line)
    rows, level1, level2 = [], "", ""
    for line in lines[start + 1:]:
        if "项目预算分解" in line:
            break
        cells = line.rstrip("\t").split("\t")[-5:]
        level1, level2 = cells[0] or level1, cells[1] or level2
        rows.append((level1, level2, *cells[2:]))
    return rows


def _cells(text: str) -> list[str]:
    """Seed 002's cells: a tab starts one, a line without a tab continues the last."""
    cells: list[str] = []
    for line in text.splitlines():
        if line.startswith("\t"):
            cells.append(line[1:])
        elif line.strip() and cells:
            cells[-1] += line
    return cells


def tables_002(text: str) -> list[list[tuple[str, ...]]]:
    """Each project table's six rows (after the blank row under its header), all six columns."""
    cells = _cells(text)
    tables = []
    for i in range(len(cells) - 6):
        if tuple(squash(c) for c in cells[i:i + 6]) == H_002:
            body = cells[i + 12:i + 48]
            tables.append([tuple(body[r * 6:r * 6 + 6]) for r in range(6)])
    return tables


def projects_003(text: str) -> dict[str, list[tuple[str, ...]]]:
    """Project name → (level1, level2, indicator, period target, annual target) per packed item."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for line in text.splitlines():
        cells = line.split("\t")
        packed = re.sub(r"</?p>", "", cells[-1]).strip()
        if len(cells) < 6 or "年度指标值" not in packed:
            continue
        items = [s for s in re.split(r"\d+、(?=\d-)", packed) if s.strip()]
        rows = []
        for item in items:
            match = _003_ITEM.match(item.strip())
            assert match, item
            l1, l2, indicator, period, annual = (g.strip() for g in match.groups())
            rows.append((l1, l2, indicator, period.rstrip(_TRAILING), annual.rstrip(_TRAILING)))
        out[cells[0]] = rows
    return out


def tables_004(text: str) -> dict[str, list[tuple[str, str]]]:
    """年度目标 / 长期目标 → (indicator, target) in order, each table's repeat dropped."""
    lines = text.splitlines()
    out: dict[str, list[tuple[str, str]]] = {"年度目标": [], "长期目标": []}
    for i, line in enumerate(lines):
        match = re.fullmatch(r"\t(年度目标|长期目标)\d\d", line)
        if match and (pair := (lines[i - 1].strip(), lines[i + 1].strip())) not in out[match.group(1)]:
            out[match.group(1)].append(pair)
    return out
