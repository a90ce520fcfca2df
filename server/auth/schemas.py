"""API shapes for authentication and users."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from server.auth.enums import Role


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


class UserCreate(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    full_name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=128)
    role: Role
    phone: str | None = Field(default=None, max_length=32)
    district_code: str | None = Field(default=None, pattern=r"^\d{6}$")
    street_code: str | None = Field(default=None, pattern=r"^\d{12}$")
