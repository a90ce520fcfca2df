"""API shapes for the administrative tree."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DivisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str


class StreetRead(DivisionRead):
    district_code: str


class CommunityRead(DivisionRead):
    street_code: str
