"""What every `gridops` sub-command shares."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from gis.errors import GisInputError
from metrics.declaration import DeclarationError
from server.errors import GridopsError


def guard(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Bad input ends with its precise reason and exit 2, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (GisInputError, GridopsError) as exc:
            print(f"error [{exc.code}]: {exc.message_zh} / {exc.message_en}", file=sys.stderr)
        except DeclarationError as exc:
            print(f"error [declaration]: {exc}", file=sys.stderr)
        return 2

    return run
