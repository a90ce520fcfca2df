"""The UI tests need Kivy (the `mobile` extra) and an X display with GLX (`xvfb-run`, as ./dev test
runs them, in a process of their own). A plain `pytest` on a machine without either leaves this
folder out rather than failing to open a window."""

from __future__ import annotations

import importlib.util
import os

collect_ignore = [] if importlib.util.find_spec("kivy") and os.environ.get("DISPLAY") else ["test_app.py"]
