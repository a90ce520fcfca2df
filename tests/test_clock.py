"""One clock: only entry points read the wall clock; services and libraries take `now`.

A clock read anywhere else makes a result depend on the day it is computed (the rentals test that
turned red on 2026-12-01 did), so each place that may read it is named here with its reason.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine

ROOT = Path(__file__).resolve().parents[1]
CLOCK = re.compile(r"\butcnow\(\)|datetime\.now\(|date\.today\(|\btime\.time\(\)")

ENTRY_POINTS = {
    "server/database/types.py": "defines utcnow, the one wall-clock function",
    "server/deps.py": "get_now: every request's clock, overridable in tests",
    "server/main.py": "the app factory checks the holiday calendar at start-up",
    "server/auth/security.py": "token expiry is checked by PyJWT against the wall clock, so it is issued on it",
    "server/sse.py": "the live feeds are long-running entry points: each poll reads the clock",
    "server/feed_hub.py": "the live feeds' shared reader runs on its own: it reads the clock for each read",
    "server/rentals/scheduled.py": "the card-sync timer is a scheduled job",
    "server/devices/embedded.py": "the demo broker's start-up registers the simulated fleet",
    "server/devices/ingester.py": "the MQTT ingester is an entry point: message age, sweeps, lag figures",
    "server/cli/main.py": "CLI", "server/cli/events_cmd.py": "CLI", "server/cli/metrics_cmd.py": "CLI",
    "server/cli/common.py": "CLI: the loop of the jobs kept single stamps each run's line",
    "server/cli/devices_cmd.py": "CLI", "server/cli/grids_cmd.py": "CLI", "server/cli/users_cmd.py": "CLI",
    "server/cli/rentals_cmd.py": "CLI", "server/cli/setup_cmd.py": "CLI", "server/cli/assessment_cmd.py": "CLI",
    "devices/simulator.py": "the device simulator stamps messages as a device would",
    "devices/client.py": "the MQTT client stamps when a message arrived",
    "mobile/clock.py": "the phone app is an entry point: its screens and background sync run on the device's clock",
}


def _clock_reads() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for package in ("server", "gis", "devices", "metrics", "mobile"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#", 1)[0]
                if CLOCK.search(code):
                    found.setdefault(str(path.relative_to(ROOT)), []).append(n)
    return found


def test_only_entry_points_read_the_clock() -> None:
    outside = {f: lines for f, lines in _clock_reads().items() if f not in ENTRY_POINTS}
    assert outside == {}, "take `now` as an argument instead of reading the clock here"


def test_every_named_entry_point_still_reads_it() -> None:
    """A stale entry in the list would allow a clock read there later without anyone deciding it."""
    assert set(ENTRY_POINTS) <= set(_clock_reads())


@pytest.mark.skipif(not os.environ.get("GRIDOPS_TEST_DAYS_AHEAD"), reason="only in ./dev test's pass ahead")
def test_the_pass_ahead_moves_the_clock_of_processes_the_tests_start() -> None:
    days = int(os.environ["GRIDOPS_TEST_DAYS_AHEAD"])
    child = subprocess.run([sys.executable, "-c", "import time; print(time.time())"], capture_output=True,
                           text=True, check=True)
    real = time_machine.escape_hatch.time.time()
    assert float(child.stdout) - real == pytest.approx(days * 86400, abs=600)
