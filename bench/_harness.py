"""What the bench scripts share that needs no project import: their command line and the loop over back ends."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

R = TypeVar("R")


def bench_parser(doc: str, backend_help: str) -> argparse.ArgumentParser:
    """A bench's parser: the docstring's first paragraph as description, from its third on as the
    epilog (line breaks kept), defaults shown; with --backend sqlite|postgis|both (default both)."""

    class Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
        pass

    p = argparse.ArgumentParser(description=doc.split("\n\n")[0], epilog=doc.split("\n\n", 2)[2].strip(),
                                formatter_class=Formatter)
    p.add_argument("--backend", choices=["sqlite", "postgis", "both"], default="both", help=backend_help)
    return p


def for_each_backend(choice: str, run: Callable[[str, Path], R], show: Callable[[R], None],
                     prefix: str) -> tuple[list[R], bool]:
    """run(backend, temp dir) for each back end of --backend `choice`, then show(result); a back end
    that fails is reported on stderr and the next one still runs. Returns (results, whether any failed)."""
    results: list[R] = []
    failed = False
    for backend in ["sqlite", "postgis"] if choice == "both" else [choice]:
        tmp = Path(tempfile.mkdtemp(prefix=f"{prefix}-{backend}-"))
        try:
            r = run(backend, tmp)
            results.append(r)
            show(r)
        except Exception as exc:  # noqa: BLE001 - one back end failing should not hide the other's figures
            failed = True
            print(f"\n== backend: {backend} == FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        sys.stdout.flush()
    return results, failed
