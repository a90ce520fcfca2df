"""Text as Office files can hold it: XML 1.0 has no place for most control characters.

openpyxl raises IllegalCharacterError on them and python-docx (lxml) ValueError, so one stored
description holding ESC made every export that included it fail, for every user. The API
refuses such text on input (server.inputs); every xlsx and docx writer still passes what it
writes through `office_text`, which strips what older rows, imports or other sources may hold.
"""

from __future__ import annotations

import re
from typing import TypeVar

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # C0 controls but tab, LF and CR

_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")  # lone surrogates and the two non-characters lxml refuses

T = TypeVar("T")


def office_text(value: T) -> T:
    """`value` without the characters xlsx and docx cannot store; anything but a string unchanged."""
    if isinstance(value, str):
        return _NOT_XML.sub("", ILLEGAL_CHARACTERS_RE.sub("", value))  # type: ignore[return-value]
    return value
