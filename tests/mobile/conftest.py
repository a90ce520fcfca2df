"""A real gridops server (uvicorn in a thread, real commits) with the event world, for the app's logic."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from mobile.location import Fix
from server.database.core import make_engine
from tests import factories

PASSWORD = "password123"  # factories.user's


@dataclass
class World:
    base: str
    engine: Engine
    users: dict[str, Any]
    grids: dict[str, Any]

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.base + "/api/v1", headers=factories.auth_headers(self.users["admin"]),
                            timeout=30)


@pytest.fixture
def world(fresh_db_url: str, live_server: Callable[..., str]):  # type: ignore[no-untyped-def]
    engine = make_engine(fresh_db_url)
    with Session(engine, expire_on_commit=False) as s:
        made = factories.event_world(s)
        s.commit()
    yield World(live_server(fresh_db_url), engine, made["users"], made["grids"])  # type: ignore[arg-type]
    engine.dispose()


def cell_fix(ix: int, iy: int, *, accuracy: float | None = 5.0, mock: bool = False, at: datetime | None = None,
             dx: float = 0.0) -> Fix:
    """A GPS fix at the centre of lattice cell (ix, iy) (CGCS2000; `dx` a share of the cell eastwards)."""
    square = factories.gk_square(ix, iy)
    c = square.centroid
    minx, _, maxx, _ = square.bounds
    return Fix(c.x + dx * (maxx - minx), c.y, accuracy, "cgcs2000", "gps", at or datetime.now(UTC), mock)


def jpeg(path: Path, size: tuple[int, int] = (64, 48), seed: int = 0) -> Path:
    """A small photo of noise (each seed a different picture, so a different hash)."""
    rng = random.Random(seed)
    im = Image.frombytes("RGB", size, bytes(rng.getrandbits(8) for _ in range(size[0] * size[1] * 3)))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    path.write_bytes(buf.getvalue())
    return path
