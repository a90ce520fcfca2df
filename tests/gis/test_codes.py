from __future__ import annotations

import pytest

from common.errors import InputError
from gis.codes import (
    CodeProblem,
    area_code,
    area_prefix,
    child_code,
    community_claimed,
    community_code_problem,
    community_of_grid,
    district_code_problem,
    district_of,
    grid_code_problem,
    next_grid_code,
    serial_of,
    street_code_problem,
    street_of,
)

COMMUNITY = "440112001001"


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("440112", None),
        ("110101", None),
        ("469001", None),  # province-administered county-level city (Hainan)
        ("44011", "exactly 6 digits"),
        ("4401120", "exactly 6 digits"),
        ("44011a", "exactly 6 digits"),
        (" 440112", "exactly 6 digits"),
        ("990112", "not a province code"),
        ("440100", "ends in 00"),
        ("440000", "ends in 00"),
        (440112, "must be a string"),
    ],
)
def test_district_code(code: str, fragment: str | None) -> None:
    problem = district_code_problem(code)
    if fragment is None:
        assert problem is None
    else:
        assert problem is not None and fragment in problem


@pytest.mark.parametrize(
    ("code", "district", "fragment"),
    [
        ("440112001000", None, None),
        ("440112001000", "440112", None),
        ("440112001000", "440113", "not in district 440113"),
        ("440112000000", None, "street part"),
        ("440112001001", None, "must end in 000"),
        ("44011200100", None, "exactly 12 digits"),
        ("440100001000", None, "ends in 00"),
        ("990112001000", None, "not a province code"),
    ],
)
def test_street_code(code: str, district: str | None, fragment: str | None) -> None:
    problem = street_code_problem(code, district)
    if fragment is None:
        assert problem is None
    else:
        assert problem is not None and fragment in problem


@pytest.mark.parametrize(
    ("code", "street", "fragment"),
    [
        ("440112001001", None, None),
        ("440112001201", None, None),  # villages (村委会) use 2xx serials
        ("440112001001", "440112001000", None),
        ("440112001001", "440112002000", "not in street 440112002000"),
        ("440112001000", None, "ends in 000"),
        ("440112000001", None, "street part"),
        ("44011200100", None, "exactly 12 digits"),
        ("440100001001", None, "ends in 00"),
    ],
)
def test_community_code(code: str, street: str | None, fragment: str | None) -> None:
    problem = community_code_problem(code, street)
    if fragment is None:
        assert problem is None
    else:
        assert problem is not None and fragment in problem


@pytest.mark.parametrize(
    ("code", "community", "fragment"),
    [
        ("440112001001001", None, None),
        ("440112001001999", COMMUNITY, None),
        ("440112001001000", None, "serial 000"),
        ("440112001002001", COMMUNITY, "does not start with its community code"),
        ("440112001000001", None, "ends in 000"),
        ("44011200100100", None, "exactly 15 digits"),
        ("4401120010010010", None, "exactly 15 digits"),
        ("44011200100100X", None, "exactly 15 digits"),
        ("４４０１１２００１００１００１", None, "exactly 15 digits"),  # full-width digits
        ("990112001001001", None, "not a province code"),
        (None, None, "must be a string"),
    ],
)
def test_grid_code(code: str, community: str | None, fragment: str | None) -> None:
    problem = grid_code_problem(code, community)
    if fragment is None:
        assert problem is None
    else:
        assert problem is not None and fragment in problem


def test_problem_carries_chinese_reason() -> None:
    problem = grid_code_problem("440112001002001", COMMUNITY)
    assert isinstance(problem, CodeProblem) and isinstance(problem, str)
    assert "社区代码" in problem.zh and problem.en == str(problem)


@pytest.mark.parametrize(
    ("func", "code", "expected"),
    [
        (community_of_grid, "440112001001007", "440112001001"),
        (street_of, "440112001001", "440112001000"),
        (street_of, "440112001000", "440112001000"),
        (street_of, "440112001001007", "440112001000"),
        (district_of, "440112", "440112"),
        (district_of, "440112001000", "440112"),
        (district_of, "440112001001007", "440112"),
    ],
)
def test_parents(func, code: str, expected: str) -> None:
    assert func(code) == expected


@pytest.mark.parametrize(
    ("func", "code"),
    [
        (community_of_grid, "440112001001000"),
        (community_of_grid, "440112001001"),
        (street_of, "4401120010"),
        (street_of, "440112000001"),
        (district_of, "4401120"),
        (district_of, "990112"),
    ],
)
def test_parents_refuse_malformed(func, code: str) -> None:
    with pytest.raises(InputError) as exc:
        func(code)
    assert exc.value.code == "malformed_code" and exc.value.message_zh


@pytest.mark.parametrize(
    ("used", "expected"),
    [
        ([], "440112001001001"),
        (["440112001001001", "440112001001002"], "440112001001003"),
        # 005 retired (still listed as used), 002-004 never issued: continue after the highest
        (["440112001001001", "440112001001005"], "440112001001006"),
        # other communities' codes do not count
        (["440112001002009", "440112002001050"], "440112001001001"),
        # 999 taken: fall back to the lowest serial never used, never a used one
        (["440112001001001", "440112001001002", "440112001001999"], "440112001001003"),
        (["junk", "440112001001", "440112001001000"], "440112001001001"),
    ],
)
def test_next_grid_code(used: list[str], expected: str) -> None:
    assert next_grid_code(COMMUNITY, used) == expected


def test_next_grid_code_never_reuses_and_exhausts() -> None:
    used = {f"{COMMUNITY}{n:03d}" for n in range(1, 1000) if n != 500}
    assert next_grid_code(COMMUNITY, used) == f"{COMMUNITY}500"
    used.add(f"{COMMUNITY}500")
    with pytest.raises(InputError) as exc:
        next_grid_code(COMMUNITY, used)
    assert exc.value.code == "grid_codes_exhausted"


def test_next_grid_code_refuses_bad_community() -> None:
    with pytest.raises(InputError) as exc:
        next_grid_code("440112001000", [])
    assert exc.value.code == "malformed_code"


@pytest.mark.parametrize(
    ("code", "prefix"),
    [
        ("440112", "440112"),
        ("440112001000", "440112001"),  # a street's communities share its first 9 digits, not its 000
        ("440112001002", "440112001002"),
        ("440112001002003", "440112001002003"),
    ],
)
def test_area_prefix_and_back(code: str, prefix: str) -> None:
    assert area_prefix(code) == prefix
    assert area_code(prefix) == code


@pytest.mark.parametrize("code", ["4401120", "440112001", "990112", "440112000000", "440112001002000", "44011200100A",
                                  440112])
def test_area_prefix_refuses_malformed(code: str) -> None:
    with pytest.raises(InputError) as exc:
        area_prefix(code)
    assert exc.value.code == "malformed_code"


@pytest.mark.parametrize("prefix", ["000000000", "440112000", "44011200", "4401120011"])
def test_area_code_refuses_malformed(prefix: str) -> None:
    with pytest.raises(InputError):
        area_code(prefix)


@pytest.mark.parametrize(
    ("parent", "serial", "child"),
    [
        ("440112", 3, "440112003000"),
        ("440112003000", 4, "440112003004"),
        ("440112003004", 5, "440112003004005"),
        ("440112003004", 999, "440112003004999"),
    ],
)
def test_child_code_and_serial(parent: str, serial: int, child: str) -> None:
    assert child_code(parent, serial) == child
    assert serial_of(child) == serial


@pytest.mark.parametrize(("parent", "serial"), [("440112", 0), ("440112", 1000), ("440112003004005", 1),
                                                 ("440112000000", 1)])
def test_child_code_refuses(parent: str, serial: int) -> None:
    with pytest.raises(InputError):
        child_code(parent, serial)


def test_district_has_no_serial() -> None:
    with pytest.raises(InputError):
        serial_of("440112")


@pytest.mark.parametrize(
    ("grid", "named", "claimed"),
    [
        ("440112001001007", None, "440112001001"),
        ("440112001001007", "440112001002", "440112001002"),  # named wins; the mismatch is the code check's
        ("44011200100100A", None, None),
        ("44011200100100A", "440112001001", "440112001001"),
    ],
)
def test_community_claimed(grid: str, named: str | None, claimed: str | None) -> None:
    assert community_claimed(grid, named) == claimed


@pytest.mark.parametrize(("code", "level", "stored", "parent"), [
    ("440000000000", "province", None, None),
    ("440100000000", "city", None, None),
    ("440112000000", "district", "440112", None),
    ("440112001000", "street", "440112001000", "440112"),
    ("440112001003", "community", "440112001003", "440112001000"),
    ("440112101201", "community", "440112101201", "440112101000"),  # a 村 under a 镇
])
def test_statistical_division_levels(code: str, level: str, stored: str | None, parent: str | None) -> None:
    from gis.codes import parent_division_code, statistical_code_problem, statistical_level, stored_division_code

    assert statistical_code_problem(code) is None
    assert statistical_level(code) == level
    if stored is not None:
        assert stored_division_code(code) == stored
        assert parent_division_code(stored) == parent


@pytest.mark.parametrize(("code", "fragment"), [
    ("44011200100", "12位"),  # 11 digits
    ("4401120010011", "12位"),
    ("990112001001", "不是省级代码"),
    ("440112000001", "第7-9位"),  # a community under street 000
    ("４40112001001", "12位"),  # full-width digit
])
def test_statistical_code_refused(code: str, fragment: str) -> None:
    from gis.codes import statistical_code_problem, statistical_level

    problem = statistical_code_problem(code)
    assert problem is not None and fragment in problem.zh, problem and problem.zh
    with pytest.raises(InputError):
        statistical_level(code)
