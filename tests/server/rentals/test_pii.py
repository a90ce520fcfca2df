"""Personal data: ID check digits, masks, encryption round trip, keyed hash."""

from __future__ import annotations

import pytest

from server.rentals import pii
from tests.server.rentals.conftest import ID_A, valid_id


@pytest.mark.parametrize(("value", "ok"), [
    (ID_A, True), (ID_A.lower(), True), (valid_id("44010619900101123"), True),
    ("110105194912310021", False),  # wrong check digit
    ("11010519491231002", False), ("A10105194912310021", False), ("", False),
])
def test_resident_id_check(value: str, ok: bool) -> None:
    assert (pii.resident_id_problem(value) is None) is ok


@pytest.mark.parametrize(("func", "value", "masked"), [
    (pii.mask_id, ID_A, "110***********002X"),
    (pii.mask_phone, "13800138000", "138****8000"),
    (pii.mask_name, "欧阳娜娜", "欧***"),
    (pii.mask_name, "张三", "张*"),
    (pii.mask_id, None, None),
    (pii.mask_phone, "12345", "*****"),
])
def test_masks(func, value, masked) -> None:  # type: ignore[no-untyped-def]
    assert func(value) == masked


def test_encryption_round_trip_and_hash() -> None:
    token = pii.encrypt(ID_A)
    assert token and ID_A not in token and pii.decrypt(token) == ID_A
    assert pii.encrypt(ID_A) != token  # random IV
    assert pii.id_hash(ID_A) == pii.id_hash(ID_A.lower() + " ") and len(pii.id_hash(ID_A)) == 64
    assert pii.decrypt("not-a-token") == "[key mismatch]"
    assert pii.decrypt(None) is None
