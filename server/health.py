"""`/health` and the start-up check: what an operator must fix before it goes wrong.

The endpoint is public (load balancers probe it), so it says only "ok" and stable warning
codes: no versions, paths, keys or counts. A warning never fails the probe: the server still
serves, it only computes something less well (a holiday calendar without next year).
"""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from server.deps import Now
from server.events.time_limits import calendar
from server.events.workcal import CalendarWarning, calendar_warnings

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str = "ok"
    warnings: list[str] = []


def warnings(*, now: datetime) -> list[CalendarWarning]:
    """Everything the health check reports; today only the holiday calendar."""
    return calendar_warnings(calendar(), now)


def log_startup_warnings(*, now: datetime) -> None:
    """Loud at start-up (and the calendar file is read, so a broken one fails the start)."""
    for w in warnings(now=now):
        log.warning("%s: %s / %s", w.code, w.message_zh, w.message_en)


@router.get("/health", response_model=Health)
def health(now: Now) -> Health:
    """Unauthenticated on purpose: load balancers probe it."""
    return Health(warnings=[w.code for w in warnings(now=now)])
