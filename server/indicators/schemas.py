"""API shapes for indicator values, the board's table and drill-downs.

IndicatorValueRead has the fields of service.IndicatorValue (a dataclass, returned via asdict).
Counts stay integers in the JSON: `Number` keeps an int an int and a float a float.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, WithJsonSchema

Number = Annotated[int | float, WithJsonSchema({"type": "number"})]


class IndicatorValueRead(BaseModel):
    code: str
    name_zh: str
    unit: str
    direction: str = Field(description=">= or <=: which side of the target is met")
    target: Number | None
    value: Number | None = Field(description="None is no data, never a fake 100 %")
    numerator: Number
    denominator: Number
    status: str = Field(description="met | not_met | no_data")
    scope: str
    period: str


class AreaRow(BaseModel):
    scope: str
    values: list[IndicatorValueRead] = Field(description="one per code of `indicators`, in that order")


class IndicatorAreas(BaseModel):
    """The scope (first row) and every area of `level` inside it: the board's table."""

    scope: str
    period: str
    level: str
    indicators: list[str]
    rows: list[AreaRow]


class Drilldown(BaseModel):
    """The records behind a value; each row's keys are the Chinese column labels of that indicator."""

    code: str
    scope: str
    period: str
    rows: list[dict[str, Any]]
    count: int


class CardGrid(BaseModel):
    code: str
    name: str
    street_code: str
    street_name: str
    community_code: str
    community_name: str


class CardWorker(BaseModel):
    username: str
    name: str
    since: datetime = Field(description="start of the assignment to this grid")


class CardEvents(BaseModel):
    open: int = Field(description="events neither closed nor ended (rejected, reviewed, merged)")
    warning: int = Field(description="open, closure due soon (预警), not yet overdue")
    overdue: int = Field(description="open and past the closure time limit (超期)")


class CardDevices(BaseModel):
    online: int
    offline: int
    unknown: int = Field(description="registered, never heard from")
    total: int = Field(description="devices in service: online + offline + unknown")


class CardIndicator(BaseModel):
    code: str
    name: str
    value: Number | None = Field(description="None is no data")
    unit: str
    target: Number | None = Field(description="the catalogue's target")
    direction: str = Field(description=">= or <=: which side of the target is met")
    met: bool | None = Field(description="None: no data")


class GridCard(BaseModel):
    """What the map shows for one grid, in one request."""

    grid: CardGrid
    period: str
    workers: list[CardWorker]
    events: CardEvents
    devices: CardDevices
    indicators: list[CardIndicator] = Field(description="the catalogue indicators defined for grids")
