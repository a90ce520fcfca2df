"""README's Architecture rules hold: `lint-imports` keeps every contract of `.importlinter`.

The negative cases copy the packages into a temporary folder, add one forbidden import each, and
check that the matching contract breaks: a contract that cannot fail would prove nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("server", "gis", "devices", "metrics", "mobile")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} missing: install the test extras (pip install -e '.[test]')")
    env = {**os.environ, "COLUMNS": "200"}  # no wrapped lines in the report
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_import_contracts_are_kept() -> None:
    r = lint_imports(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "4 kept, 0 broken" in r.stdout, r.stdout


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packages' Python files, the config and the custom contract type, and nothing else."""
    dest = tmp_path_factory.mktemp("arch")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__", "*.json",
                                                                                       "*.html", "*.mako", "*.ini"))
    (dest / "tests").mkdir()
    for name in ("__init__.py", "architecture_contracts.py"):
        shutil.copy(ROOT / "tests" / name, dest / "tests" / name)
    shutil.copy(ROOT / ".importlinter", dest / ".importlinter")
    assert lint_imports(dest).returncode == 0
    return dest


@pytest.mark.parametrize(("module", "line", "broken"), [
    # a private module of another domain, even from a higher layer
    ("server/indicators/drilldown.py", "from server.events import transitions", "only its models, schemas"),
    # a lower layer importing a higher one (reports -> indicators was a cycle)
    ("server/reports/weekly.py", "from server.indicators import service", "Server domains are layered"),
    # a cycle through the public door is still a cycle (devices -> rentals)
    ("server/devices/service.py", "from server.rentals import service", "Server domains are layered"),
    # the libraries stay free of the server and the web framework
    ("gis/crs.py", "from server.errors import GridopsError", "import neither server nor the web framework"),
    ("metrics/targets.py", "import fastapi", "import neither server nor the web framework"),
    # and of each other
    ("mobile/__init__.py", "from gis.datum import to_cgcs2000", "do not import each other"),
])
def test_a_forbidden_import_breaks_its_contract(copy: Path, module: str, line: str, broken: str) -> None:
    path = copy / module
    original = path.read_text(encoding="utf-8")
    path.write_text(original + f"\n{line}  # the forbidden import under test\n", encoding="utf-8")
    try:
        r = lint_imports(copy)
    finally:
        path.write_text(original, encoding="utf-8")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "3 kept, 1 broken" in r.stdout, r.stdout
    report = r.stdout.split("Broken contracts", 1)[1]
    assert broken in " ".join(report.split()), report
    importer = module.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    assert f"{importer} " in report  # and names the offending module
