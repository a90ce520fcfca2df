"""paho-mqtt 2 wrappers: the ingester's persistent QoS 1 subscriber and a device-side publisher.

Why manual acks: paho acknowledges a QoS 1 message as soon as on_message returns, so a
message batched in memory and lost in a crash would already be acked and gone. Here the
broker's copy is released (PUBACK) only after the batch that holds it is committed; until
then a persistent session keeps it at the broker, which resends it after a reconnect or an
ingester restart (FACTS.md: paho keeps no state on disk). Acks are sent only on the
connection that received the message: after a reconnect the broker resends unacked
messages itself, and an old packet id could by then name another message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devices import topics
from devices.topics import Message

SUBSCRIBE_CHUNK = 1000  # topic filters per SUBSCRIBE packet (a shard subscribes one per device)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    client_id: str = "gridops-ingester"
    protocol: int = 5  # 5, or 311 for brokers without MQTT 5 (the embedded amqtt)
    keepalive: int = 30
    session_expiry_s: int = 7 * 86400  # how long the broker keeps the session (and queue) while we are away
    receive_maximum: int = 10_000  # MQTT 5: unacked messages the broker may send us at once
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0


@dataclass(frozen=True, slots=True)
class Received:
    """One message as the ingester sees it; `generation` counts connections, for the ack rule."""

    message: Message | None  # None: a topic outside the scheme
    topic: str
    payload: bytes
    mid: int
    qos: int
    dup: bool
    generation: int
    received_at: float  # time.time()


def make_client(config: MqttConfig, *, manual_ack: bool = False) -> mqtt.Client:
    v5 = config.protocol == 5
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=config.client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311, manual_ack=manual_ack,
        clean_session=None if v5 else False,
    )
    if config.username:
        client.username_pw_set(config.username, config.password)
    client.reconnect_delay_set(config.reconnect_min_s, config.reconnect_max_s)  # type: ignore[arg-type]
    return client


def connect_properties(config: MqttConfig) -> Properties | None:
    if config.protocol != 5:
        return None
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = config.session_expiry_s
    props.ReceiveMaximum = config.receive_maximum
    return props


class Subscriber:
    """Subscribes with QoS 1 on a persistent session (to gridops/v1/#, or a shard's device subtrees)
    and hands messages to `sink`."""

    def __init__(self, config: MqttConfig, sink: Callable[[Received], None],
                 filters: Iterable[str] = (topics.ALL,)) -> None:
        self.config = config
        self.sink = sink
        self.generation = 0
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # every filter acknowledged by the broker on this connection
        self.filters: list[str] = list(dict.fromkeys(filters))
        self._lock = threading.Lock()  # filters and the SUBSCRIBEs awaiting their SUBACK
        self._pending: set[int] = set()
        self.client = make_client(config, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._handler(None)  # anything under gridops/v1 outside the scheme
        for message in Message:
            self.client.message_callback_add(topics.message_filter(message), self._handler(message))

    def _on_connect(self, client: mqtt.Client, _userdata: object, flags: mqtt.ConnectFlags,
                    reason: mqtt.ReasonCode, _props: Properties | None) -> None:
        if reason.is_failure:
            log.error("MQTT connect refused: %s", reason)
            return
        self.generation += 1
        log.info("MQTT connected (session present: %s, connection %d)", flags.session_present, self.generation)
        # Subscribing here means a reconnect resubscribes even if the broker lost the session.
        with self._lock:
            self._pending.clear()
            self._subscribe(self.filters)
        self.connected.set()

    def add_filters(self, filters: Iterable[str]) -> int:
        """Subscribe to more (a shard's newly registered devices); how many were new."""
        with self._lock:
            known = set(self.filters)
            new = [f for f in dict.fromkeys(filters) if f not in known]
            self.filters.extend(new)
            if new and self.connected.is_set():
                self._subscribe(new)
        return len(new)

    def _subscribe(self, filters: list[str]) -> None:
        for i in range(0, len(filters), SUBSCRIBE_CHUNK):
            result, mid = self.client.subscribe([(f, 1) for f in filters[i:i + SUBSCRIBE_CHUNK]])
            if result == mqtt.MQTT_ERR_SUCCESS and mid is not None:
                self._pending.add(mid)
        if not self._pending:
            self.subscribed.set()

    def _on_subscribe(self, _client: mqtt.Client, _userdata: object, mid: int, *_args: object) -> None:
        with self._lock:
            self._pending.discard(mid)
            if not self._pending:
                self.subscribed.set()

    def _on_disconnect(self, _client: mqtt.Client, _userdata: object, _flags: object, reason: mqtt.ReasonCode,
                       _props: Properties | None) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if reason.value == 0:
            log.info("MQTT disconnected")
        else:
            log.warning("MQTT connection lost (%s); paho reconnects", reason)

    def _handler(self, message: Message | None) -> Callable[[mqtt.Client, object, mqtt.MQTTMessage], None]:
        def handle(_client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
            try:
                topic = msg.topic
            except UnicodeDecodeError:
                topic = repr(msg._topic)  # a topic that is not UTF-8: still dead-lettered
            self.sink(Received(message, topic, msg.payload, msg.mid, msg.qos, bool(msg.dup), self.generation,
                               time.time()))

        return handle

    def start(self) -> Subscriber:
        """Connect in the background: if the broker is down, paho keeps retrying."""
        self.client.connect_async(self.config.host, self.config.port, self.config.keepalive,
                                  clean_start=False if self.config.protocol == 5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
                                  properties=connect_properties(self.config))
        self.client.loop_start()
        return self

    def ack(self, batch: list[Received]) -> int:
        """PUBACK the messages of a committed batch that arrived on the current connection."""
        sent = 0
        for r in batch:
            if r.qos > 0 and r.generation == self.generation:
                self.client.ack(r.mid, r.qos)
                sent += 1
        return sent

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Publisher:
    """A device-side QoS 1 publisher; messages published while disconnected are sent on reconnect."""

    def __init__(self, config: MqttConfig, *, will: tuple[str, bytes] | None = None,
                 max_inflight: int = 1000) -> None:
        self.config = config
        self.connected = threading.Event()
        self.client = make_client(config)
        self.client.max_inflight_messages_set(max_inflight)
        self.client.max_queued_messages_set(0)
        if will:
            self.client.will_set(will[0], will[1], qos=1)
        self.client.on_connect = lambda *_a: self.connected.set()
        self.client.on_disconnect = lambda *_a: self.connected.clear()

    def start(self, wait: float | None = 10.0) -> Publisher:
        props = None
        if self.config.protocol == 5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.config.session_expiry_s
        self.client.connect_async(self.config.host, self.config.port, self.config.keepalive,
                                  clean_start=False if self.config.protocol == 5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
                                  properties=props)
        self.client.loop_start()
        if wait and not self.connected.wait(wait):
            raise TimeoutError(f"cannot connect to MQTT broker {self.config.host}:{self.config.port}")
        return self

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=qos)

    def stop(self, *, graceful: bool = True) -> None:
        """graceful=False drops the connection without DISCONNECT, so the broker sends the will."""
        if graceful:
            self.client.disconnect()
        else:
            sock = self.client.socket()
            if sock is not None:
                sock.close()
        self.client.loop_stop()
