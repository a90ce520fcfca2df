"""Shards of the device fleet, for more devices than one ingester carries.

One ingester process holds its devices' live state in memory and must be the only writer of that
state, so devices are split by code, not by message: shard K of N owns the devices whose code's
CRC-32 is K-1 modulo N, a rule every process computes alike without asking anyone. Each shard runs
`gridops devices ingest --shard K/N` (its own persistent MQTT session, its own lock in the
database, any number of hot standbys). Every shard subscribes to the whole topic tree and
acknowledges the other shards' messages without reading them; messages whose topic names no device
(dead letters `bad_topic`) belong to shard 1, so they are kept once.
"""

from __future__ import annotations

import zlib
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
        except InputError:
            return self.index == 1

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
