"""What every `gridops` sub-command shares."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from common.errors import InputError
from metrics.declaration import DeclarationError
from server.config import Settings
from server.errors import GridopsError
from server.keys import InsecureSettings, enforce


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
