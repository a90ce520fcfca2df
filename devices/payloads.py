"""JSON payloads of the topic scheme, version 1, as pydantic models (and JSON Schema files).

Every payload carries `v` (schema version), `device` (must equal the topic's device code),
`ts` (RFC 3339 with an offset: when the device produced it) and `seq` (a per-device counter).
The ingester orders a device's messages by (ts, seq): a message not after the last accepted
one is a replay or a QoS 1 redelivery. A reboot may reset `seq`; `ts` still moves on.
Unknown extra fields are ignored (devices may send more); types are checked strictly (a
number sent as a string is refused, not coerced), because a device that gets a type wrong
gets other things wrong too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from devices.topics import Message

SCHEMA_VERSION = 1
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Short = Annotated[str, StringConstraints(max_length=64)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    v: Literal[1] = Field(description="schema version; this is version 1")
    device: Code = Field(description="device code; must equal the device code in the topic")
    ts: AwareDatetime = Field(description="when the device produced the message, RFC 3339 with offset")
    seq: int = Field(ge=0, le=2**53, description="per-device counter; may restart at 0 after a reboot")


class Heartbeat(Payload):
    """Sent every heartbeat interval; the device is online while they keep arriving."""

    uptime_s: int | None = Field(default=None, ge=0)
    rssi_dbm: int | None = Field(default=None, ge=-150, le=0)
    firmware: Short | None = None


class Status(Payload):
    """Explicit online/offline. As the Last Will, set `will: true`: its `ts` is the connect time,
    so the ingester dates a will by its arrival instead."""

    status: Literal["online", "offline"]
    will: bool = False
    reason: Short | None = None


class Alarm(Payload):
    alarm_type: Short = Field(description="video_loss, tamper, disk_error, intrusion, power …")
    level: Literal["info", "warning", "critical"] = "warning"
    detail: Annotated[str, StringConstraints(max_length=512)] | None = None


class Door(Payload):
    """Access controllers only: the state of a door."""

    door: Short = Field(description="door id on this controller, e.g. 'main'")
    event: Literal["opened", "closed", "forced", "held_open"]
    card_no: Short | None = None


class Card(Payload):
    """Access controllers only: card lifecycle and swipes (the tenant register builds on these)."""

    card_no: Short
    action: Literal["issued", "revoked", "entry", "denied"]


MODELS: dict[Message, type[Payload]] = {
    Message.heartbeat: Heartbeat, Message.status: Status, Message.alarm: Alarm,
    Message.door: Door, Message.card: Card,
}


class PayloadError(ValueError):
    """A payload the ingester refuses; `reason` is the dead-letter reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _reason(exc: ValidationError) -> PayloadError:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    if first["type"] in ("json_invalid", "json_type"):
        return PayloadError("malformed_json", first["msg"])
    if first["loc"] == ("v",):
        return PayloadError("unsupported_version", f"v must be {SCHEMA_VERSION}: {first['msg']}")
    detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in errors[:5])
    return PayloadError("invalid_payload", detail)


def parse(message: Message, raw: bytes) -> Payload:
    """Validate raw JSON bytes as `message`; PayloadError with a dead-letter reason otherwise."""
    try:
        return MODELS[message].model_validate_json(raw)
    except ValidationError as exc:
        raise _reason(exc) from None


def dumps(payload: Payload) -> bytes:
    return payload.model_dump_json(exclude_none=True).encode()


def json_schema(message: Message) -> dict[str, Any]:
    schema = MODELS[message].model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://gridops.example/schemas/devices/v{SCHEMA_VERSION}/{message.value}.json"
    topic = f"Topic: gridops/v1/{{kind}}/{{device_code}}/{message.value}"
    schema["description"] = " ".join(filter(None, [schema.get("description", "").replace("\n", " "), topic]))
    return schema


def write_schemas(folder: Path = SCHEMA_DIR) -> list[Path]:
    """(Re)write devices/schemas/*.json from the models; a test checks they are current."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for message in Message:
        path = folder / f"{message.value}.v{SCHEMA_VERSION}.json"
        path.write_text(json.dumps(json_schema(message), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write_schemas():
        print(p)
