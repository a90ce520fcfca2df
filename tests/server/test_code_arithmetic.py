"""Grid and division codes are derived only through gis.codes, and filtered only through prefix_range.

`code[:9] + "000"` written by hand in five places drifted apart once already; `Column.startswith()`
is a LIKE that neither SQLite nor PostgreSQL (outside the C collation) serves from an index. The
check reads the syntax tree, not the text, so formatting does not hide a case.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("server", "gis")  # bench/ builds synthetic lattices of codes of its own
HOME = {Path("gis/codes.py")}  # where the arithmetic lives
BOUNDS = {6, 9, 12}  # district, street and community parts of a code
CODE_LIKE = ("code", "prefix", "key")
# Code columns that hold no division code: free-text device codes, dotted category paths.
NOT_DIVISION_CODES = {"Device.code", "Event.category_code"}


def _int(node: ast.AST | None) -> int | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, int) else None


def _zeros(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and set(node.value) == {"0"}


def _serial_appended(node: ast.JoinedStr) -> bool:
    """f"{parent}{n:03d}": a three-digit serial glued straight onto another value (a child code)."""
    return any(isinstance(prev, ast.FormattedValue) and isinstance(v, ast.FormattedValue)
               and v.format_spec is not None and ast.unparse(v.format_spec) == "f'03d'"
               for prev, v in zip(node.values, node.values[1:]))


def _column(node: ast.AST) -> str | None:
    """'Model.some_code' for an ORM attribute (a capitalised name), else None."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id[:1].isupper():
        return f"{node.value.id}.{node.attr}"
    return None


def _sql_func(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "func")


def _mentions_code(node: ast.AST) -> bool:
    return any(word in ast.unparse(node).lower() for word in CODE_LIKE)


def arithmetic(tree: ast.AST) -> list[ast.AST]:
    """Slices at a code's part boundaries, and '000' glued on by + or in an f-string."""
    found: list[ast.AST] = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice)
                and {_int(node.slice.lower), _int(node.slice.upper)} & BOUNDS and _mentions_code(node.value)):
            found.append(node)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and (_zeros(node.left) or _zeros(node.right)):
            found.append(node)
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add) and _zeros(node.value):
            found.append(node)
        elif isinstance(node, ast.JoinedStr) and (any(_zeros(v) for v in node.values) and len(node.values) > 1
                                                  or _serial_appended(node)):
            found.append(node)
    return found


def sql_prefix_filters(tree: ast.AST) -> list[ast.AST]:
    """`.startswith()` on a code column or a SQL function of one, and substr() of a code column."""
    found: list[ast.AST] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr == "startswith":
            target = node.func.value
            column = _column(target)
            if (column and column.endswith("code") and column not in NOT_DIVISION_CODES) or \
                    (_sql_func(target) and _mentions_code(target)):
                found.append(node)
        elif _sql_func(node) and node.func.attr in ("substr", "substring") and _mentions_code(node):
            found.append(node)
    return found


def _files(folders: tuple[str, ...]) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py")
                  if p.relative_to(ROOT) not in HOME)


def _report(check, folders: tuple[str, ...]) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    for path in _files(folders):
        source = path.read_text(encoding="utf-8")
        for node in check(ast.parse(source)):
            out.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.get_source_segment(source, node)}")
    return out


def test_no_code_arithmetic_outside_gis_codes() -> None:
    found = _report(arithmetic, SCANNED)
    assert not found, "use gis.codes (street_of, district_of, community_of_grid, area_prefix, child_code, " \
                      "serial_of):\n" + "\n".join(found)


def test_code_prefix_filters_use_prefix_range() -> None:
    found = _report(sql_prefix_filters, SCANNED)
    assert not found, "use server.database.prefix.prefix_range(column, gis.codes.area_prefix(code)):\n" + \
                      "\n".join(found)


@pytest.mark.parametrize(("source", "arith", "sql"), [
    ('street = code[:9] + "000"', 2, 0),  # the slice and the glue
    ('s = f"{grid_code[:9]}000"', 2, 0),
    ('code += "000"', 1, 0),
    ('s = f"{district}{n:03d}000"', 1, 0),
    ('s = f"{community}{serial:03d}"', 1, 0),
    ("d = scope.code[:6]", 1, 0),
    ("n = int(code[6:9])", 1, 0),
    ("q.where(Street.code.startswith(district_code))", 0, 1),
    ("q.where(Training.street_code.startswith(p))", 0, 1),
    ("q.where(func.coalesce(Grid.code, d).startswith(d))", 0, 1),
    ("k = func.substr(Grid.code, 1, 9)", 0, 1),
    # not code arithmetic, not a division-code filter
    ("subsec = digits[:6]", 0, 0),
    ('s = f"{n:03d}"', 0, 0),
    ('s = f"w{n:03d}"', 0, 0),
    ("ok = key.startswith(scope.prefix)", 0, 0),
    ('q.where(Device.code.startswith("SIM-"))', 0, 0),
    ('q.where(Event.category_code.startswith(c + "."))', 0, 0),
])
def test_the_checks_see_what_they_look_for(source: str, arith: int, sql: int) -> None:
    tree = ast.parse(source)
    assert (len(arithmetic(tree)), len(sql_prefix_filters(tree))) == (arith, sql)
