"""API shapes for the administrative tree."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from server.inputs import Line
from server.sheets import RowError


class DivisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str


class StreetRead(DivisionRead):
    district_code: str


class CommunityRead(DivisionRead):
    street_code: str


class CommunityDetail(CommunityRead):
    retired_at: datetime | None = None


class CommunityCreate(BaseModel):
    """A new community: its 12-digit code must sit under an existing street and never have been used."""

    code: str = Field(pattern=r"^[0-9]{12}$", examples=["440112001007"])
    name: Line = Field(min_length=1, max_length=64)


class CommunityRename(BaseModel):
    name: Line = Field(min_length=1, max_length=64)


class DivisionImportReport(BaseModel):
    """What a division-list import did or, refused / not applied, would have done."""

    rows: int
    districts: int = Field(0, description="new districts (created, or to be created when applied)")
    streets: int = 0
    communities: int = 0
    unchanged: int = Field(0, description="rows already registered under the same name")
    created: list[str] = []
    errors: list[RowError] = []
    committed: bool


class BoundaryFinding(BaseModel):
    kind: str
    kind_zh: str
    community_codes: list[str]
    area_m2: float | None = None
    detail: str
    blocking: bool = True


class BoundaryImportReport(BaseModel):
    """Community boundaries: set all or none; findings as for grids (invalid rings, overlaps, unknown codes)."""

    source_epsg: int
    encoding: str
    features: int
    updated: list[str] = []
    findings: list[BoundaryFinding] = []
    committed: bool
