"""Errors the devices library raises for bad input.

Like gis.errors: no HTTP inside, a stable code and a zh + en message, so the server and the
CLI can pass the reason on unchanged.
"""

from __future__ import annotations


class DeviceInputError(ValueError):
    """Input the library refuses: a malformed device code, topic or GB/T 28181 id."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(f"{code}: {message_en}")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
