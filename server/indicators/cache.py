"""Indicator values kept for a short while in this server process: the board refreshes every minute
and several staff look at the same district; a city's map of every grid costs seconds to compute.

What may be cached, and for how long (README "Statistics at scale"):
- A period still running (its end after now) changes with every report, transition and sync, and
  the per-worker-month figures with the clock itself: GRIDOPS_INDICATOR_CACHE_S (60 s by default,
  the board's refresh; 0 turns the cache off).
- A past period changes only through late facts: a closed event reviewed with its satisfaction
  afterwards, a dispute answered, a visit synced late from a phone that was offline, an assignment
  corrected. Closures are counted as of the period's end and never move. 15 times as long (15 min).
- Nothing else: drill-downs list personal records and are audited, so they are never cached.

Territory: the values of a scope are the same whoever asks (compute_many takes no user), and the
views check the caller's right to the scope (service.check_scope) before they look here, so a
cached value is never an answer to someone who may not see its scope. The key is everything the
values depend on besides time: the scopes, the codes, the period and the targets.

A cache per process (each `gridops serve --workers N` worker has its own): no invalidation across
processes is needed because nothing is kept past its TTL. Expiry is measured on the request's `now`
(the Now dependency), so the clock stays in the entry points.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sized
from datetime import datetime, timedelta
from typing import TypeVar

from server.indicators.periods import Period

T = TypeVar("T", bound=Sized)
PAST_FACTOR = 15
# values kept per process, whatever the entries: one IndicatorValue is ~500 bytes, so ~150 MB. A city's
# every-grid map is ~200,000 values; periods are free text (any range of days), so a cap on entries
# alone (a few dozen maps) would let a process grow by gigabytes.
MAX_VALUES = 300_000


def ttl(period: Period, now: datetime, current_s: int) -> timedelta:
    """How long values of the period computed at `now` are served (zero: not kept)."""
    return timedelta(seconds=current_s * (PAST_FACTOR if period.end <= now else 1))


class TTLCache:
    """An entry expires at now + ttl; the least recently used go first beyond `max_values` values in
    all. One computation per key at a time: the 50 boards that ask for the same map in the minute it
    expires wait for the one computing it instead of each computing it again."""

    def __init__(self, max_values: int = MAX_VALUES) -> None:
        self._entries: OrderedDict[Hashable, tuple[datetime, Sized]] = OrderedDict()
        self._size = 0
        self._computing: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()
        self._max = max_values

    def get_or_compute(self, key: Hashable, now: datetime, lifetime: timedelta, compute: Callable[[], T]) -> T:
        if lifetime <= timedelta(0):
            return compute()
        while True:
            with self._lock:
                hit = self._entries.get(key)
                if hit is not None and hit[0] > now:
                    self._entries.move_to_end(key)
                    return hit[1]  # type: ignore[return-value]
                running = self._computing.get(key)
                if running is None:
                    done = self._computing[key] = threading.Event()
                    break
            running.wait()  # then look again: its value, or (it failed) compute it here
        try:
            value = compute()  # outside the lock: a slow statistic does not hold up the others
            self._store(key, (now + lifetime, value))
            return value
        finally:
            with self._lock:
                del self._computing[key]
            done.set()

    def _store(self, key: Hashable, entry: tuple[datetime, Sized]) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            self._size -= len(old[1]) if old else 0
            if len(entry[1]) > self._max:
                return  # larger than the whole cache: served once, not kept
            self._entries[key] = entry
            self._size += len(entry[1])
            while self._size > self._max:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._size -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._size = 0


VALUES = TTLCache()
