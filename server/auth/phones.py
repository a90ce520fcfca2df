"""Staff phone numbers: one normal form, encrypted at rest, found again by keyed hash, shown masked.

A roster's phone arrives as text (`138 0013 8000`, `+86-13800138000`), or as a number when the
cell was numeric in Excel (13800138000, or 13800138000.0 through a CSV export): all become the
same 11 digits (landlines keep their area code and hyphen), so the duplicate check holds across
writings. Scientific notation (`1.38E+10`, what Excel shows in a narrow column and a CSV export
keeps) has lost digits: it is refused, never guessed.
"""

from __future__ import annotations

import re

from server.personal_data import decrypt, encrypt, keyed_hash, mask_phone

_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}")


def normalise(value: object) -> str | None:
    """The phone's normal form, or None if it is not a Chinese mobile or landline number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):  # an Excel number cell
        if not value.is_integer():
            return None
        value = int(value)
    text = re.sub(r"[\s\u3000()（）]", "", str(value))
    text = re.sub(r"^(\d+)\.0+$", r"\1", text)  # a number cell written out by a CSV export
    text = re.sub(r"^(\+|00)86-?", "", text)
    if _MOBILE.fullmatch(text.replace("-", "")):
        return text.replace("-", "")
    return text if _LANDLINE.fullmatch(text) else None


def hash_phone(phone: str) -> str:
    return keyed_hash("phone:" + phone)


def stored(phone: str | None) -> tuple[str | None, str | None]:
    """(phone_enc, phone_hash) for a normalised phone."""
    return (encrypt(phone), hash_phone(phone)) if phone else (None, None)


def masked(phone_enc: str | None) -> str | None:
    return mask_phone(decrypt(phone_enc))
