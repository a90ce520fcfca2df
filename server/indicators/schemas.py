"""API shapes for indicator values, the board's table and drill-downs.

IndicatorValueRead has the fields of service.IndicatorValue (a dataclass, returned via asdict).
Counts stay integers in the JSON: `Number` keeps an int an int and a float a float.
"""

from __future__ import annotations

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
