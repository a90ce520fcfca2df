"""Headless sync of an app's data directory: what the phone's background service runs, and what
the reliability test kills and restarts.

    python -m mobile.sync_cli --sync-once --data-dir ~/.gridops-app
    python -m mobile --sync-once --data-dir D --server http://127.0.0.1:8000   (dispatched by mobile/__main__)

The worker must have logged in once with the app (the token is in the data directory).
Exit status: 0 everything sent, 1 some rows were refused (kept as failed, listed), 2 still
pending (offline or out of time), 3 not logged in.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mobile.service import AppService
from mobile.sync import Backoff


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mobile.sync_cli", description="同步网格员APP的离线队列（无界面）。"
                                "Send the queued events, transitions, visits and photos of an app data directory.")
    p.add_argument("--sync-once", "--sync", action="store_true", help="one sync run, then exit (the default)")
    p.add_argument("--data-dir", type=Path, required=True, help="the app's data directory (gridops.sqlite3)")
    p.add_argument("--server", help="server base URL (default: the one the app logged in to)")
    p.add_argument("--max-seconds", type=float, default=300.0,
                   help="give up (exit 2, nothing lost) after this long without finishing (default 300)")
    p.add_argument("--backoff-base", type=float, default=1.0,
                   help="first retry delay in seconds after a network error; doubles up to 300 (default 1)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    app = AppService(args.data_dir, args.server, backoff=Backoff(base_s=args.backoff_base))
    try:
        if not app.is_logged_in():
            print("未登录：请先在APP中登录 / not logged in: log in with the app first", file=sys.stderr)
            return 3
        report = app.sync_now(max_seconds=args.max_seconds)
    finally:
        app.close()
    print(f"已发送 {report.sent}，失败 {report.failed}，待发送 {report.pending}"
          + ("（网络不可用）" if report.offline else ""))
    for line in report.errors:
        print(f"  {line}")
    if report.pending:
        return 2
    return 1 if report.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
