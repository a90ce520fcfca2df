"""The kinds of key person (重点人员) and how often each must be followed up: data, not code.

types.json holds the defaults; GRIDOPS_KEY_PERSON_TYPES points at a district's own file. A type's
`interval_days` is the longest a person of that type may go without an information update (a visit
that records one, or the registration itself); `indicator` names the catalogue code of that type's
managed rate (规范化管理率), if the declarations ask for one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from server.config import get_settings

DEFAULT_TYPES = Path(__file__).with_name("types.json")


class TypesFileError(ValueError):
    """The types file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class KeyPersonType:
    code: str
    name_zh: str
    interval_days: int
    indicator: str | None = None


def parse(data: object, where: str) -> dict[str, KeyPersonType]:
    if not isinstance(data, dict) or not isinstance(data.get("types"), list) or not data["types"]:
        raise TypesFileError(f"{where}: expected {{\"types\": [...]}} with at least one type")
    out: dict[str, KeyPersonType] = {}
    for i, item in enumerate(data["types"]):
        try:
            t = KeyPersonType(code=str(item["code"]), name_zh=str(item["name_zh"]),
                              interval_days=int(item["interval_days"]), indicator=item.get("indicator"))
        except (KeyError, TypeError, ValueError) as exc:
            raise TypesFileError(f"{where}: type #{i + 1} needs code, name_zh and interval_days ({exc})") from exc
        if not t.code.isidentifier() or t.code in out:
            raise TypesFileError(f"{where}: type #{i + 1}: code {t.code!r} is not a unique identifier")
        if not 1 <= t.interval_days <= 366:
            raise TypesFileError(f"{where}: type {t.code}: interval_days must be 1–366")
        out[t.code] = t
    return out


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, KeyPersonType]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TypesFileError(f"{path}: {exc}") from exc
    return parse(data, path)


def key_person_types() -> dict[str, KeyPersonType]:
    return _load(get_settings().key_person_types or str(DEFAULT_TYPES))
