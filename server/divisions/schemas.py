"""API shapes for the administrative tree."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

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


class OutlineLevel(StrEnum):
    street = "street"
    community = "community"


class OutlineSource(StrEnum):
    """Where an outline comes from: the imported official boundary, or the union of the active grids
    (an approximation: it leaves out what lies in no grid). A street mixes its communities' sources."""

    boundary = "boundary"
    grids = "grids"
    mixed = "mixed"


class OutlineProperties(BaseModel):
    code: str
    name: str
    level: OutlineLevel
    street_code: str
    district_code: str
    source: OutlineSource


class OutlineFeature(BaseModel):
    type: Literal["Feature"]
    id: str = Field(description="the street or community code")
    properties: OutlineProperties
    geometry: dict[str, Any] = Field(description="GeoJSON MultiPolygon in EPSG:4490")


class OutlineFeatureCollection(BaseModel):
    """RFC 7946 FeatureCollection of the streets or communities of one's territory, all of them."""

    type: Literal["FeatureCollection"]
    features: list[OutlineFeature]
