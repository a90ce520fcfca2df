"""`python -m mobile sync …` and `gridops mobile sync …` reach the headless sync without opening a window."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobile.__main__ import main
from server.cli.main import main as gridops


@pytest.mark.parametrize("argv", [["sync"], ["--sync-once"], ["sync", "--sync-once"]])
def test_sync_dispatches_to_the_headless_cli(argv: list[str], tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main([*argv, "--data-dir", str(tmp_path)]) == 3  # nobody logged in on this data directory
    assert "未登录" in capsys.readouterr().err


def test_gridops_mobile_is_python_m_mobile(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert gridops(["mobile", "sync", "--data-dir", str(tmp_path)]) == 3
    with pytest.raises(SystemExit) as done:
        gridops(["mobile", "--help"])
    assert done.value.code == 0 and "--data-dir" in capsys.readouterr().out
