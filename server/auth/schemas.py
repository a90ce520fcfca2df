"""API shapes for authentication and users."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from server.auth.enums import Role
from server.auth.phones import masked
from server.auth.security import MAX_PASSWORD_BYTES
from server.inputs import Line
from server.sheets import RowError


def _bcrypt_fits(password: str) -> str:
    """bcrypt reads 72 bytes at most (and bcrypt 5 refuses more): counted in UTF-8, not in characters."""
    size = len(password.encode("utf-8"))  # Line has refused lone surrogates (and NUL, which bcrypt refuses)
    if size > MAX_PASSWORD_BYTES:
        raise PydanticCustomError("password_too_long", "password is {size} bytes in UTF-8, at most {limit}",
                                  {"size": size, "limit": MAX_PASSWORD_BYTES})
    return password


# The length and strength rules are the policy's (server.auth.passwords: 422 with a reason in both
# languages, GET /auth/password-policy); the schema only keeps what bcrypt can read.
Password = Annotated[Line, Field(min_length=1, max_length=128), AfterValidator(_bcrypt_fits)]


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    must_change_password: bool = Field(default=False, description="true: an initial or reset password; every "
                                       "endpoint but POST /auth/password and GET /auth/me answers 403 "
                                       "password_change_required until it is changed")


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    full_name: str
    role: str = Field(description="a Role; shown as stored, so an administrator sees (and can disable) an "
                      "account whose role this version does not know")
    district_code: str | None
    street_code: str | None
    is_active: bool
    full_time: bool | None = None
    must_change_password: bool = False
    password_changed_at: datetime | None = None
    phone_masked: str | None = Field(default=None, description="138****8000: the full number is never sent")

    @classmethod
    def of(cls, user: Any) -> UserRead:
        return cls.model_validate(user).model_copy(update={"phone_masked": masked(user.phone_enc)})


class UserPage(BaseModel):
    items: list[UserRead]
    total: int
    page: int
    page_size: int


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=128)
    new_password: Password


class PasswordRule(BaseModel):
    code: str
    message: str
    message_zh: str


class PasswordPolicy(BaseModel):
    min_length: int
    max_bytes: int
    min_score: int = Field(description="zxcvbn score required (0–4)")
    rules: list[PasswordRule]


class TemporaryPassword(BaseModel):
    """Shown once to the administrator, who hands it to the user; it must be changed at the next login."""

    username: str
    password: str
    must_change_password: bool = True


class RosterUserRead(BaseModel):
    row: int
    username: str
    full_name: str
    role: Role
    district_code: str | None
    street_code: str | None
    phone_masked: str
    full_time: bool | None
    grid_codes: list[str]
    start_date: date


class RosterMoveRead(BaseModel):
    row: int
    username: str
    from_street: str | None
    to_street: str | None
    closed: list[str] = Field(description="grid codes whose assignment ends at `at`")
    opened: list[str] = Field(description="grid codes whose assignment starts at `at`")
    at: datetime


class InitialPasswordRead(BaseModel):
    username: str
    full_name: str
    password: str


class RosterReportRead(BaseModel):
    filename: str
    rows: int
    ok: bool
    applied: bool = Field(description="false: a dry run, or errors (nothing was written)")
    errors: list[RowError]
    users: list[RosterUserRead] = Field(description="users created (applied) or that would be")
    existing: list[str] = Field(description="usernames of people already present (same phone and name): skipped")
    moves: list[RosterMoveRead] = Field(description="grid workers already present whose grids (or street) change; "
                                        "the old assignments end when the new ones start, history is kept")
    assignment_count: int
    passwords: list[InitialPasswordRead] = Field(description="only when applied: each new user's initial password, "
                                                 "shown this once; the user must change it at the first login")


class UserCreate(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    full_name: Line = Field(min_length=1, max_length=64)
    password: Password
    role: Role
    phone: Line | None = Field(default=None, max_length=32)
    district_code: str | None = Field(default=None, pattern=r"^\d{6}$")
    street_code: str | None = Field(default=None, pattern=r"^\d{12}$")


class AdminActionRead(BaseModel):
    id: int
    at: datetime
    actor: str = Field(description="the administrator's username, or cli")
    action: str = Field(description="user_create, user_disable, user_enable, password_reset, roster_import, "
                        "assignment_change")
    target: str | None = Field(description="the username acted on")
    detail: str | None


class AdminActionPage(BaseModel):
    items: list[AdminActionRead]
    total: int
    page: int
    page_size: int


class AppSessionIn(BaseModel):
    """What the mobile app sends on each sync; its version string as `gridops-app/<version>` names it."""

    app_version: str = Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z.+_-]+$")


class AppSessionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: date = Field(description="the day in Asia/Shanghai")
    app_version: str
    first_at: datetime
    last_at: datetime
    syncs: int
