"""Shards of the device fleet, for more devices than one ingester carries.

One ingester process holds its devices' live state in memory and must be the only writer of that
state, so devices are split by code, not by message: shard K of N owns the devices whose code's
CRC-32 is K-1 modulo N, a rule every process computes alike without asking anyone. Each shard runs
`gridops devices ingest --shard K/N` (its own persistent MQTT session, its own lock in the
database, any number of hot standbys) and subscribes to its own devices' subtrees only
(gridops/v1/+/{code}/+, one filter per device, added as devices are registered), so the broker
sends each message to one ingester: sharing out the whole tree to every shard would cost each of
them the receiving of every message (~50 µs of paho per message here), which is what sharding is
to spread. Nothing is missed by that: the broker's ACL lets a device publish in its own subtree
only. A message that still reaches the wrong shard is acknowledged unread; one whose topic names
no device at all belongs to shard 1.

Not MQTT 5 shared subscriptions ($share/group/…): the broker would pick the ingester per message or
per publisher's client id and move devices between ingesters when one joins or leaves, while each
device's live state (and its timeout sweep) must have exactly one owner.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from common.errors import InputError
from devices import topics


@dataclass(frozen=True)
class Shard:
    index: int  # 1..count
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """'K/N' with 1 ≤ K ≤ N ≤ 1024, as typed after --shard."""
        left, sep, right = text.strip().partition("/")
        if not (sep and left.isdigit() and right.isdigit() and 1 <= int(left) <= int(right) <= 1024):
            raise ValueError(f"shard {text!r} is not K/N with 1 ≤ K ≤ N ≤ 1024 (e.g. 2/4) / 分片应写作 K/N，如 2/4")
        return cls(int(left), int(right))

    def owns(self, device_code: str) -> bool:
        return self.count == 1 or zlib.crc32(device_code.encode()) % self.count == self.index - 1

    def owns_topic(self, topic: str) -> bool:
        """Whether a message on `topic` is this shard's to check and keep."""
        if self.count == 1:
            return True
        try:
            return self.owns(topics.parse(topic).device_code)
        except InputError:  # outside the scheme: the device's, if its level holds a code, else shard 1's
            parts = topic.split("/")
            if len(parts) == 5 and topics.DEVICE_CODE.fullmatch(parts[3]):
                return self.owns(parts[3])
            return self.index == 1

    def filters(self, device_codes: Iterable[str]) -> list[str]:
        """The MQTT subscriptions that bring this shard's messages (the whole tree without shards)."""
        if self.count == 1:
            return [topics.ALL]
        return [topics.device_filter(code) for code in device_codes if self.owns(code)]

    @property
    def job(self) -> str:
        """The name of the shard's lock: one ingester per shard and database."""
        return "devices ingest" if self.count == 1 else f"devices ingest {self.index}/{self.count}"

    def client_id(self, base: str) -> str:
        """Each shard its own persistent MQTT session (one client id would have them take it from each other)."""
        return base if self.count == 1 else f"{base}-{self.index}of{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


EVERY_DEVICE = Shard(1, 1)
