"""What the API accepts, defined once: bounded pages, cursors and ids, sane datetimes, clean text.

Every route takes its `page`, `cursor` and integer ids from here, so no number a client sends
can overflow Python's date arithmetic or the database's integer columns (a fuzzer's
`page=1180591620717411303424` was a 500 on six lists). Request bodies type their text as
`Line` (one line: names, codes, addresses) or `Text` (prose: descriptions, notes, which keep
tab and line breaks), and their datetimes as `ApiDatetime`: control characters and absurd times
are refused with 422, never stored to break an export or a query later.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Path, Query, Request
from pydantic import AfterValidator, AwareDatetime, Field
from pydantic_core import PydanticCustomError

from server.errors import InvalidInput

MAX_ID = 2**31 - 1  # ids and history cursors are INTEGER columns: 32-bit on PostgreSQL (SQLite's are 64)
MAX_PAGE_SIZE = 500
MAX_PAGE = 1_000_000  # (page - 1) × page_size ≤ 5e9: a 64-bit OFFSET on both back ends, for every page size used
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # nothing gridops records happened before
LATEST = datetime(2100, 1, 1, tzinfo=UTC)  # exclusive; far enough for any deadline or plan

Page = Annotated[int, Query(ge=1, le=MAX_PAGE)]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[int, Query(ge=0, le=MAX_ID, description="a change id (history row), 0 for the start")]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int, Query(ge=1, le=MAX_ID)]
PhotoKey = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="sha256 returned by POST /photos")]

# Characters no stored text may hold: C0 and C1 controls and DEL (XML 1.0, hence xlsx and docx,
# cannot hold most of them; PostgreSQL refuses NUL), lone surrogates (not UTF-8) and U+FFFE/U+FFFF.
_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff"
_IN_TEXT = re.compile(f"[{_CONTROL}]")
_IN_LINE = re.compile(f"[\t\n\r{_CONTROL}]")

# Codes of the refusals below: when every error of a request is one of them, it is the envelope's code.
MESSAGES = {
    "control_characters": ("text contains control characters", "文本含有控制字符"),
    "datetime_out_of_range": ("date or time outside 2000-01-01 .. 2099-12-31 (UTC)",
                              "日期时间超出 2000—2099 年范围"),
    "password_too_long": ("the password is longer than 72 bytes in UTF-8", "密码超过 72 字节（UTF-8）"),
}


def has_control_characters(text: str, *, multiline: bool = False) -> bool:
    return (_IN_TEXT if multiline else _IN_LINE).search(text) is not None


def _refuse_controls(text: str, *, multiline: bool) -> str:
    found = (_IN_TEXT if multiline else _IN_LINE).search(text)
    if found:
        allowed = "tab and line breaks only" if multiline else "no tab or line break either"
        raise PydanticCustomError("control_characters",
                                  "control character {char} at position {position} ({allowed})",
                                  {"char": f"U+{ord(found.group()):04X}", "position": found.start(),
                                   "allowed": allowed})
    return text


def _line(text: str) -> str:
    return _refuse_controls(text, multiline=False)


def _text(text: str) -> str:
    return _refuse_controls(text, multiline=True)


Line = Annotated[str, AfterValidator(_line)]  # one line: names, codes, addresses, phone numbers
Text = Annotated[str, AfterValidator(_text)]  # prose: tab, LF and CR allowed


def _out_of_range(value: object) -> PydanticCustomError:
    return PydanticCustomError("datetime_out_of_range", "{value} is outside 2000-01-01 .. 2099-12-31 (UTC)",
                               {"value": str(value)})


def datetime_in_range(value: datetime) -> bool:
    """Whether an aware time is one gridops accepts (2000–2099 in UTC); also for times read from files."""
    try:
        utc = value.astimezone(UTC)  # 0001-01-01T12:00+14:00 has no UTC: OverflowError
    except OverflowError:
        return False
    return EARLIEST <= utc < LATEST


def _datetime_in_range(value: datetime) -> datetime:
    if not datetime_in_range(value):
        raise _out_of_range(value)
    return value


def _date_in_range(value: date) -> date:
    if not EARLIEST.year <= value.year < LATEST.year:
        raise _out_of_range(value)
    return value


def _when_in_range(value: datetime | date) -> datetime | date:
    return _datetime_in_range(value) if isinstance(value, datetime) else _date_in_range(value)


ApiDatetime = Annotated[AwareDatetime, AfterValidator(_datetime_in_range)]  # with an offset, 2000–2099
ApiDate = Annotated[date, AfterValidator(_date_in_range)]  # 2000–2099
# A time with an offset, or a bare date (the ledger's 安装日期, midnight Asia/Shanghai): checked once, after
# the union has chosen, so an absurd value is one datetime_out_of_range, not an error per member.
ApiDatetimeOrDate = Annotated[AwareDatetime | date, AfterValidator(_when_in_range)]


def year_in_range(year: int) -> bool:
    """For the short forms parsed by hand (periods, months): the same years as ApiDatetime."""
    return EARLIEST.year <= year < LATEST.year


async def clean_url(request: Request) -> None:
    """Router dependency: path and query parameters hold no control characters (a NUL in a
    `q=` or a grid code would reach PostgreSQL, which refuses it with a 500). Async because it
    only reads the URL: FastAPI runs a plain `def` dependency in a worker thread (see server.deps)."""
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        if isinstance(value, str) and has_control_characters(value):
            en, zh = MESSAGES["control_characters"]
            raise InvalidInput(f"{en}: parameter {name!r}", f"{zh}：参数 {name}", code="control_characters",
                               detail=[{"loc": ["query" if name in request.query_params else "path", name],
                                        "msg": en, "type": "control_characters"}])
