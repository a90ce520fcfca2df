"""Administrative and grid code rules (GB/T 2260 districts, statistical division codes).

A grid code is permanent: once issued it identifies one patch of ground in every report and
archive, so the rules here are strict and ``next_grid_code`` never hands out a used serial.
Validators return ``None`` when the code is fine, otherwise a ``CodeProblem`` — a ``str``
holding the English reason, with the Chinese reason on ``.zh`` for user-facing messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from common.errors import InputError

# First two digits of GB/T 2260 codes: provinces, autonomous regions, municipalities, SARs.
PROVINCE_PREFIXES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)
MAX_SERIAL = 999

_DIGITS = {n: re.compile(rf"[0-9]{{{n}}}") for n in (6, 12, 15)}  # not \d: it matches full-width "４"


class CodeProblem(str):
    """English reason (the str value) plus the Chinese reason, so callers need one object."""

    zh: str

    def __new__(cls, en: str, zh: str) -> CodeProblem:
        obj = super().__new__(cls, en)
        obj.zh = zh
        return obj

    @property
    def en(self) -> str:
        return str(self)


def _shape_problem(code: object, digits: int, what_en: str, what_zh: str) -> CodeProblem | None:
    if not isinstance(code, str):
        return CodeProblem(f"{what_en} must be a string, got {type(code).__name__}",
                           f"{what_zh}必须是字符串")
    if not _DIGITS[digits].fullmatch(code):
        return CodeProblem(f"{what_en} must be exactly {digits} digits, got {code!r}",
                           f"{what_zh}必须是{digits}位数字，实际为“{code}”")
    return None


def district_code_problem(code: str) -> CodeProblem | None:
    """Why a 6-digit county-level (区/县) code is unacceptable, or None."""
    if problem := _shape_problem(code, 6, "district code", "区县代码"):
        return problem
    if code[:2] not in PROVINCE_PREFIXES:
        return CodeProblem(f"district code {code}: {code[:2]} is not a province code",
                           f"区县代码{code}：{code[:2]}不是省级代码")
    if code[4:] == "00":
        return CodeProblem(f"district code {code} ends in 00, which is a city or province",
                           f"区县代码{code}以00结尾，是地市或省级代码而非区县")
    return None


def street_code_problem(code: str, district_code: str | None = None) -> CodeProblem | None:
    """Why a 12-digit street (街道/乡镇) code is unacceptable, or None."""
    if problem := _shape_problem(code, 12, "street code", "街道代码"):
        return problem
    if problem := district_code_problem(code[:6]):
        return CodeProblem(f"street code {code}: {problem}", f"街道代码{code}：{problem.zh}")
    if code[6:9] == "000":
        return CodeProblem(f"street code {code}: digits 7-9 (street part) are 000",
                           f"街道代码{code}：第7-9位（街道段）不能为000")
    if code[9:] != "000":
        return CodeProblem(f"street code {code} must end in 000 (it looks like a community)",
                           f"街道代码{code}必须以000结尾（看起来是社区代码）")
    if district_code is not None and code[:6] != district_code:
        return CodeProblem(f"street code {code} is not in district {district_code}",
                           f"街道代码{code}不属于区县{district_code}")
    return None


def community_code_problem(code: str, street_code: str | None = None) -> CodeProblem | None:
    """Why a 12-digit community (社区/村) code is unacceptable, or None."""
    if problem := _shape_problem(code, 12, "community code", "社区代码"):
        return problem
    if code[9:] == "000":
        return CodeProblem(f"community code {code} ends in 000 (it looks like a street)",
                           f"社区代码{code}以000结尾（看起来是街道代码）")
    if problem := street_code_problem(code[:9] + "000"):
        return CodeProblem(f"community code {code}: {problem}", f"社区代码{code}：{problem.zh}")
    if street_code is not None and code[:9] != street_code[:9]:
        return CodeProblem(f"community code {code} is not in street {street_code}",
                           f"社区代码{code}不属于街道{street_code}")
    return None


def grid_code_problem(code: str, community_code: str | None = None) -> CodeProblem | None:
    """Why a 15-digit grid code is unacceptable, or None (community prefix checked if given)."""
    if problem := _shape_problem(code, 15, "grid code", "网格编码"):
        return problem
    if code[12:] == "000":
        return CodeProblem(f"grid code {code}: serial 000 is not allowed (001-999)",
                           f"网格编码{code}：序号不能为000（应为001-999）")
    if problem := community_code_problem(code[:12]):
        return CodeProblem(f"grid code {code}: {problem}", f"网格编码{code}：{problem.zh}")
    if community_code is not None and code[:12] != community_code:
        return CodeProblem(
            f"grid code {code} does not start with its community code {community_code}",
            f"网格编码{code}的前12位与所属社区代码{community_code}不一致",
        )
    return None


def _refuse(problem: CodeProblem) -> InputError:
    return InputError("malformed_code", problem.zh, problem.en)


def community_of_grid(code: str) -> str:
    """The community a grid belongs to is encoded in its first 12 digits."""
    if problem := grid_code_problem(code):
        raise _refuse(problem)
    return code[:12]


def community_claimed(grid_code: str, community_code: str | None = None) -> str | None:
    """The community a grid to check claims: the one it names, else the one its code encodes;
    None when it names none and its code is malformed (the code checks report that, not this)."""
    if community_code:
        return community_code
    return None if grid_code_problem(grid_code) else grid_code[:12]


def street_of(code12: str) -> str:
    """Street code of a community (or street, or grid) code: the first 9 digits plus 000."""
    if isinstance(code12, str) and len(code12) == 15:
        problem = grid_code_problem(code12)
    elif street_code_problem(code12) is None:
        problem = None
    else:
        problem = community_code_problem(code12)
    if problem:
        raise _refuse(problem)
    return code12[:9] + "000"


def district_of(code: str) -> str:
    """District (6-digit) part of any district, street, community or grid code."""
    for digits in (6, 12, 15):
        if isinstance(code, str) and len(code) == digits and _DIGITS[digits].fullmatch(code):
            if problem := district_code_problem(code[:6]):
                raise _refuse(problem)
            return code[:6]
    raise _refuse(CodeProblem(f"{code!r} is not a 6, 12 or 15 digit code",
                              f"“{code}”不是6、12或15位代码"))


def _area_problem(code: object) -> CodeProblem | None:
    """Why a code names no district, street, community or grid (told apart by length and 000)."""
    if not isinstance(code, str) or len(code) not in (6, 12, 15):
        return CodeProblem(f"{code!r} is not a 6, 12 or 15 digit code", f"“{code}”不是6、12或15位代码")
    if len(code) == 6:
        return district_code_problem(code)
    if len(code) == 15:
        return grid_code_problem(code)
    return street_code_problem(code) if code.endswith("000") else community_code_problem(code)


def area_prefix(code: str) -> str:
    """The digits every code inside an area starts with: a district's 6, a street's first 9 (its
    communities and grids share them, not its 000), a community's 12, a grid's 15. What a code
    filter (``server.database.prefix.prefix_range``) or a territory compares with."""
    if problem := _area_problem(code):
        raise _refuse(problem)
    return code[:9] if len(code) == 12 and code.endswith("000") else code


def area_code(prefix: str) -> str:
    """The area whose ``area_prefix`` this is: 9 digits are a street (its code ends in 000); a
    district, community or grid code is its own prefix. For short forms such as street:440112001."""
    code = prefix + "000" if isinstance(prefix, str) and len(prefix) == 9 else prefix
    if problem := _area_problem(code):
        raise _refuse(problem)
    return code


def child_code(parent_code: str, serial: int) -> str:
    """Code of a parent area's serial-th street (of a district), community (of a street) or grid
    (of a community): the parent's prefix, the serial in three digits, and 000 for a street."""
    prefix = area_prefix(parent_code)
    if len(prefix) == 15 or not 1 <= serial <= MAX_SERIAL:
        raise _refuse(CodeProblem(f"no child {serial} of {parent_code}: a grid has no children, "
                                  f"serials are 1-{MAX_SERIAL}", f"“{parent_code}”没有第{serial}个下级区划"))
    return f"{prefix}{serial:03d}" + ("000" if len(prefix) == 6 else "")


def serial_of(code: str) -> int:
    """A street's number in its district, a community's in its street, a grid's in its community
    (the inverse of ``child_code``)."""
    prefix = area_prefix(code)
    if len(prefix) == 6:
        raise _refuse(CodeProblem(f"district {code} has no serial", f"区县{code}没有序号"))
    return int(prefix[-3:])


def next_grid_code(community_code: str, used_codes: Iterable[str]) -> str:
    """Next free code after the highest used serial, so retired codes are never reissued.

    ``used_codes`` must include retired grids; codes of other communities are ignored. Only
    when serial 999 is taken does it fall back to the lowest serial never used.
    """
    if problem := community_code_problem(community_code):
        raise _refuse(problem)
    used = {
        int(c[12:]) for c in used_codes
        if isinstance(c, str) and len(c) == 15 and c.startswith(community_code) and c[12:].isdigit()
    }
    used.discard(0)
    top = max(used, default=0)
    if top < MAX_SERIAL:
        return child_code(community_code, top + 1)
    free = next((n for n in range(1, MAX_SERIAL + 1) if n not in used), None)
    if free is None:
        raise InputError(
            "grid_codes_exhausted",
            f"社区{community_code}的网格序号001-999已全部使用，无法再分配网格编码",
            f"community {community_code} has used all grid serials 001-999",
        )
    return child_code(community_code, free)


# ---------------------------------------------------------------- statistical division codes (统计用区划代码)
STATISTICAL_LEVELS = ("province", "city", "district", "street", "community")
URBAN_RURAL_CODES = frozenset({"111", "112", "121", "122", "123", "210", "220"})  # 城乡分类代码 (国统字〔2008〕)


def _level(code: str) -> str:
    if code[2:] == "0" * 10:
        return "province"
    if code[4:] == "0" * 8:
        return "city"
    if code[6:] == "0" * 6:
        return "district"
    return "street" if code[9:] == "000" else "community"


def statistical_code_problem(code: str) -> CodeProblem | None:
    """Why a 12-digit 统计用区划代码 is unacceptable at the level its trailing zeros give it, or None."""
    if problem := _shape_problem(code, 12, "statistical division code", "统计用区划代码"):
        return problem
    level = _level(code)
    if level == "district":
        return district_code_problem(code[:6])
    if level == "street":
        return street_code_problem(code)
    return community_code_problem(code) if level == "community" else None


def statistical_level(code: str) -> str:
    """Level of a 12-digit statistical division code, one of STATISTICAL_LEVELS, by its trailing zeros."""
    if problem := statistical_code_problem(code):
        raise _refuse(problem)
    return _level(code)


def stored_division_code(code: str) -> str:
    """The code the tree keeps for a statistical code: a district's 6 GB/T 2260 digits, else all 12."""
    return code[:6] if statistical_level(code) == "district" else code


def parent_division_code(code: str) -> str | None:
    """Stored code of the parent of a stored district (None), street (its district) or community (its street)."""
    if len(code) == 6:
        return None
    return district_of(code) if street_code_problem(code) is None else street_of(code)
