"""How the screens write times: Asia/Shanghai, month-day hour:minute (a worker's week fits)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_time(value: Any) -> str:
    """An aware datetime or ISO text as 'MM-DD HH:MM' in Beijing time; '' for nothing."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(SHANGHAI).strftime("%m-%d %H:%M")
    return ""


def wrap_cjk(text: str) -> str:
    """Kivy breaks lines at spaces first, so "超过 30 米" wraps as "超过 30⏎米" and Chinese lines end
    ragged; with no-break spaces a sentence is one run that Kivy cuts at the line's width."""
    return text.replace(" ", "\u00a0")
