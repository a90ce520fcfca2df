"""Status rules: heartbeats, explicit status, wills, timeouts, replays, no overlapping intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devices import status
from devices.status import OFFLINE, ONLINE, UNKNOWN, State

T0 = datetime(2026, 11, 23, 8, tzinfo=UTC)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_first_heartbeat_goes_online_and_sets_deadline() -> None:
    st = State()
    t = status.heartbeat(st, s(0), 60, 2.5)
    assert t is not None and (t.status, t.at, t.previous, t.reason) == (ONLINE, s(0), UNKNOWN, "heartbeat")
    assert st.online_until == s(150) and st.heartbeats == 1
    assert status.heartbeat(st, s(60), 60, 2.5) is None  # still online: no transition
    assert st.online_until == s(210)


def test_timeout_goes_offline_at_the_deadline_not_at_the_sweep() -> None:
    st = State()
    status.heartbeat(st, s(0), 60, 2.5)
    assert status.timed_out(st, s(150)) is None  # exactly due: still online
    t = status.timed_out(st, s(400))
    assert t is not None and (t.status, t.at, t.reason) == (OFFLINE, s(150), "timeout")
    assert st.online_until is None
    assert status.timed_out(st, s(1000)) is None


def test_late_backlog_after_sweep_does_not_overlap() -> None:
    st = State()
    status.heartbeat(st, s(0), 60, 1.0)
    status.timed_out(st, s(500))  # offline since 60
    t = status.heartbeat(st, s(30), 60, 1.0)  # arrives late, dated before the offline began
    assert t is not None and t.at == s(60)


def test_explicit_status_and_will() -> None:
    st = State()
    status.heartbeat(st, s(0), 60, 2.0)
    t = status.explicit(st, OFFLINE, s(10), 60, 2.0, will=True)
    assert t is not None and (t.reason, t.at, t.previous_since) == ("will", s(10), s(0))
    t = status.explicit(st, ONLINE, s(20), 60, 2.0)
    assert t is not None and t.reason == "status" and st.online_until == s(140)
    assert status.explicit(st, ONLINE, s(25), 60, 2.0) is None


@pytest.mark.parametrize(("ts", "seq", "verdict"), [
    (10, 5, "duplicate"),  # the same message again
    (12, 7, "duplicate"),
    (10, 4, None),  # late but never seen: QoS 1 resends may overtake
    (11, 6, None),
    (13, 0, None),  # a reboot resets seq; ts moves on
    (1, 1, "replayed"),  # at or below the forgotten floor
    (2, 3, "replayed"),
])
def test_duplicates_and_replays(ts: float, seq: int, verdict: str | None) -> None:
    st = State()
    for t, q in [(2, 3), (3, 1), (10, 5), (12, 7)]:
        status.remember(st, s(t), q, s(t), window=3)
    assert st.floor == status.key(s(2), 3) and len(st.recent) == 3
    assert status.seen(st, s(ts), seq) == verdict
    assert (st.last_ts, st.last_seq) == (s(12), 7)


def test_keys_survive_storage_and_sort_like_tuples() -> None:
    st = State()
    for q in range(5):
        status.remember(st, s(100), q, s(100), window=3)
    again = State()
    again.load_keys(st.keys_text())
    assert (again.recent, again.floor) == (st.recent, st.floor)
    assert status.key(s(1), 2**53) < status.key(s(1.000001), 0)
    State().load_keys(None)


def test_first_message_is_always_new() -> None:
    assert status.seen(State(), s(0), 0) is None
