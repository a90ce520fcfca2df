"""The simulator's fleet, rate, outages and payloads (published into a list here, not a broker)."""

from __future__ import annotations

from collections import Counter

from devices import payloads, topics
from devices.client import MqttConfig
from devices.codes import DeviceKind
from devices.simulator import SimConfig, Simulator, fleet


def test_fleet_mix_and_codes() -> None:
    f = fleet(20_000)
    kinds = Counter(k for _, k in f)
    assert len(f) == 20_000 and len({c for c, _ in f}) == 20_000
    assert kinds[DeviceKind.camera] == 14_000 and kinds[DeviceKind.access_controller] == 4_000
    assert f[0][0] == "SIM-C000000" and all(topics.topic(k, c, "heartbeat") for c, k in f[:10])


def test_rounds_publish_valid_messages_with_outages() -> None:
    sent: list[tuple[str, bytes]] = []
    sim = Simulator(SimConfig(count=500, interval_s=60, outage_share=0.2, door_probability=0.5), MqttConfig(),
                    publish=lambda _i, t, p: sent.append((t, p)))
    for round_ in range(20):
        for i in range(500):
            sim.tick(i, round_)
    per_type = Counter(t.rsplit("/", 1)[1] for t, _ in sent)
    assert per_type["heartbeat"] > 500 * 20 * 0.7 and per_type["status"] > 0
    assert per_type["door"] + per_type["card"] > 0
    seqs: dict[str, int] = {}
    for name, raw in sent:
        parsed = topics.parse(name)
        p = payloads.parse(parsed.message, raw)
        assert p.device == parsed.device_code and p.seq > seqs.get(p.device, 0)
        seqs[p.device] = p.seq


def test_run_keeps_the_rate() -> None:
    sent: list[str] = []
    sim = Simulator(SimConfig(count=2_000, interval_s=1, duration_s=0.5, outage_share=0, door_probability=0),
                    MqttConfig(), publish=lambda _i, t, _p: sent.append(t))
    stats = sim.run()
    assert 900 <= len(sent) <= 1_100 and stats.total == len(sent)
