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

from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from threading import Lock
from typing import TypeVar

from server.indicators.periods import Period

T = TypeVar("T")
PAST_FACTOR = 15
MAX_ENTRIES = 64  # a city's every-grid map is ~200,000 values (~60 MB): a few dozen entries at most


def ttl(period: Period, now: datetime, current_s: int) -> timedelta:
    """How long values of the period computed at `now` are served (zero: not kept)."""
    return timedelta(seconds=current_s * (PAST_FACTOR if period.end <= now else 1))


class TTLCache:
    """Least recently used entries dropped beyond MAX_ENTRIES; an entry expires at now + ttl."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[Hashable, tuple[datetime, object]] = OrderedDict()
        self._lock = Lock()
        self._max = max_entries

    def get_or_compute(self, key: Hashable, now: datetime, lifetime: timedelta, compute: Callable[[], T]) -> T:
        if lifetime <= timedelta(0):
            return compute()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] > now:
                self._entries.move_to_end(key)
                return hit[1]  # type: ignore[return-value]
        value = compute()  # outside the lock: a slow statistic does not hold up the others
        with self._lock:
            self._entries[key] = (now + lifetime, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


VALUES = TTLCache()
