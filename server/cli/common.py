"""What every `gridops` sub-command shares."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from common.errors import InputError
from metrics.declaration import DeclarationError
from server.config import Settings
from server.database.types import utcnow
from server.errors import GridopsError
from server.keys import InsecureSettings, enforce
from server.sheets import RowError


def guard(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Bad input ends with its precise reason and exit 2, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (InputError, GridopsError) as exc:
            print(f"error [{exc.code}]: {exc.message_zh} / {exc.message_en}", file=sys.stderr)
        except DeclarationError as exc:
            print(f"error [declaration]: {exc}", file=sys.stderr)
        return 2

    return run


def keys_refused(settings: Settings) -> bool:
    """Long-running services (serve, ingest) start only with keys of their own, or in the demo.

    True after printing why not and how to set them (zh, then en): the caller exits non-zero.
    """
    try:
        enforce(settings)
    except InsecureSettings as exc:
        print(f"error [{exc.code}]\n{exc.message_zh}\n\n{exc.message_en}", file=sys.stderr)
        return True
    return False


def row_error_lines(errors: Sequence[RowError]) -> list[str]:
    """One line per row error of a spreadsheet import, Chinese first: 错误 第3行 名称 [bad_name] …"""
    return [f"{'错误' if e.blocking else '提示'} 第{e.row}行 {e.column or ''} [{e.code}] {e.message_zh} / {e.message}"
            for e in errors]


def read_upload(path: str) -> bytes:
    """A file named on the command line, or a clear error (exit 2 through guard) when there is none."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("missing_file", f"找不到文件：{path}", f"file not found: {path}") from None
    except IsADirectoryError:
        raise InputError("missing_file", f"{path} 是文件夹，不是文件", f"{path} is a folder, not a file") from None


def outcome(*, committed: bool, blocked: bool) -> tuple[str, int]:
    """What an all-or-nothing import did, in Chinese, and its exit code (0: written or a clean check)."""
    if committed:
        return "已写入", 0
    if blocked:
        return "未写入：有错误，请修正后重试", 1
    return "未写入（试运行：检查通过，确认无误后加 --apply 写入）", 0


def single_job(name: str, every: float | None, run: Callable[[], str]) -> int:
    """Run a job that must not run twice at once over every process and machine (the sweep, the
    rollup): each run holds the database lock `name` (server.database.singleton), or is skipped
    while another process holds it, and prints one line; `every` seconds repeats it (a service),
    none runs it once (cron)."""
    from server.database.core import get_direct_engine
    from server.database.singleton import only_one

    while True:
        with only_one(get_direct_engine(), name) as held:
            line = run() if held else (f"another process is running {name} now; this one skips the run "
                                       "(另一进程正在执行，本次跳过)")
        print(f"{utcnow().isoformat(timespec='seconds')} {name}: {line}", flush=True)
        if not every:
            return 0
        time.sleep(every)
