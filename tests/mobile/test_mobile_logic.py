"""The app's logic that needs no server: the accuracy gate, backoff, track rules, photo
compression, and the store surviving a restart."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from mobile import photos
from mobile.location import Fix, Quality, check
from mobile.store import Store
from mobile.sync import Backoff
from mobile.track import TrackFilter, TrackRules, distance_m, thin

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def _fix(lon: float = 113.8, lat: float = 23.1, acc: float | None = 5.0, s: float = 0, **kw) -> Fix:  # type: ignore[no-untyped-def]
    return Fix(lon, lat, acc, kw.pop("datum", "wgs84"), "gps", T0 + timedelta(seconds=s), **kw)


def test_the_accuracy_gate_warns_above_the_threshold_and_flags_mock_locations() -> None:
    assert check(_fix(acc=12)).quality is Quality.ok
    assert check(_fix(acc=45)).quality is Quality.warn and "45 米" in (check(_fix(acc=45)).message or "")
    assert check(_fix(acc=45), warn_above_m=50).ok
    assert check(_fix(acc=None)).quality is Quality.warn
    assert check(_fix(acc=3, mock=True)).quality is Quality.mock
    with pytest.raises(ValueError):
        _fix(datum="osgb36")
    with pytest.raises(ValueError):
        Fix(113.8, 23.1, 5.0, "wgs84", "gps", datetime(2026, 11, 20))  # a naive time


def test_backoff_grows_with_jitter_and_respects_retry_after() -> None:
    b, rng = Backoff(base_s=1, cap_s=60), random.Random(1)
    for failures, step in ((1, 1), (2, 2), (3, 4), (8, 60), (30, 60)):
        delays = [b.delay(failures, rng=rng) for _ in range(50)]
        assert all(step / 2 <= d <= step for d in delays) and len(set(delays)) > 1
    assert b.delay(1, retry_after=30, rng=rng) == 30


def test_track_rules_keep_movement_and_a_heartbeat_and_drop_bad_fixes() -> None:
    f = TrackFilter(TrackRules(min_distance_m=10, min_interval_s=5, max_interval_s=60, max_accuracy_m=50))
    east = 10.5 / distance_m(113.8, 23.1, 113.801, 23.1) * 0.001  # degrees for 10.5 m
    assert f.accept(_fix(s=0))
    assert not f.accept(_fix(113.8 + east, s=3))  # too soon
    assert f.accept(_fix(113.8 + east, s=6))  # moved 10.5 m
    assert not f.accept(_fix(113.8 + east, s=30))  # standing
    assert f.accept(_fix(113.8 + east, s=67))  # standing, but a minute passed
    assert not f.accept(_fix(113.9, s=200, acc=80))  # a network-provider jump
    points = [{"kind": "checkin" if i in (5, 777) else "track", "n": i} for i in range(1000)]
    kept = thin(points, limit=100)
    assert len(kept) == 100 and {5, 777, 0, 999} <= {p["n"] for p in kept}
    assert [p["n"] for p in kept] == sorted(p["n"] for p in kept)


def test_photos_are_compressed_upright_with_their_exif(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was held upright: rotate 90°
    exif.get_ifd(0x8769)[0x9003] = "2026:11:20 10:00:00"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (23.0, 6.0, 0.0), 3: "E", 4: (113.0, 48.0, 0.0)})
    buf = io.BytesIO()
    Image.new("RGB", (4000, 3000), (200, 10, 10)).save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    key, path, size = photos.store_compressed(buf.getvalue(), tmp_path)
    assert path.name == f"{key}.jpg" and size == path.stat().st_size < len(buf.getvalue())
    with Image.open(path) as out:
        kept = out.getexif()
        assert out.size == (1200, 1600) and kept.get(0x0112) in (None, 1)
        assert kept.get_ifd(0x8769)[0x9003] == "2026:11:20 10:00:00" and kept.get_ifd(0x8825)[1] == "N"
    small = io.BytesIO()
    Image.new("RGB", (200, 100)).save(small, "PNG")
    with Image.open(io.BytesIO(photos.compress(small.getvalue()))) as out:
        assert out.size == (200, 100) and out.format == "JPEG"  # never enlarged


def test_the_store_keeps_everything_across_a_restart(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.enqueue(local_id="u1", kind="event", owner="w", payload={"a": 1}, created_at=T0, photos=["k"])
    store.freeze_body("u1", {"a": 1, "photos": []})
    store.freeze_body("u1", {"a": 2})  # frozen once: a retry sends the first body
    store.close()
    again = Store(tmp_path)
    item = again.item("u1")
    assert item is not None and (item["state"], item["body"], item["photos"]) == ("queued", {"a": 1, "photos": []}, ["k"])
    assert again.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again.mark_failed("u1", "location_outside_grids", "上报位置不在任何网格内")
    again.requeue("u1", {"a": 3})
    item = again.item("u1")
    assert item is not None and (item["state"], item["body"], item["payload"]) == ("queued", None, {"a": 3})
