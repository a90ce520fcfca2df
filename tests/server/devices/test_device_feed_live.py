"""The device status feed against a real server, fed by the real ingester: a status change the
ingester commits reaches each feed whose territory holds the device, a reconnect with Last-Event-ID
gets only what came after, and a street admin never sees another street's devices."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from devices.client import Received
from devices.codes import DeviceKind
from devices.topics import Message
from server.auth.enums import Role
from server.database.core import make_engine
from server.devices import service as devices
from server.devices.ingester import Ingester
from server.devices.schemas import DeviceCreate
from tests import factories
from tests.conftest import NOW

FEED_S = 8.0  # the feeds end by themselves after this, and the test waits for them: no reader outlives it
DELIVERY_S = 5.0
GRID_A, GRID_C = "440112001001001", "440112002001001"


def _message(code: str, message: str, seq: int, **fields: Any) -> Received:
    now = time.time()
    body = {"v": 1, "device": code, "ts": datetime.fromtimestamp(now, UTC).isoformat(), "seq": seq, **fields}
    return Received(Message(message), f"gridops/v1/camera/{code}/{message}", json.dumps(body).encode(), seq, 1, False,
                    1, now)


class Reader:
    """A feed read in a thread: every `status` message, with when it arrived."""

    def __init__(self, base: str, user: Any, params: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self.messages: list[tuple[float, int, dict[str, Any]]] = []
        self.opened = threading.Event()
        self.status: list[int] = []
        self._args = (base, user, params, headers or {})
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        assert self.opened.wait(10) and self.status == [200]

    def _read(self) -> None:
        base, user, params, headers = self._args
        with httpx.Client(base_url=base, timeout=FEED_S + 10) as c, c.stream(
                "GET", "/api/v1/devices/feed", params={"seconds": FEED_S, "poll": 0.2, **params},
                headers={**factories.auth_headers(user), **headers}) as r:
            self.status.append(r.status_code)
            self.opened.set()
            event_id, name = None, None
            for line in r.iter_lines():
                if line.startswith("id: "):
                    event_id = int(line[4:])
                elif line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name == "status":
                    self.messages.append((time.monotonic(), event_id, json.loads(line[6:])))

    def wait_for(self, n: int, timeout: float = DELIVERY_S) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return [m for _, _, m in self.messages]


def _world(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as s:
        factories.tree(s)
        factories.grid(s, GRID_A, factories.gk_square(0, 0))
        factories.grid(s, GRID_C, factories.gk_square(5, 5))
        for code, cell in (("CAM-A", (0, 0)), ("CAM-C", (5, 5))):
            c = factories.gk_square(*cell).centroid
            devices.create(db_session=s, now=NOW, device_in=DeviceCreate(code=code, name=code, kind=DeviceKind.camera,
                                                                        lon=c.x, lat=c.y))
        users = {"admin": factories.user(s, Role.district_admin), "street1": factories.user(s, Role.street_admin)}
        s.commit()
    engine.dispose()
    return users


def test_ingested_status_changes_reach_the_feed_in_the_territory(fresh_db_url: str, live_server) -> None:  # type: ignore[no-untyped-def]
    users = _world(fresh_db_url)
    base = live_server(fresh_db_url)
    engine = make_engine(fresh_db_url)
    ingester = Ingester(sessionmaker(bind=engine, expire_on_commit=False)).start()
    try:
        with httpx.Client(base_url=base, headers=factories.auth_headers(users["admin"])) as c:
            start = c.get("/api/v1/devices/geojson").json()["cursor"]
        admin = Reader(base, users["admin"], {})  # no cursor: from now on
        street = Reader(base, users["street1"], {"cursor": start})
        sent = time.monotonic()
        for r in (_message("CAM-A", "heartbeat", 1), _message("CAM-C", "heartbeat", 1)):
            ingester.submit(r)
        assert ingester.drain(10)
        got = admin.wait_for(2)
        assert sorted((m["code"], m["status"], m["online"]) for m in got) == [("CAM-A", "online", True),
                                                                              ("CAM-C", "online", True)]
        assert max(at for at, _, _ in admin.messages) - sent < DELIVERY_S
        cam_a = next(m for m in got if m["code"] == "CAM-A")
        centre = factories.gk_square(0, 0).centroid
        assert cam_a["kind"] == "camera" and cam_a["grid_code"] == GRID_A
        assert (round(cam_a["lon"], 9), round(cam_a["lat"], 9)) == (round(centre.x, 9), round(centre.y, 9))
        assert datetime.fromisoformat(cam_a["at"]).tzinfo is not None
        assert all(m["cursor"] == event_id for _, event_id, m in admin.messages)

        ingester.submit(_message("CAM-A", "status", 2, status="offline", reason="power"))
        assert ingester.drain(10)
        got = admin.wait_for(3)
        assert (got[-1]["code"], got[-1]["status"], got[-1]["online"]) == ("CAM-A", "offline", False)

        street_got = street.wait_for(2)
        assert [(m["code"], m["status"]) for m in street_got] == [("CAM-A", "online"), ("CAM-A", "offline")]
        time.sleep(0.5)  # a poll or two more: still nothing of street 2
        assert "CAM-C" not in json.dumps([m for _, _, m in street.messages])

        # a reconnect after the first message: Last-Event-ID wins over ?cursor=0 and gives only the later ones
        first = admin.messages[0][1]
        with httpx.Client(base_url=base, timeout=10) as c:
            r = c.get("/api/v1/devices/feed", params={"cursor": 0, "seconds": 0},
                      headers={**factories.auth_headers(users["admin"]), "Last-Event-ID": str(first)})
        resumed = [int(line[4:]) for line in r.text.splitlines() if line.startswith("id: ")]
        assert resumed == [event_id for _, event_id, _ in admin.messages[1:]]
        for reader in (admin, street):
            reader.thread.join(FEED_S + 5)
            assert not reader.thread.is_alive()
    finally:
        ingester.stop()
        engine.dispose()
