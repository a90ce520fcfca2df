"""API shapes for grids."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from server.inputs import Line


class GridType(StrEnum):
    comprehensive = "comprehensive"  # 综合网格
    dedicated = "dedicated"  # 专属网格


GRID_TYPE_LABELS_ZH = {GridType.comprehensive: "综合网格", GridType.dedicated: "专属网格"}
GRID_TYPE_FROM_TEXT = {"综合网格": GridType.comprehensive, "专属网格": GridType.dedicated,
                       "comprehensive": GridType.comprehensive, "dedicated": GridType.dedicated}


class GridProperties(BaseModel):
    """A grid without its geometry: the properties of a GeoJSON feature."""

    code: str
    name: str
    grid_type: GridType
    grid_type_zh: str
    community_code: str
    street_code: str
    district_code: str
    area_m2: float
    valid_from: datetime
    retired_at: datetime | None
    replaced_by_code: str | None


class GridRead(GridProperties):
    geometry: dict[str, Any] | None = Field(default=None, description="GeoJSON MultiPolygon in EPSG:4490")


class GridPage(BaseModel):
    items: list[GridRead]
    total: int
    page: int
    page_size: int


class GridSort(StrEnum):
    code = "code"
    name = "name"
    area = "area"
    code_desc = "-code"
    name_desc = "-name"
    area_desc = "-area"


class FindingRead(BaseModel):
    kind: str
    kind_zh: str
    grid_codes: list[str]
    area_m2: float | None
    detail: str
    blocking: bool


class GridImportReport(BaseModel):
    """What an import did, or (dry run / refused) would have done, and why."""

    source_epsg: int
    encoding: str
    features: int
    created: list[str]
    unchanged: list[str]
    findings: list[FindingRead]
    committed: bool


class GridRetireRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo (replaced_by) is refused, not ignored

    replaced_by_code: str | None = Field(default=None, pattern=r"^\d{15}$")


class AssignmentRequest(BaseModel):
    username: Line = Field(max_length=64)


class AssignmentRead(BaseModel):
    grid_code: str
    username: str
    valid_from: datetime


class GridFeature(BaseModel):
    type: Literal["Feature"]
    id: str = Field(description="the grid code")
    properties: GridProperties
    geometry: dict[str, Any] = Field(description="GeoJSON MultiPolygon in EPSG:4490")


class GridFeatureCollection(BaseModel):
    """RFC 7946 FeatureCollection, one page of grids, with the paging of the list endpoint."""

    type: Literal["FeatureCollection"]
    features: list[GridFeature]
    total: int
    page: int
    page_size: int
