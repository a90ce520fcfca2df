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
