"""A fleet simulator: heartbeats, outages and door/card events from many devices at once.

Devices are spread evenly over the heartbeat interval (phases in a shuffled order), so the fleet
publishes `count / interval` heartbeats per second as a steady stream. Each device's messages
carry its own `seq`. Outages: at any moment about `outage_share` of the devices are silent for
3–10 intervals; half of the outages start with an explicit offline status (a clean shutdown),
the others are just silence (the ingester's sweep finds them); every outage ends with an
online status. Access controllers report door events and card swipes, and now and then a card
issued or revoked. Publishing goes through a few shared connections with the simulator's own
account (ACL: `topic write gridops/v1/#`), never in production.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from devices import topics
from devices.client import MqttConfig, Publisher
from devices.codes import DeviceKind

MIX = ((DeviceKind.camera, 0.70), (DeviceKind.access_controller, 0.20), (DeviceKind.link, 0.05),
       (DeviceKind.terminal, 0.05))
LETTER = {DeviceKind.camera: "C", DeviceKind.access_controller: "A", DeviceKind.link: "L", DeviceKind.terminal: "T"}


def fleet(count: int, prefix: str = "SIM") -> list[tuple[str, DeviceKind]]:
    """Deterministic codes and kinds: SIM-C000001 … by the kind mix."""
    out, start = [], 0
    for i, (kind, share) in enumerate(MIX):
        n = count - start if i == len(MIX) - 1 else round(count * share)
        out += [(f"{prefix}-{LETTER[kind]}{j:06d}", kind) for j in range(start, start + n)]
        start += n
    return out


@dataclass
class SimConfig:
    count: int = 20_000
    interval_s: float = 60.0
    duration_s: float | None = None  # None: until stopped
    prefix: str = "SIM"
    outage_share: float = 0.02
    door_probability: float = 0.3  # per access-controller heartbeat
    connections: int = 4
    seed: int = 2026


@dataclass
class _Device:
    code: str
    kind: DeviceKind
    seq: int = 0
    down_until: int = -1  # heartbeat round at which the outage ends


@dataclass
class SimStats:
    published: Counter[str] = field(default_factory=Counter)
    started: float = 0.0
    stopped: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.published.values())


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Simulator:
    def __init__(self, config: SimConfig, mqtt: MqttConfig,
                 publish: Callable[[int, str, bytes], None] | None = None) -> None:
        self.config = config
        self.mqtt = mqtt
        self.rng = random.Random(config.seed)
        self.devices = [_Device(code, kind) for code, kind in fleet(config.count, config.prefix)]
        self.rng.shuffle(self.devices)  # phases: kinds mixed over the interval, not cameras first
        self.stats = SimStats()
        self._pool: list[Publisher] = []
        self._publish = publish or self._mqtt_publish

    def _mqtt_publish(self, i: int, topic: str, payload: bytes) -> None:
        self._pool[i % len(self._pool)].publish(topic, payload)

    def _send(self, i: int, d: _Device, message: str, extra: str = "") -> None:
        d.seq += 1
        body = f'{{"v":1,"device":"{d.code}","ts":"{_now()}","seq":{d.seq}{extra}}}'
        self._publish(i, topics.topic(d.kind, d.code, message), body.encode())
        self.stats.published[message] += 1

    def _access_events(self, i: int, d: _Device) -> None:
        card = f"{d.code[-6:]}{self.rng.randrange(40):02d}"
        r = self.rng.random()
        if r < 0.02:
            self._send(i, d, "card", f',"card_no":"{card}","action":"{self.rng.choice(["issued", "revoked"])}"')
        elif r < 0.5:
            self._send(i, d, "card", f',"card_no":"{card}","action":"entry"')
        else:
            self._send(i, d, "door", f',"door":"main","event":"{self.rng.choice(["opened", "closed"])}"')

    def tick(self, i: int, round_: int) -> None:
        """Device i's heartbeat time in heartbeat round `round_`."""
        d = self.devices[i]
        if round_ < d.down_until:
            return
        if round_ == d.down_until:
            self._send(i, d, "status", ',"status":"online"')
        elif self.rng.random() < self.config.outage_share / 6.5:  # mean outage 6.5 intervals
            d.down_until = round_ + self.rng.randint(3, 10)
            if self.rng.random() < 0.5:
                self._send(i, d, "status", ',"status":"offline","reason":"shutdown"')
            return
        self._send(i, d, "heartbeat", ',"uptime_s":%d' % (round_ * self.config.interval_s))
        if d.kind is DeviceKind.access_controller and self.rng.random() < self.config.door_probability:
            self._access_events(i, d)

    def connect(self) -> None:
        for n in range(self.config.connections):
            cfg = MqttConfig(**{**self.mqtt.__dict__, "client_id": f"{self.mqtt.client_id}-{n}"})
            self._pool.append(Publisher(cfg, max_inflight=10_000).start())

    def run(self, stop: threading.Event | None = None) -> SimStats:
        """Publish at count / interval heartbeats per second until duration or `stop`."""
        stop = stop or threading.Event()
        if not self._pool and self._publish == self._mqtt_publish:
            self.connect()
        rate = self.config.count / self.config.interval_s
        self.stats.started = start = time.monotonic()
        done = 0
        while not stop.is_set():
            elapsed = time.monotonic() - start
            if self.config.duration_s is not None and elapsed >= self.config.duration_s:
                break
            due = int(elapsed * rate)
            while done < due:
                self.tick(done % self.config.count, done // self.config.count)
                done += 1
            stop.wait(0.005)
        self.stats.stopped = time.monotonic()
        return self.stats

    def close(self, timeout: float = 30.0) -> None:
        """Wait until the broker has everything (QoS 1 acknowledged), then disconnect."""
        deadline = time.monotonic() + timeout
        for p in self._pool:
            while p.client._out_messages and time.monotonic() < deadline:  # noqa: SLF001 - paho has no public count
                time.sleep(0.02)
            p.stop()
        self._pool.clear()
