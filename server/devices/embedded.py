"""The demo set-up inside `gridops serve`: an amqtt broker, the ingester, and a small simulated
fleet, so devices and online rates show live data with nothing installed. amqtt speaks MQTT
3.1.1 only and leaks memory over many connects (FACTS.md): production runs Mosquitto and
`gridops devices ingest` with GRIDOPS_MQTT_EMBEDDED=false."""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass

from devices.broker import EmbeddedBroker
from devices.client import MqttConfig
from devices.simulator import SimConfig, Simulator
from server.config import Settings
from server.database.core import get_sessionmaker
from server.database.types import utcnow
from server.devices import runner
from server.devices.fleet import DEMO_PREFIX, register_fleet

log = logging.getLogger(__name__)


@dataclass
class Embedded:
    broker: EmbeddedBroker | None
    ingest: runner.IngestService
    simulator: Simulator | None
    stop_event: threading.Event

    def stop(self) -> None:
        self.stop_event.set()
        if self.simulator:
            self.simulator.close(timeout=5)
        self.ingest.stop()
        if self.broker:
            self.broker.stop()


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _demo_fleet(settings: Settings, stop: threading.Event) -> Simulator | None:
    if settings.demo_devices <= 0:
        return None
    with get_sessionmaker()() as db_session:
        added = register_fleet(db_session=db_session, count=settings.demo_devices, prefix=DEMO_PREFIX, now=utcnow())
        db_session.commit()
    log.info("demo fleet: %d devices (%d newly registered)", settings.demo_devices, added)
    mqtt = MqttConfig(host=settings.mqtt_host, port=settings.mqtt_port, protocol=311, client_id="gridops-demo-sim")
    sim = Simulator(SimConfig(count=settings.demo_devices, interval_s=60, prefix=DEMO_PREFIX, connections=1), mqtt)
    threading.Thread(target=sim.run, args=(stop,), name="gridops-demo-sim", daemon=True).start()
    return sim


def start(settings: Settings) -> Embedded:
    logging.getLogger("transitions").setLevel(logging.WARNING)  # amqtt's state machine logs every step
    broker = None
    if _port_free(settings.mqtt_host, settings.mqtt_port):
        broker = EmbeddedBroker(settings.mqtt_host, settings.mqtt_port).start()
        log.info("embedded MQTT broker (amqtt) on %s:%d", settings.mqtt_host, settings.mqtt_port)
    else:
        log.warning("port %d is taken: using the MQTT broker already listening there", settings.mqtt_port)
    ingest = runner.start(get_sessionmaker(), runner.mqtt_config(settings, protocol=311),
                          runner.ingest_config(settings))
    stop = threading.Event()
    return Embedded(broker, ingest, _demo_fleet(settings, stop), stop)
