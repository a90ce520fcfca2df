"""Serves the dashboard page and tells it what the server decides: basemap, today's date, timezone.

The page itself is public static files (nothing in them is data); everything it shows comes from
the API with the user's token. The config is behind the token too: the basemap URL may carry the
customer's tile key, and "today" is the server's clock (the `Now` dependency), so the page's
default period and "about to be overdue" agree with the server's, not with the browser's clock.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from server.config import Settings, get_settings
from server.deps import CurrentUser, Now

STATIC = Path(__file__).parent / "static"
PATH = "/dashboard"

router = APIRouter(prefix="/dashboard", tags=["dashboard"])
root_router = APIRouter(include_in_schema=False)


class Basemap(BaseModel):
    url: str = ""  # an XYZ tile template; empty: the plain offline background
    attribution: str = ""
    max_zoom: int = 18


class DashboardConfig(BaseModel):
    basemap: Basemap
    today: str  # YYYY-MM-DD in the server's timezone
    now: str  # ISO-8601 UTC, for the page's clock offset
    timezone: str
    warning_hours: float  # an open event due within this many hours is 预警 (about to be overdue)
    feed_seconds: float  # each feed stream is closed by the server after this; the page resumes it and re-reads


def basemap_origin(settings: Settings) -> str | None:
    """The tile server's origin, the one outside origin the dashboard's policy admits."""
    if not settings.basemap_url:
        return None
    parts = urlsplit(settings.basemap_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


@router.get("/config", response_model=DashboardConfig)
def config(_: CurrentUser, now: Now) -> DashboardConfig:
    settings = get_settings()
    tz = ZoneInfo(settings.timezone)
    return DashboardConfig(
        basemap=Basemap(url=settings.basemap_url or "", attribution=settings.basemap_attribution,
                        max_zoom=settings.basemap_max_zoom),
        today=now.astimezone(tz).date().isoformat(), now=now.isoformat(), timezone=settings.timezone,
        warning_hours=settings.dashboard_warning_hours, feed_seconds=settings.dashboard_feed_seconds)


@root_router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse(f"{PATH}/")


def static_files() -> StaticFiles:
    """index.html for /dashboard/; the vendored libraries and modules beside it."""
    return StaticFiles(directory=STATIC, html=True)
