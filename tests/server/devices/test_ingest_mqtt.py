"""The ingester against a real Mosquitto: ACL per device, broker restart, 10,000 bad payloads.

Each test starts its own broker on a free loopback port (config, persistence and log in
tmp_path) and stops it; the ingester commits to a database of its own.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import func, select

from devices import credentials, topics
from devices.broker import Mosquitto, mosquitto_binary
from devices.client import MqttConfig, Publisher
from devices.codes import DeviceKind
from devices.shards import Shard
from server.devices import runner, service
from server.devices.ingester import IngestConfig
from server.devices.models import DeadLetter, DeviceState
from tests.conftest import subprocess_now
from tests.server.devices.conftest import register

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto not installed (apt-get install mosquitto)")
_ids = itertools.count()


def heartbeat(code: str, seq: int, kind: str = "camera", *, real_clock: bool = False) -> tuple[str, bytes]:
    """`real_clock` for an ingester in another process, which runs on its own clock, not the suite's."""
    now = subprocess_now() if real_clock else datetime.now(UTC)
    body = {"v": 1, "device": code, "ts": now.isoformat(), "seq": seq}
    return topics.topic(kind, code, "heartbeat"), json.dumps(body).encode()


def publisher(broker: Mosquitto, **kw: object) -> Publisher:
    return Publisher(MqttConfig(port=broker.port, client_id=f"pub-{next(_ids)}", reconnect_min_s=0.2,
                                reconnect_max_s=1, **kw)).start()  # type: ignore[arg-type]


def ingest(broker: Mosquitto, factory, **kw: object) -> runner.IngestService:  # type: ignore[no-untyped-def]
    mqtt_cfg = MqttConfig(port=broker.port, client_id="gridops-ingester", reconnect_min_s=0.2, reconnect_max_s=1,
                          **kw)  # type: ignore[arg-type]
    service_ = runner.start(factory, mqtt_cfg, IngestConfig(batch_interval_s=0.05, sweep_interval_s=3600))
    assert service_.subscriber.subscribed.wait(10), broker.log()
    return service_


def wait_for(predicate, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def heartbeats(factory) -> int:  # type: ignore[no-untyped-def]
    with factory() as db:
        return int(db.scalar(select(func.coalesce(func.sum(DeviceState.heartbeats), 0))))


def dead(factory) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with factory() as db:
        return dict(db.execute(select(DeadLetter.reason, func.count()).group_by(DeadLetter.reason)).all())


def test_broker_restart_mid_stream_loses_no_qos1_message(tmp_path: Path, ingest_db) -> None:  # type: ignore[no-untyped-def]
    codes = [f"CAM{i:03d}" for i in range(50)]
    register(ingest_db, *[(c, DeviceKind.camera) for c in codes])
    with Mosquitto(tmp_path / "broker") as broker:
        svc = ingest(broker, ingest_db)
        pub = publisher(broker)
        total = 0
        for round_ in range(40):
            for c in codes:
                pub.publish(*heartbeat(c, round_))
                total += 1
            if round_ == 15:
                broker.restart(downtime=0.5)  # the publisher queues meanwhile; both reconnect
            time.sleep(0.01)
        assert wait_for(lambda: heartbeats(ingest_db) >= total, 60), (heartbeats(ingest_db), total, broker.log())
        time.sleep(0.5)
        svc.stop()
        pub.stop()
    assert heartbeats(ingest_db) == total  # none lost, none counted twice
    assert set(dead(ingest_db)) <= {"duplicate", "replayed"}  # redeliveries are recognised, not counted


def test_ten_thousand_malformed_payloads(tmp_path: Path, ingest_db) -> None:  # type: ignore[no-untyped-def]
    register(ingest_db, ("CAM1", DeviceKind.camera))
    bad_bodies = [b"{", b"", b"\xff\xfe", b"[]", b'{"v": 9}', b'{"v":1,"device":"CAM1","ts":"now","seq":1}',
                  b'{"v":1,"device":"CAM1","ts":"2026-01-01T00:00:00Z","seq":"x"}', b"null", b"1e999"]
    with Mosquitto(tmp_path / "broker") as broker:
        svc = ingest(broker, ingest_db)
        pub = publisher(broker)
        for i in range(10_000):
            if i % 10 == 9:
                pub.publish(topics.topic("camera", f"GHOST{i}", "heartbeat"), b"{}")  # unknown device
            else:
                pub.publish(topics.topic("camera", "CAM1", "heartbeat"), bad_bodies[i % len(bad_bodies)])
        assert wait_for(lambda: sum(dead(ingest_db).values()) >= 10_000, 120), dead(ingest_db)
        pub.publish(*heartbeat("CAM1", 1))  # still alive and well
        assert wait_for(lambda: heartbeats(ingest_db) == 1)
        assert svc.ingester._thread is not None and svc.ingester._thread.is_alive()
        svc.stop()
        pub.stop()
    counts = dead(ingest_db)
    assert sum(counts.values()) == 10_000
    assert counts["unknown_device"] == 1000 and counts["malformed_json"] > 0 and counts["invalid_payload"] > 0


def connack(port: int, username: str, password: str) -> mqtt.ReasonCode:
    """The broker's answer to a CONNECT with these credentials."""
    answers: list[mqtt.ReasonCode] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{next(_ids)}", protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)
    client.on_connect = lambda _c, _u, _f, reason, _p: answers.append(reason)
    client.connect("127.0.0.1", port)
    deadline = time.monotonic() + 5
    while not answers and time.monotonic() < deadline:
        client.loop(timeout=0.1)
    client.disconnect()
    assert answers, "no CONNACK"
    return answers[0]


def _auth_broker(tmp_path: Path, factory) -> tuple[Mosquitto, dict[str, str]]:  # type: ignore[no-untyped-def]
    """Mosquitto with a password_file written from the registry and the documented ACL."""
    secrets = {}
    with factory() as db:
        for code in ("CAM1", "CAM2"):
            secrets[code] = service.rotate_secret(db_session=db, device=service.get_by_code(db_session=db, code=code))
        db.commit()
        entries = service.password_entries(db_session=db)
    secrets["gridops-ingester"] = "ingester-secret"
    entries.append(("gridops-ingester", credentials.hash_secret("ingester-secret")))
    folder = tmp_path / "broker"
    folder.mkdir()
    (folder / "passwd").write_text(credentials.password_file(entries))
    (folder / "acl").write_text("\n".join(topics.acl_lines()) + "\n")
    return Mosquitto(folder, password_file=folder / "passwd", acl_file=folder / "acl"), secrets


def test_devices_publish_only_on_their_own_topics(tmp_path: Path, ingest_db) -> None:  # type: ignore[no-untyped-def]
    register(ingest_db, ("CAM1", DeviceKind.camera), ("CAM2", DeviceKind.camera))
    broker, secrets = _auth_broker(tmp_path, ingest_db)
    with broker:
        svc = ingest(broker, ingest_db, username="gridops-ingester", password=secrets["gridops-ingester"])
        cam1 = publisher(broker, username="CAM1", password=secrets["CAM1"])
        cam1.publish(*heartbeat("CAM2", 1))  # CAM1 pretending to be CAM2: the ACL refuses it (PUBACK rc 135)
        time.sleep(0.3)  # paho drops the connection on that refusal and reconnects
        cam1.publish(*heartbeat("CAM1", 1))
        assert wait_for(lambda: heartbeats(ingest_db) == 1)
        time.sleep(0.3)
        with ingest_db() as db:
            assert db.scalar(select(DeviceState.heartbeats).join(DeviceState.device)
                             .where(service.Device.code == "CAM2")) == 0
        assert connack(broker.port, "CAM2", "wrong-secret").is_failure
        assert connack(broker.port, "CAM2", secrets["CAM2"]).value == 0
        assert dead(ingest_db) == {}  # the forged message never reached the ingester
        svc.stop()
        cam1.stop()


def _ingest_process(url: str, port: int, *args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GRIDOPS_DATABASE_URL": url, "GRIDOPS_MQTT_PORT": str(port), "GRIDOPS_INGEST_BATCH_MS": "50"}
    return subprocess.Popen([sys.executable, "-m", "server.cli.main", "devices", "ingest", "--report-every", "1",
                             "--no-card-sync", *args], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=log.open("wb") if log else subprocess.DEVNULL)


def test_ingester_killed_mid_stream_resumes_without_double_counting(tmp_path: Path, ingest_db,  # type: ignore[no-untyped-def]
                                                                    ingest_engine) -> None:
    """SIGKILL `gridops devices ingest` while it holds uncommitted and unacknowledged messages;
    the broker keeps them for the persistent session and the next ingester counts each once."""
    codes = [f"CAM{i:03d}" for i in range(100)]
    register(ingest_db, *[(c, DeviceKind.camera) for c in codes])
    url = ingest_engine.url.render_as_string(hide_password=False)
    with Mosquitto(tmp_path / "broker", extra=["log_type subscribe"]) as broker:
        first = _ingest_process(url, broker.port)
        # subscribed, not only connected: what is published before the session has its
        # subscription reaches nobody (MQTT), which is no loss of the ingester's
        assert wait_for(lambda: f"gridops-ingester 1 {topics.ALL}" in broker.log(), 30), broker.log()
        pub = publisher(broker)
        total = 0
        for round_ in range(30):
            for c in codes:
                pub.publish(*heartbeat(c, round_, real_clock=True))
                total += 1
            if round_ == 10:
                assert wait_for(lambda: heartbeats(ingest_db) > 0, 30)
                first.kill()  # mid-stream, no clean shutdown
                first.wait()
            time.sleep(0.02)
        assert heartbeats(ingest_db) < total
        second = _ingest_process(url, broker.port)
        try:
            assert wait_for(lambda: heartbeats(ingest_db) >= total, 60), (heartbeats(ingest_db), total)
            time.sleep(1.0)  # anything further would be a double count
        finally:
            second.terminate()
            second.wait(30)
            pub.stop()
    assert heartbeats(ingest_db) == total
    assert set(dead(ingest_db)) <= {"duplicate"}


def test_two_shards_and_a_standby_count_every_heartbeat_once(tmp_path: Path, ingest_db,  # type: ignore[no-untyped-def]
                                                              ingest_engine) -> None:
    """Shards 1/2 and 2/2 as processes, each subscribed to its own devices' topics only, and a
    second copy of 1/2 that waits as a hot standby (the shard's lock is in the database); SIGKILL
    shard 1 mid-stream: the standby takes its lock and its MQTT session, every heartbeat is counted
    once, and no shard was sent another's messages."""
    codes = [f"CAM{i:03d}" for i in range(40)]
    register(ingest_db, *[(c, DeviceKind.camera) for c in codes])
    url = ingest_engine.url.render_as_string(hide_password=False)
    logs = {name: tmp_path / f"{name}.log" for name in ("first", "second", "spare")}
    with Mosquitto(tmp_path / "broker", extra=["log_type subscribe"]) as broker:
        first = _ingest_process(url, broker.port, "--shard", "1/2", log=logs["first"])
        second = _ingest_process(url, broker.port, "--shard", "2/2", log=logs["second"])
        for k in (1, 2):
            mine = [topics.device_filter(c) for c in codes if Shard(k, 2).owns(c)]
            assert wait_for(lambda: all(f"gridops-ingester-{k}of2 1 {f}" in broker.log() for f in mine), 30), \
                broker.log()
        assert topics.ALL not in broker.log()
        spare = _ingest_process(url, broker.port, "--shard", "1/2", log=logs["spare"])
        assert wait_for(lambda: "hot standby" in logs["spare"].read_text(errors="replace"), 60)
        assert broker.log().count(" as gridops-ingester-1of2 ") == 1  # the standby has not connected
        pub = publisher(broker)
        total = 0
        try:
            for round_ in range(20):
                for c in codes:
                    pub.publish(*heartbeat(c, round_, real_clock=True))
                    total += 1
                if round_ == 8:
                    assert wait_for(lambda: heartbeats(ingest_db) > 0, 30)
                    first.kill()
                    first.wait()
                time.sleep(0.02)
            assert wait_for(lambda: heartbeats(ingest_db) >= total, 90), (heartbeats(ingest_db), total)
            time.sleep(1.5)  # anything further would be a double count; and one more counter line
        finally:
            for proc in (second, spare):
                proc.terminate()
                proc.wait(30)
            pub.stop()
    assert heartbeats(ingest_db) == total
    assert set(dead(ingest_db)) <= {"duplicate"}
    for name in ("second", "spare"):
        counters = [line for line in logs[name].read_text().splitlines() if "other shards" in line]
        assert counters and counters[-1].split("other shards ")[1].startswith("0)"), counters[-1:]
