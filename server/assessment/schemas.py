"""What the assessment API reads and writes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field

from server.inputs import Line, Text

Money = Annotated[Decimal, Field(ge=0, le=Decimal("1e12"), decimal_places=2, description="yuan, at most 2 decimals")]


class ItemRead(BaseModel):
    code: str
    name_zh: str
    kind: str
    max_points: Decimal | None
    score: Decimal
    text: str
    records: list[dict[str, Any]]  # the first records behind the item (the drill-down)
    records_total: int


class WorkerScoreRead(BaseModel):
    username: str
    full_name: str
    street_code: str
    coverage: Decimal
    parts: list[dict[str, Any]]
    items: list[ItemRead]
    total: Decimal
    assessed: bool
    rank: int | None
    version: int  # 0: from the data now; ≥ 1: the frozen version


class StreetStatus(BaseModel):
    street_code: str
    street_signed_at: datetime | None
    district_signed_at: datetime | None
    frozen: bool
    version: int


class AssessmentRead(BaseModel):
    month: str
    scope: str
    rule_version: str
    street_averages: dict[str, Decimal]
    streets: list[StreetStatus]
    workers: list[WorkerScoreRead]
    total: int
    page: int
    page_size: int


class AdjustmentCreate(BaseModel):
    username: Line = Field(min_length=1, max_length=64)
    item_code: Line = Field(min_length=1, max_length=32)
    reason: Text = Field(min_length=2, max_length=500, description="why: the complaint, the commendation")


class AdjustmentRead(BaseModel):
    id: int
    month: str
    username: str
    item_code: str
    points: Decimal
    reason: str
    at: datetime


class CorrectionCreate(BaseModel):
    reason: Text = Field(min_length=2, max_length=500)


class PayCreate(BaseModel):
    pool: Money
    street_pools: dict[Annotated[str, Field(pattern=r"^[0-9]{12}$")], Money] = Field(
        default_factory=dict, max_length=200, description="streets given their own amount: 12-digit code → yuan")
    draft: bool = Field(False, description="from the data now, for months not yet frozen")


class WorkerPayRead(BaseModel):
    username: str
    full_name: str
    score: Decimal
    coverage: Decimal
    amount: Decimal
    note: str


class StreetPayRead(BaseModel):
    street_code: str
    headcount: float
    amount: Decimal
    fixed: bool
    workers: list[WorkerPayRead]


class PayRead(BaseModel):
    period: str
    pool: Decimal
    draft: bool
    rule: str
    streets: list[StreetPayRead]
