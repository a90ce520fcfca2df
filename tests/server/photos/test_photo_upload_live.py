"""A big photo is decoded off the event loop: /health answers while it is (once, a 9000×9000 PNG
upload stalled /health for 2.8 s). Against a real server, on both back ends."""

from __future__ import annotations

import io
import threading
import time

import httpx
import pytest
from PIL import Image
from sqlalchemy.orm import Session

from server.database.core import make_engine
from tests import factories

HEALTH_BOUND_S = 0.5  # measured here: 0.01 s; 1.8 s when the upload decoded on the event loop


@pytest.fixture(scope="module")
def big_png() -> bytes:
    """7000×7000 = 49 MP, under the 50 MP limit: about 2 s to check and thumbnail on this machine."""
    buf = io.BytesIO()
    Image.linear_gradient("L").resize((7000, 7000)).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


def test_health_answers_while_a_big_photo_is_decoded(fresh_db_url: str, live_server, tmp_path,  # type: ignore[no-untyped-def]
                                                     big_png: bytes) -> None:
    engine = make_engine(fresh_db_url)
    with Session(engine, expire_on_commit=False) as s:
        worker = factories.event_world(s)["users"]["worker_a"]
        s.commit()
    engine.dispose()
    base = live_server(fresh_db_url, GRIDOPS_MEDIA_ROOT=str(tmp_path / "media"))
    result: list[httpx.Response] = []

    def upload() -> None:
        result.append(httpx.post(f"{base}/api/v1/photos", files={"file": ("big.png", big_png, "image/png")},
                                 headers=factories.auth_headers(worker), timeout=120))

    thread = threading.Thread(target=upload)
    slowest = 0.0
    with httpx.Client(base_url=base, timeout=30) as c:
        c.get("/api/v1/health")
        started = time.monotonic()
        thread.start()
        while thread.is_alive():
            t0 = time.monotonic()
            assert c.get("/api/v1/health").status_code == 200
            slowest = max(slowest, time.monotonic() - t0)
            time.sleep(0.05)
        took = time.monotonic() - started
    thread.join()
    assert result[0].status_code == 201, result[0].text
    assert result[0].json()["width"] == 7000
    assert slowest < HEALTH_BOUND_S, f"/health took {slowest:.2f} s during a {took:.2f} s upload"
