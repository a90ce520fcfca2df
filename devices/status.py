"""Online status from heartbeats, explicit status and timeouts, as transitions (pure, no I/O).

Rules (the ingester applies them in message order per device):
* A heartbeat at t makes the device online from t (if it was not) and keeps it online until
  t + interval × tolerance (`online_until`).
* An explicit `status` online/offline switches at its time; a Last Will (offline, will=true)
  switches at its arrival, because a will's `ts` is when the device connected.
* The sweep turns a device offline at its `online_until` once that has passed (reason timeout),
  so an outage starts when the heartbeats stopped being due, not when someone noticed.
* Transition times never go back before the current status began, so intervals never overlap
  even when a backlog held by the broker arrives after a sweep.
* Each message of a device has a key (ts, seq). QoS 1 means "at least once", and clients resend
  unacknowledged messages after a reconnect behind newer ones (measured with paho against
  Mosquitto), so keys are not checked for order but remembered: the last `window` accepted keys
  of each device are kept (and stored with its state, so a restarted ingester knows them too).
  A key among them is a duplicate; a key at or below the oldest one forgotten (`floor`) is a
  replay (or a message later than the window allows); any other key is new, even if late.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

ONLINE, OFFLINE, UNKNOWN = "online", "offline", "unknown"
WINDOW = 32
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SEQ_BITS = 54  # seq ≤ 2**53


def key(ts: datetime, seq: int) -> int:
    """(ts, seq) as one integer that sorts the same way: microseconds since 1970, then seq."""
    return ((ts - _EPOCH) // timedelta(microseconds=1)) << _SEQ_BITS | seq


@dataclass
class State:
    status: str = UNKNOWN
    since: datetime | None = None
    online_until: datetime | None = None
    last_ts: datetime | None = None
    last_seq: int | None = None
    last_seen_at: datetime | None = None
    heartbeats: int = 0
    messages: int = 0
    recent: list[int] = field(default_factory=list)  # sorted keys of the last accepted messages
    floor: int | None = None  # the largest key no longer remembered

    def keys_text(self) -> str:
        """Stored form: "floor;k1,k2,…" (decimal: the keys do not fit 64 bits)."""
        return f"{'' if self.floor is None else self.floor};{','.join(map(str, self.recent))}"

    def load_keys(self, text: str | None) -> None:
        if not text:
            return
        floor, _, keys = text.partition(";")
        self.floor = int(floor) if floor else None
        self.recent = [int(k) for k in keys.split(",") if k]


@dataclass(frozen=True, slots=True)
class Transition:
    status: str
    at: datetime
    reason: str  # heartbeat | status | will | timeout
    previous: str
    previous_since: datetime | None


def seen(state: State, ts: datetime, seq: int) -> str | None:
    """None for a new message, else why not: "duplicate" (remembered) or "replayed" (too old to tell)."""
    k = key(ts, seq)
    i = bisect.bisect_left(state.recent, k)
    if i < len(state.recent) and state.recent[i] == k:
        return "duplicate"
    if state.floor is not None and k <= state.floor:
        return "replayed"
    return None


def remember(state: State, ts: datetime, seq: int, received_at: datetime, window: int = WINDOW) -> None:
    bisect.insort(state.recent, key(ts, seq))
    while len(state.recent) > window:
        oldest = state.recent.pop(0)
        state.floor = oldest if state.floor is None else max(state.floor, oldest)
    if state.last_ts is None or (ts, seq) > (state.last_ts, state.last_seq or 0):
        state.last_ts, state.last_seq = ts, seq
    state.last_seen_at = received_at
    state.messages += 1


def switch(state: State, status: str, at: datetime, reason: str) -> Transition | None:
    if state.status == status:
        return None
    at = max(at, state.since) if state.since else at
    transition = Transition(status, at, reason, state.status, state.since)
    state.status, state.since = status, at
    if status != ONLINE:
        state.online_until = None
    return transition


def heartbeat(state: State, at: datetime, interval_s: int, tolerance: float) -> Transition | None:
    state.heartbeats += 1
    transition = switch(state, ONLINE, at, "heartbeat")
    until = at + timedelta(seconds=interval_s * tolerance)
    state.online_until = max(until, state.online_until) if state.online_until else until
    return transition


def explicit(state: State, status: str, at: datetime, interval_s: int, tolerance: float, *,
             will: bool = False) -> Transition | None:
    transition = switch(state, status, at, "will" if will else "status")
    if status == ONLINE:
        state.online_until = at + timedelta(seconds=interval_s * tolerance)
    return transition


def timed_out(state: State, now: datetime) -> Transition | None:
    """Offline at online_until, if the device is online and that moment has passed."""
    if state.status == ONLINE and state.online_until is not None and state.online_until < now:
        return switch(state, OFFLINE, state.online_until, "timeout")
    return None
