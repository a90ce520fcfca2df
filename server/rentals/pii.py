"""Personal data of tenants and landlords: encryption at rest, masking, validation, audit.

ID numbers and phones are encrypted with Fernet under GRIDOPS_PII_KEY (server.personal_data,
shared with staff phones); a keyed hash of the normalised ID number lets the service find a person
again without decrypting. Lists show masked values; the full values are returned only to the roles
that need them (district_admin, street_admin), and each such read is written to pii_access_log.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from server.auth.enums import Role
from server.auth.models import User
from server.errors import Forbidden, InvalidInput
from server.personal_data import decrypt, encrypt, keyed_hash, mask_phone  # noqa: F401  (this module's surface)
from server.rentals.models import PiiAccess
from server.territory import role_of

FULL_ACCESS = frozenset({Role.district_admin, Role.street_admin})
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_RESIDENT_ID = re.compile(r"[1-9][0-9]{16}[0-9X]")
_PHONE = re.compile(r"\+?[0-9][0-9 -]{5,19}")


def id_hash(id_number: str) -> str:
    return keyed_hash(id_number.strip().upper())


def resident_id_problem(value: str) -> str | None:
    """Why a 居民身份证号码 (GB 11643-1999, 18 characters with check digit) is wrong, or None."""
    v = value.strip().upper()
    if not _RESIDENT_ID.fullmatch(v):
        return "a resident ID number has 18 characters: 17 digits and a digit or X"
    check = _CHECK[sum(int(c) * w for c, w in zip(v[:17], _WEIGHTS)) % 11]
    if v[17] != check:
        return f"check digit should be {check}"
    return None


def check_id(id_type: str, value: str) -> str:
    value = value.strip().upper()
    if id_type == "resident_id" and (problem := resident_id_problem(value)):
        raise InvalidInput(f"invalid ID number: {problem}", "身份证号码无效（校验位或长度错误）", code="invalid_id_number")
    if id_type == "other" and not 4 <= len(value) <= 32:
        raise InvalidInput("document number must have 4–32 characters", "证件号码须为 4–32 位", code="invalid_id_number")
    return value


def check_phone(value: str) -> str:
    if not _PHONE.fullmatch(value.strip()):
        raise InvalidInput("invalid phone number", "电话号码无效", code="invalid_phone")
    return value.strip()


def mask_id(value: str | None) -> str | None:
    if not value:
        return value
    return value[:3] + "*" * max(len(value) - 7, 1) + value[-4:] if len(value) > 7 else "*" * len(value)


def mask_name(value: str | None) -> str | None:
    if not value:
        return value
    return value[0] + "*" * (len(value) - 1)


def may_read_full(user: User) -> bool:
    return role_of(user) in FULL_ACCESS


def audit_read(db_session: Session, *, user: User, record_type: str, record_id: int, fields: str,
               now: datetime) -> None:
    """Refuse roles without full access; log the read for the others (committed with the request)."""
    if not may_read_full(user):
        raise Forbidden(f"role {user.role} may not read full personal data", "当前角色无权查看完整个人信息",
                        code="pii_forbidden")
    db_session.add(PiiAccess(at=now, user_id=user.id, username=user.username, role=user.role,
                             record_type=record_type, record_id=record_id, fields=fields))
    db_session.flush()
