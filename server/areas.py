"""Areas named the way users type them: `district:440112`, `street:440112001`, `community:…`, `grid:…`.

One parser for every domain that takes an area (indicators' scopes, the device map's filter):
the code is checked as a code of its level, and its prefix is what every record inside it starts with.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from common.errors import InputError
from gis.codes import (CodeProblem, area_code, area_prefix, community_code_problem, district_code_problem,
                       grid_code_problem, street_code_problem)
from server.errors import InvalidInput

CODE_PROBLEMS: dict[str, Callable[[str], CodeProblem | None]] = {
    "district": district_code_problem, "street": street_code_problem,
    "community": community_code_problem, "grid": grid_code_problem,
}


@dataclass(frozen=True)
class Scope:
    level: str
    code: str  # full-length code: 6, 12 (street ends in 000), 12 or 15 digits

    @cached_property
    def prefix(self) -> str:
        """The code prefix every grid (and so every event) inside the scope starts with."""
        return area_prefix(self.code)

    def __str__(self) -> str:
        return f"{self.level}:{self.code}"


def parse_scope(text: str) -> Scope:
    """`level:code`, the code checked as a code of that level (a street also by its first 9 digits)."""
    level, _, code = text.strip().partition(":")
    try:
        if level == "street" and re.fullmatch(r"[0-9]{9}", code):
            code = area_code(code)
        problem = CODE_PROBLEMS[level](code) if level in CODE_PROBLEMS else f"no level {level!r}"
    except InputError as exc:
        problem = exc.message_en
    if problem:
        raise InvalidInput(f"scope {text!r}: {problem}; use district:440112, street:440112001, community:…, grid:…",
                           f"统计范围 {text!r} 格式无效", code="bad_scope")
    return Scope(level, code)
