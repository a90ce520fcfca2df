"""The one error a library raises for input it refuses.

No HTTP inside: a stable machine code and the reason in Chinese and English, so the server (one
exception handler, 422) and the CLI (exit 2) can show it unchanged. gis raises it for a wrong CRS,
a missing .prj, bad geometry or a malformed code; devices for a malformed device code, topic or
GB/T 28181 id. The code, not the class, tells them apart.
"""

from __future__ import annotations


class InputError(ValueError):
    """Input a library refuses, with a stable `code` and `message_zh` / `message_en`."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(f"{code}: {message_en}")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
