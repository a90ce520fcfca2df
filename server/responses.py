"""Answers already built as pydantic models, sent as they are.

FastAPI validates what a view returns against its response_model and serializes it again; for a
plain `def` view it runs that validation in a worker thread of its own, one more hop to the thread
pool and back per request. A view on a hot path that has built its response model itself (POST
/events, and the requests of every phone's sync and of the street staff's lists: an event, its
changes, a page of events, the app session; bench/bench_request_cpu.py) returns
`model_response(...)` instead: the same JSON, written once. The route keeps its response_model for
the OpenAPI document.
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


def model_response(model: BaseModel, status_code: int = 200) -> Response:
    """`model` as the JSON body FastAPI would have written for it (by alias, as FastAPI does)."""
    return Response(content=model.model_dump_json(by_alias=True), status_code=status_code,
                    media_type="application/json")
