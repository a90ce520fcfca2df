"""One rule for every number a person reads: the self-evaluation, monitoring, weekly report, exports, the CLI.

The rule (README, "Numbers in documents"):
* thousands separators (1,123,790.5), never scientific notation (Python's `:g` prints 1.12379e+06);
* a fixed number of decimals per unit, so a column lines up and 96.2 % and 96.25 % are not
  shown as "96.2%" and "96.25%": `DECIMALS` (percent, points and money 2, hours and days 1,
  things counted 0); a unit not listed gets 2;
* integers stay integers: a count of 278 events is "278件", never "278.00件", whatever its unit;
* the unit follows the number without a space, in Chinese (%, 小时, 万元, 件 …);
* targets are echoed as declared ("≥95%", "≥20次"): `plain` trims trailing zeros instead of padding.

`excel_format` gives the matching Excel number format for cells that stay numbers (分值, 得分),
so a sheet shows what the text would.
"""

from __future__ import annotations

import math

DECIMALS: dict[str, int] = {
    "%": 2, "‰": 2, "分": 2, "元": 2, "万元": 2, "元/户": 2,
    "小时": 1, "天": 1, "日": 1, "工作日": 1, "分钟": 1,
    "台": 0, "个": 0, "人": 0, "名": 0, "场": 0, "期": 0, "户": 0, "条": 0, "项": 0,
}
DEFAULT_DECIMALS = 2
PLAIN_MAX_DECIMALS = 6


def decimals_for(unit: str | None) -> int:
    """The decimals a value in `unit` is shown with."""
    return DECIMALS.get(unit or "", DEFAULT_DECIMALS)


def _is_whole(value: float) -> bool:
    return isinstance(value, int) or float(value).is_integer()


def number(value: float | int | None, unit: str | None = None, *, decimals: int | None = None) -> str:
    """96.2, "%" → "96.20%"; 1123790.5, "小时" → "1,123,790.5小时"; 278, "件" → "278件"; None → "".

    An `int` (or a whole float in a unit shown without decimals) prints without decimals;
    everything else with the unit's fixed decimals (or `decimals`).
    """
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "—"
    places = decimals_for(unit) if decimals is None else decimals
    if isinstance(value, int) and not isinstance(value, bool):
        places = 0
    elif places == 0 and not _is_whole(value):
        places = DEFAULT_DECIMALS  # a count that is not whole (an average) is not silently rounded
    return f"{value:,.{places}f}{unit or ''}"


def plain(value: float | int | None, unit: str | None = None) -> str:
    """As declared: no padding zeros ("≥95%", "189.8万元"), still with separators and never `e+`."""
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "—"
    text = f"{value:,.{PLAIN_MAX_DECIMALS}f}".rstrip("0").rstrip(".")
    return f"{'0' if text in ('', '-0') else text}{unit or ''}"


def count(value: int, unit: str = "") -> str:
    """A count of things: 176 → "176", 15000 → "15,000"."""
    return number(int(value), unit)


def percent_change(now: int, before: int) -> str:
    """"+12（+8.5%）" style change of a count, one decimal on the percentage."""
    delta = now - before
    if delta == 0:
        return "持平"
    share = f"（{delta / before * 100:+,.1f}%）" if before else ""
    return f"{delta:+,d}{share}"


def excel_format(unit: str | None = None, *, decimals: int | None = None) -> str:
    """The Excel number format showing a number as `number` would (without the unit): "#,##0.00"."""
    places = decimals_for(unit) if decimals is None else decimals
    return "#,##0" + ("." + "0" * places if places else "")
