"""`python -m mobile`: the grid worker's app on a desktop (demos, tests); `python -m mobile sync …`:
one headless sync pass (mobile/sync_cli.py), without Kivy.

    python -m mobile [--server URL] [--data-dir DIR]
    python -m mobile sync --data-dir DIR [--server URL]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["sync"] or "--sync-once" in args or "--sync" in args:
        from mobile.sync_cli import main as sync_main  # headless: no Kivy, no window

        rest = args[1:] if args[:1] == ["sync"] else args
        return sync_main(rest if "--sync-once" in rest or "--sync" in rest else ["--sync-once", *rest])
    parser = argparse.ArgumentParser(prog="python -m mobile", description=(
        "网格员 app (Kivy) on a desktop. Everything the worker creates is kept in DATA_DIR and sent to the "
        "server when it can be reached. `python -m mobile sync --data-dir DIR` runs one sync pass without a window."))
    parser.add_argument("--server", help="server URL filled in on the log-in screen, e.g. http://127.0.0.1:8000")
    parser.add_argument("--data-dir", type=Path, help="where the local queue and cache live "
                                                      "(default: the platform's user data folder)")
    parser.add_argument("--size", default="420x760", help="window size WxH on a desktop (default 420x760, a phone)")
    options = parser.parse_args(args)
    os.environ["KIVY_NO_ARGS"] = "1"
    from kivy.config import Config

    width, _, height = options.size.partition("x")
    Config.set("graphics", "width", width)  # before anything imports kivy.core.window
    Config.set("graphics", "height", height)
    from mobile.ui.app import run

    run(data_dir=options.data_dir, server_url=options.server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
