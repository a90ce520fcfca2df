"""API shapes for authentication and users."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from server.auth.enums import Role
from server.auth.security import MAX_PASSWORD_BYTES
from server.inputs import Line


def _bcrypt_fits(password: str) -> str:
    """bcrypt reads 72 bytes at most (and bcrypt 5 refuses more): counted in UTF-8, not in characters."""
    size = len(password.encode("utf-8"))  # Line has refused lone surrogates (and NUL, which bcrypt refuses)
    if size > MAX_PASSWORD_BYTES:
        raise PydanticCustomError("password_too_long", "password is {size} bytes in UTF-8, at most {limit}",
                                  {"size": size, "limit": MAX_PASSWORD_BYTES})
    return password


Password = Annotated[Line, Field(min_length=8, max_length=128), AfterValidator(_bcrypt_fits)]


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    full_name: str
    role: Role
    district_code: str | None
    street_code: str | None
    is_active: bool
    must_change_password: bool = Field(description="the password was set by an administrator: the apps ask the "
                                       "user to choose their own (POST /auth/password)")


class UserCreate(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    full_name: Line = Field(min_length=1, max_length=64)
    password: Password
    role: Role
    phone: Line | None = Field(default=None, max_length=32)
    district_code: str | None = Field(default=None, pattern=r"^\d{6}$")
    street_code: str | None = Field(default=None, pattern=r"^\d{12}$")


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


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=128)
    new_password: Password
