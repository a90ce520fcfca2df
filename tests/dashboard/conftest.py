"""The dashboard in headless Chromium (Debian's /usr/bin/chromium driven by Playwright, no browser
download) against a real server process on a committed demo-like database: the demo district
(288 grids, six streets), 45 days of operations, a camera per grid, and one overdue accepted event
the tests dispatch. Screenshots of each view go to var/dashboard-shots/ (artefacts).

The page reads only the API, whose back-end differences the API tests cover on both databases; a
browser run costs minutes, so these run on SpatiaLite, and on PostGIS too when
GRIDOPS_TEST_DASHBOARD_POSTGIS=1 (with GRIDOPS_TEST_POSTGRES_URL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.codes import DeviceKind
from server.auth.models import User
from server.database.core import make_engine
from server.database.migrate import upgrade
from server.demo import DEMO_PASSWORD, load_demo
from server.demo_operations import load_operations
from server.devices import service as devices
from server.devices.schemas import DeviceCreate
from server.events import service as events
from server.events.enums import EventState
from server.events.scheduled import sweep
from server.events.schemas import EventCreate
from server.events.transitions import transition
from server.geometry import to_shapely
from server.grids.models import Grid
from tests import factories
from tests.conftest import BACKENDS, NOW, fresh_database_url

CHROMIUM = os.environ.get("GRIDOPS_TEST_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("GRIDOPS_TEST_SHOTS", "var/dashboard-shots"))
PASSWORD = DEMO_PASSWORD
OVERDUE_DESCRIPTION = "测试：超期未派遣的垃圾堆放"

if not Path(CHROMIUM).exists():  # ./dev installs Debian's chromium; without it these tests cannot run
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


def _world(db_session: Session) -> dict[str, Any]:
    load_demo(db_session)
    load_operations(db_session, now=NOW, days=45)
    grids = list(db_session.scalars(select(Grid).order_by(Grid.code)))
    cams = {}
    for n, g in enumerate(grids):
        c = to_shapely(g.geom).centroid
        kind = DeviceKind.link if n % 40 == 7 else DeviceKind.camera
        d, _ = devices.create(db_session=db_session, now=NOW, device_in=DeviceCreate(
            code=f"CAM-{g.code}", name=f"{g.name}监控", kind=kind, lon=c.x, lat=c.y))
        cams[g.code] = d
    db_session.flush()
    for n, (code, d) in enumerate(cams.items()):  # most online, every ninth offline: clusters of both colours
        factories.device_status(db_session, d, "offline" if n % 9 == 4 else "online", NOW - timedelta(minutes=30))
    users = {u.username: u for u in db_session.scalars(select(User))}
    first = grids[0]
    c = to_shapely(first.geom).centroid
    reported = NOW - timedelta(days=10)
    event, _ = events.create(db_session=db_session, reporter=users["w001"], now=reported, data=EventCreate(
        uuid=uuid.uuid4(), category_code="sanitation.garbage", description=OVERDUE_DESCRIPTION,
        lon=c.x, lat=c.y, datum="cgcs2000", gps_accuracy_m=5.0, address="黄埔东路88号", reported_at=reported))
    transition(db_session=db_session, event=event, to=EventState.accepted, actor=users["command"],
               at=reported + timedelta(hours=1))
    sweep(db_session=db_session, now=NOW)  # what the scheduler does: overdue and 预警 marks
    vertex = to_shapely(first.geom).geoms[0].exterior.coords[0]
    probe = (c.x + 0.4 * (vertex[0] - c.x), c.y + 0.4 * (vertex[1] - c.y))  # inside the grid, off its camera
    return {"overdue_uuid": event.uuid, "first_grid": first.code, "probe": probe, "camera": f"CAM-{first.code}",
            "camera_at": (c.x, c.y), "street2_grids": sum(g.code.startswith("440112002") for g in grids)}


DASHBOARD_BACKENDS = BACKENDS if os.environ.get("GRIDOPS_TEST_DASHBOARD_POSTGIS") == "1" else ["spatialite"]


@pytest.fixture(scope="module", params=DASHBOARD_BACKENDS)
def dashboard_db(request, tmp_path_factory) -> Iterator[tuple[str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """(database URL, what is in it), built once per module and back end on the suite's clock."""
    url = fresh_database_url(request.param, tmp_path_factory.mktemp("dash"), "gridops_dashboard")
    upgrade(url)
    engine = make_engine(url)
    with time_machine.travel(NOW, tick=True), Session(engine, expire_on_commit=False) as s:
        world = _world(s)
        s.commit()
    engine.dispose()
    yield url, world


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                                                               "--autoplay-policy=no-user-gesture-required", "--lang=zh-CN"])
        yield b
        b.close()


@pytest.fixture
def server(dashboard_db, live_server) -> tuple[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    url, world = dashboard_db
    return live_server(url, GRIDOPS_MQTT_EMBEDDED="false"), world


class Page:
    """A logged-in (or refused) dashboard tab, with the console's errors kept for the assertions."""

    def __init__(self, browser, base: str, width: int = 1600, height: int = 900) -> None:  # type: ignore[no-untyped-def]
        self.context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                           timezone_id="Asia/Shanghai", accept_downloads=True)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text)  # script errors and CSP refusals ("Refused to …");
                     if m.type == "error" and not m.text.startswith("Failed to load resource") else None)  # not 4xx answers
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.base = base
        self.page.goto(f"{base}/")

    def login(self, username: str, *, ready: bool = True) -> Any:
        p = self.page
        p.fill("#login-username", username)
        p.fill("#login-password", PASSWORD)
        p.click("#login-submit")
        if ready:
            p.wait_for_selector("body[data-ready='1']", timeout=60_000)
        return p

    def shot(self, name: str, **kw: Any) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), **kw)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_page(browser, server) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    pages: list[Page] = []

    def make(**kw: Any) -> Page:
        pages.append(Page(browser, server[0], **kw))
        return pages[-1]

    yield make
    for p in pages:
        p.close()
