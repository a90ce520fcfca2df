"""How close event submission can come to GET /health on this HTTP stack: the ceiling of bench_events' ratio.

Run:  .venv/bin/python bench/bench_report_ceiling.py [--backend sqlite|postgis|both] [--clients 50] [--seconds 10]

For each back end: a fresh demo database (as bench_events.py), then two `gridops serve` processes
in turn on it. The first is the product: --clients grid workers alternate GET /api/v1/health and
POST /api/v1/events (photo-less reports, as bench_events), twice each. The second is the same
server with bench/ceiling/sitecustomize.py loaded: its report service answers every report with
the first one's result, so POST /events costs only the HTTP stack (uvicorn, the middlewares, the
token's user and role check, the body's validation, the thread hop, the answer) and none of the
database work; the same clients alternate /health and those reports. Figures: requests/s, the
ratio reports/health, and the server's CPU per request (/proc) for each; the ceiling's ratio is the
highest that any report can reach on this stack, and the CPU that the database work adds is the
difference between a report and its ceiling.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _harness import bench_parser, for_each_backend  # noqa: E402 - bench/, the script's own folder
from bench_events import (  # noqa: E402
    DEFAULT_PG_URL, PhaseResult, bench_database, bench_env, health_step, login_workers, post_step, run_phase,
    served, setup_demo,
)

CEILING_HOOK = ROOT / "bench" / "ceiling"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = bench_parser(__doc__, "sqlite = SQLite + SpatiaLite in a temp dir (the embedded default); postgis = --pg-url")
    p.add_argument("--clients", type=int, default=50, help="concurrent clients (demo grid workers w001..)")
    p.add_argument("--seconds", type=float, default=10.0, help="duration of each phase (four per server)")
    p.add_argument("--pg-url", default=os.environ.get("GRIDOPS_TEST_POSTGRES_URL", DEFAULT_PG_URL),
                   help="PostgreSQL URL for the admin connection (AUTOCOMMIT) that creates --pg-database")
    p.add_argument("--pg-database", default="gridops_bench_ceiling", help="database created and dropped for the run")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if not 1 <= args.clients <= 288 or args.seconds <= 0:
        p.error("--clients must be 1..288 (the demo's grid workers) and --seconds positive")
    return args


@dataclass
class Pair:
    """/health and the reports of one server, each the sum of its two phases."""
    health: list[PhaseResult]
    reports: list[PhaseResult]

    @staticmethod
    def _rate(phases: list[PhaseResult]) -> float:
        return sum(p.ok for p in phases) / sum(p.elapsed for p in phases)

    @staticmethod
    def _cpu_ms(phases: list[PhaseResult]) -> float:
        """Server CPU per answered request (ms), over the phases."""
        cpu_s = sum(p.cpu.server_pct / 100 * p.elapsed for p in phases)
        return 1000 * cpu_s / max(sum(p.ok for p in phases), 1)

    def line(self, label: str) -> str:
        h, r = self._rate(self.health), self._rate(self.reports)
        errors = sum(sum(p.errors.values()) for p in self.health + self.reports)
        return (f"{label:34} {h:9,.0f} {r:11,.0f} {r / h:7.3f} {self._cpu_ms(self.health):10.2f} "
                f"{self._cpu_ms(self.reports):10.2f} {errors:7}")


def measure(backend: str, env: dict[str, str], tmp: Path, args: argparse.Namespace, name: str) -> Pair:
    with served(backend, env, tmp, 1, None, name=name) as server:
        workers = login_workers(server.base, args.clients, np.random.default_rng(args.seed))
        common = dict(server_pid=server.proc.pid, pg_database=args.pg_database if backend == "postgis" else None,
                      seed=args.seed)
        run_phase("events", server.base, workers, post_step, seconds=None, max_requests=args.clients,
                  per_client=None, **common)  # warm: every worker's first report
        pair = Pair([], [])
        for _ in range(2):
            pair.health.append(run_phase("health", server.base, workers, health_step, seconds=args.seconds,
                                         max_requests=10**7, per_client=None, **common))
            pair.reports.append(run_phase("events", server.base, workers, post_step, seconds=args.seconds,
                                          max_requests=10**7, per_client=None, **common))
        return pair


def run_backend(backend: str, args: argparse.Namespace, tmp: Path) -> tuple[str, Pair, Pair]:
    with bench_database(backend, tmp, args.pg_url, args.pg_database, keep=False) as url:
        env = bench_env(url, tmp, embedded_mqtt=False)
        print(f"{backend}: {setup_demo(env, tmp, 0)}", flush=True)
        product = measure(backend, env, tmp, args, "")
        hook = {**env, "GRIDOPS_BENCH_CEILING": "1", "PYTHONPATH": f"{CEILING_HOOK}:{env['PYTHONPATH']}"}
        ceiling = measure(backend, hook, tmp, args, "-ceiling")
        return backend, product, ceiling


def show(result: tuple[str, Pair, Pair]) -> None:
    backend, product, ceiling = result
    print(f"\n{backend}: {'':26} {'health/s':>9} {'reports/s':>11} {'ratio':>7} {'CPU/health':>10} "
          f"{'CPU/report':>10} {'errors':>7}  (CPU: server ms per answer)")
    print(product.line("  the product"))
    print(ceiling.line("  reports without database work"))
    added = Pair._cpu_ms(product.reports) - Pair._cpu_ms(ceiling.reports)
    print(f"  the database work adds {added:.2f} ms of server CPU to a report; the ceiling's ratio is the most "
          "any report reaches here", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
          f"clients {args.clients}, phases of {args.seconds:.0f} s (health, reports, twice per server)")
    _, failed = for_each_backend(args.backend, lambda b, tmp: run_backend(b, args, tmp), show, "bench-ceiling")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
