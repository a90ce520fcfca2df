"""Errors raised by the gis library for bad input.

The library knows nothing of HTTP; each error carries a stable machine code and a message
in Chinese and English so the server (and the CLI) can show a precise reason unchanged.
"""

from __future__ import annotations


class GisInputError(ValueError):
    """Input the library refuses: wrong CRS, missing .prj, unreadable attributes, bad geometry."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(f"{code}: {message_en}")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
