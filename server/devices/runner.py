"""Wiring of the ingester service: subscriber → ingester → database, with clean start and stop."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from devices import topics
from devices.client import MqttConfig, Subscriber
from devices.shards import EVERY_DEVICE, Shard
from server.config import Settings
from server.devices.ingester import IngestConfig, Ingester

log = logging.getLogger(__name__)


def mqtt_config(settings: Settings, **overrides: object) -> MqttConfig:
    fields: dict[str, object] = {
        "host": settings.mqtt_host, "port": settings.mqtt_port, "username": settings.mqtt_username,
        "password": settings.mqtt_password.get_secret_value() if settings.mqtt_password else None,
        "client_id": settings.mqtt_client_id, "protocol": settings.mqtt_protocol,
    }
    fields.update(overrides)
    return MqttConfig(**fields)  # type: ignore[arg-type]


def ingest_config(settings: Settings, **overrides: object) -> IngestConfig:
    fields: dict[str, object] = {
        "batch_size": settings.ingest_batch_size, "batch_interval_s": settings.ingest_batch_ms / 1000,
        "tolerance": settings.device_tolerance, "max_skew_s": settings.device_max_skew_s,
        "max_age_s": settings.device_max_age_s,
    }
    fields.update(overrides)
    return IngestConfig(**fields)  # type: ignore[arg-type]


@dataclass
class IngestService:
    ingester: Ingester
    subscriber: Subscriber

    def stop(self) -> None:
        """Commit and acknowledge the batch in hand, then disconnect; the rest stays with the broker."""
        self.ingester.stop()
        self.subscriber.stop()


def start(session_factory: sessionmaker[Session], mqtt: MqttConfig, config: IngestConfig,
          shard: Shard = EVERY_DEVICE) -> IngestService:
    ingester = Ingester(session_factory, config, shard=shard)
    subscriber = Subscriber(mqtt, ingester.submit, shard.filters(()))
    ingester.ack = subscriber.ack
    ingester.registry.on_load = lambda codes: subscriber.add_filters(shard.filters(codes))  # devices registered later
    ingester.start()
    subscriber.start()
    log.info("ingesting %s from %s:%d as %s", topics.ALL if shard.count == 1 else
             f"shard {shard}: {len(subscriber.filters)} devices' topics", mqtt.host, mqtt.port, mqtt.client_id)
    return IngestService(ingester, subscriber)
