"""Benchmark MQTT ingestion: simulator → Mosquitto → ingester → database, batched vs naive.

Run:  .venv/bin/python bench/bench_ingest.py [--count 20000] [--intervals 60 5] [--duration 30]
                                             [--db-url postgresql+psycopg://…]

For each heartbeat interval, a simulated fleet of `--count` devices publishes for `--duration`
seconds (count / interval heartbeats per second, plus door and card events) from its own
process through a private Mosquitto (QoS 1, loopback) to the ingester in this process, once
with the batched ingester and once with the naive baseline (one transaction and one commit
per message, the same checks); `--modes ... shard` adds the batched ingester as shard 1 of 2
(`gridops devices ingest --shard 1/2`: subscribed to its half of the fleet's topics only), whose
CPU against the batched run's says what sharding saves; its "offered" is its share of the fleet's
messages (the simulator's count times the share of devices it owns). Printed per run: messages offered and ingested per second,
end-to-end lag (device timestamp → database commit) p50/p95 of heartbeats, the backlog left
when the window closed, and CPU seconds of ingester, broker and simulator.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devices.broker import Mosquitto  # noqa: E402
from devices.client import MqttConfig  # noqa: E402
from devices.shards import EVERY_DEVICE, Shard  # noqa: E402
from server.database.core import make_engine  # noqa: E402
from server.database.migrate import upgrade  # noqa: E402
from server.devices import runner  # noqa: E402
from server.devices.fleet import register_fleet  # noqa: E402
from server.devices.ingester import IngestConfig  # noqa: E402

RESET = ["DELETE FROM device_status_interval", "DELETE FROM device_dead_letter", "DELETE FROM device_door_event",
         "DELETE FROM device_card_event", "DELETE FROM device_alarm",
         "UPDATE device_state SET status='unknown', status_since=NULL, online_until=NULL, last_seen_at=NULL, "
         "last_ts=NULL, last_seq=NULL, heartbeats=0, messages=0, recent_keys=NULL"]


@dataclass
class Result:
    mode: str
    interval: float
    offered: int
    seconds: float
    ingested: int
    backlog: int
    lag_p50: float
    lag_p95: float
    cpu: dict[str, float]
    dead: int
    other_shard: int


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--count", type=int, default=20_000, help="simulated devices")
    p.add_argument("--intervals", type=float, nargs="+", default=[60.0, 5.0], help="heartbeat intervals, s")
    p.add_argument("--duration", type=float, default=30.0, help="seconds of publishing per run")
    p.add_argument("--drain", type=float, default=30.0, help="seconds allowed after publishing to catch up")
    p.add_argument("--connections", type=int, default=4, help="simulator MQTT connections")
    p.add_argument("--db-url", help="database (default: a fresh SpatiaLite file in a temp folder)")
    p.add_argument("--modes", nargs="+", default=["batched", "naive"], choices=["batched", "naive", "shard"])
    return p.parse_args()


def _simulator(port: int, args: argparse.Namespace, interval: float, mode: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GRIDOPS_DATABASE_URL": "sqlite:///unused.db"}
    cmd = [sys.executable, "-m", "server.cli.main", "devices", "simulate", "--port", str(port), "--protocol", "5",
           "--count", str(args.count), "--interval", str(interval), "--duration", str(args.duration),
           "--connections", str(args.connections), "--outage-share", "0", "--prefix", "SIM"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def _published(sim: subprocess.Popen[bytes]) -> int:
    out = sim.communicate(timeout=120)[0].decode()
    for line in out.splitlines():
        if line.startswith("published "):
            return int(line.split()[1])
    raise RuntimeError(f"simulator said: {out}")


def run_once(factory: sessionmaker, broker: Mosquitto, args: argparse.Namespace, interval: float,
             mode: str) -> Result:
    with factory() as db:
        for sql in RESET:
            db.execute(text(sql))
        db.commit()
    config = (IngestConfig(batch_size=1, batch_interval_s=0.001, sweep_interval_s=3600) if mode == "naive"
              else IngestConfig(sweep_interval_s=3600))
    mqtt = MqttConfig(port=broker.port, client_id=f"bench-{mode}-{interval}")
    shard = Shard(1, 2) if mode == "shard" else EVERY_DEVICE
    svc = runner.start(factory, mqtt, config, shard)
    svc.subscriber.subscribed.wait(10)
    me, mosq = psutil.Process(), psutil.Process(broker.process.pid)  # type: ignore[union-attr]
    cpu0 = {"ingester": _cpu(me), "broker": _cpu(mosq)}
    start = time.monotonic()
    sim = _simulator(broker.port, args, interval, mode)
    sim_ps = psutil.Process(sim.pid)
    sim_cpu = 0.0
    while sim.poll() is None:
        try:
            sim_cpu = _cpu(sim_ps)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    offered = _published(sim)
    if mode == "shard":  # the broker sends it its own devices' messages only: about its share of the fleet
        offered = round(offered * len(svc.ingester.registry.by_code) / args.count)
    deadline = time.monotonic() + args.drain
    stats = svc.ingester.stats
    while stats.processed + stats.other_shard < offered and time.monotonic() < deadline:
        time.sleep(0.05)
    ingested = stats.processed + stats.other_shard  # read or, by another shard's, acknowledged unread
    # busy time: first message received → last batch committed (the simulator's start-up excluded)
    seconds = (stats.last_commit or 0) - (stats.first_received or 0) or time.monotonic() - start
    cpu = {"ingester": _cpu(me) - cpu0["ingester"], "broker": _cpu(mosq) - cpu0["broker"], "simulator": sim_cpu}
    lags = sorted(stats.lags)
    svc.stop()
    q = statistics.quantiles(lags, n=100) if len(lags) > 1 else [float("nan")] * 99
    return Result(mode, interval, offered, seconds, ingested, offered - ingested, q[49], q[94], cpu,
                  sum(stats.dead.values()), stats.other_shard)


def report(r: Result, duration: float) -> None:
    rate_in = r.ingested / r.seconds
    print(f"  {r.mode:8s} offered {r.offered:7d} msgs ({r.offered / duration:6.0f}/s) | ingested {r.ingested:7d} in "
          f"{r.seconds:5.1f} s = {rate_in:6.0f} msgs/s | backlog {r.backlog:6d} | lag p50 {r.lag_p50:6.2f} s "
          f"p95 {r.lag_p95:6.2f} s | CPU s: ingester {r.cpu['ingester']:5.1f}, broker {r.cpu['broker']:4.1f}, "
          f"simulator {r.cpu['simulator']:4.1f} | dead letters {r.dead}"
          + (f" | other shard's, acknowledged unread {r.other_shard}" if r.mode == "shard" else ""))


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        with factory() as db:
            added = register_fleet(db_session=db, count=args.count, prefix="SIM", now=datetime.now(UTC))
            db.commit()
        print(f"gridops ingest benchmark: {args.count} devices ({added} registered now), {args.duration:.0f} s windows; "
              f"{engine.dialect.name} ({url.split('@')[-1]}); Python {platform.python_version()}, "
              f"{os.cpu_count()} CPUs, Mosquitto {broker_version()}")
        with Mosquitto(Path(tmp) / "broker") as broker:
            for interval in args.intervals:
                print(f"{args.count} devices every {interval:g} s → {args.count / interval:.0f} heartbeats/s "
                      "(+ door/card events)")
                for mode in args.modes:
                    report(run_once(factory, broker, args, interval, mode), args.duration)
        engine.dispose()


def broker_version() -> str:
    from devices.broker import mosquitto_binary

    binary = mosquitto_binary()
    if not binary:
        return "missing"
    out = subprocess.run([binary, "-h"], capture_output=True, text=True).stdout
    return out.split("version")[1].split()[0] if "version" in out else "?"


if __name__ == "__main__":
    main()
