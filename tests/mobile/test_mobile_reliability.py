"""Offline queue, flaky network, killed sync: 500 events and 50 photos arrive exactly once, in the
order the worker made them. The sync runs as its own process (mobile.sync_cli) through a proxy
that cuts connections every few requests and once mid-upload; it is SIGKILLed mid-batch and
restarted."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobile.service import AppService
from mobile.store import FILENAME
from server.events.models import Event
from server.photos.models import Photo, PhotoLink
from tests.mobile.conftest import PASSWORD, World, cell_fix, jpeg
from tests.mobile.flaky_proxy import FlakyProxy

ROOT = Path(__file__).resolve().parents[2]
EVENTS, PHOTOS, KILL_AFTER = 500, 50, 150


def _sync(data_dir: Path, server: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mobile.sync_cli", "--sync-once", "--data-dir", str(data_dir), "--server", server,
         "--backoff-base", "0.02", "--max-seconds", "120"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # PYTHONPATH kept: ./dev test's clock ahead


def _sent(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / FILENAME, timeout=10) as db:
        return db.execute("SELECT count(*) FROM outbox WHERE state = 'sent'").fetchone()[0]


def test_queued_offline_synced_through_a_flaky_network_and_a_kill_arrives_exactly_once(
        tmp_path: Path, world: World) -> None:
    phone = tmp_path / "phone"
    app = AppService(phone)
    assert app.login(world.base, world.users["worker_a"].username, PASSWORD).ok
    worker_id = world.users["worker_a"].id
    with Session(world.engine) as s:
        before = s.scalar(select(func.count()).select_from(Event).where(Event.reporter_id == worker_id))
    photo_files = [jpeg(tmp_path / "big.jpg", size=(480, 360), seed=999)]  # over the proxy's cut size
    photo_files += [jpeg(tmp_path / f"p{i}.jpg", seed=i) for i in range(1, PHOTOS)]
    made: list[str] = []
    t0 = time.monotonic()
    for i in range(EVENTS):  # offline: nothing here touches the network
        attach = [photo_files[i // 10]] if i % 10 == 0 else []
        made.append(app.report_event(category_code="sanitation.garbage", description=f"第{i}件", photos=attach,
                                     fix=cell_fix(0, 0, dx=(i % 50) / 100 - 0.25)))
    queued_s = time.monotonic() - t0
    keys = {q.local_id for q in app.queue_status() if q.kind == "photo"}
    assert len(keys) == PHOTOS
    app.close()

    with FlakyProxy(int(world.base.rsplit(":", 1)[1]), drop_every=7) as proxy:
        first = _sync(phone, proxy.url)
        deadline = time.monotonic() + 60
        while _sent(phone) < KILL_AFTER:
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()[0]
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        at_kill = _sent(phone)
        second = _sync(phone, proxy.url)
        out, _ = second.communicate(timeout=120)
        assert second.returncode == 0, out
    assert at_kill < EVENTS
    assert proxy.counts.lost and proxy.counts.unanswered and proxy.counts.cut_uploads == 1, proxy.counts

    with Session(world.engine) as s:
        rows = s.execute(select(Event.uuid, Event.photos).where(Event.reporter_id == worker_id)
                         .order_by(Event.id)).all()
        assert len(rows) == before + EVENTS
        uuids = [u for u, _ in rows if u in set(made)]
        assert uuids == made  # each once, in the order the worker made them
        photos_of = dict(rows)
        for i, uuid in enumerate(made):
            expected = 1 if i % 10 == 0 else 0
            assert len(photos_of[uuid]) == expected, (i, photos_of[uuid])
        assert {p for _, ps in rows for p in ps} == keys
        assert s.scalar(select(func.count()).select_from(Photo).where(Photo.sha256.in_(keys))) == PHOTOS
        links = Counter(s.execute(select(PhotoLink.sha256, PhotoLink.record_id)
                                  .where(PhotoLink.sha256.in_(keys))).all())
        assert set(links.values()) == {1} and len(links) == PHOTOS
    print(f"queued {EVENTS} events + {PHOTOS} photos in {queued_s:.1f}s; proxy {proxy.counts.requests} requests, "
          f"{proxy.counts.lost} lost, {proxy.counts.unanswered} unanswered, 1 upload cut; killed at {at_kill} sent")
