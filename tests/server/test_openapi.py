"""The OpenAPI document describes every response: the dashboard and the app are generated from it.

It validates; every operation has a typed success and documents the error envelope the handlers
really send; component names are unique; openapi-python-client builds a full client without a warning.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from server.errors import Conflict
from server.main import create_app
from server.openapi import ErrorBody

ROOT = Path(__file__).resolve().parents[2]
ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
PUBLIC = {("get", "/api/v1/health")}  # no token and no input: none of the errors can happen
UPLOADS = {("post", "/api/v1/grids/import"), ("post", "/api/v1/devices/import"), ("post", "/api/v1/photos"),
           ("post", "/api/v1/users/import"), ("post", "/api/v1/rentals/import"),
           ("post", "/api/v1/indicators/self-evaluation"), ("post", "/api/v1/indicators/monitoring")}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FILES = {
    ("get", "/api/v1/grids/export"): {"application/zip"},
    ("get", "/api/v1/events/export"): {XLSX, "text/csv"},
    ("get", "/api/v1/events/feed"): {"text/event-stream"},
    ("get", "/api/v1/devices/feed"): {"text/event-stream"},
    ("post", "/api/v1/indicators/self-evaluation"): {XLSX},
    ("post", "/api/v1/indicators/monitoring"): {XLSX},
    ("get", "/api/v1/photos/{sha256}"): {"image/jpeg", "image/png", "image/heic"},
    ("get", "/api/v1/reports/weekly/{report_id}.docx"): {DOCX},
    ("get", "/api/v1/assessment/{month}/sheet.xlsx"): {XLSX},
}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return create_app().openapi()


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def test_document_validates(doc: dict[str, Any]) -> None:
    validate(doc)


def test_every_success_is_typed_or_a_file(doc: dict[str, Any]) -> None:
    untyped = []
    for method, path, op in _operations(doc):
        successes = {code: r for code, r in op["responses"].items() if code.startswith("2")}
        assert successes, f"{method} {path} documents no 2xx"
        for code, resp in successes.items():
            content = resp.get("content", {})
            if (method, path) in FILES:
                assert set(content) == FILES[method, path], f"{method} {path} {code}"
                continue
            schema = content.get("application/json", {}).get("schema", {})
            if "$ref" not in schema.get("items", schema):  # a model, or a list of models
                untyped.append(f"{method.upper()} {path} {code}: {schema}")
    assert not untyped


def test_every_operation_documents_the_error_envelope(doc: dict[str, Any]) -> None:
    for method, path, op in _operations(doc):
        if (method, path) in PUBLIC:
            continue
        expected = {"401", "403", "404", "409", "413", "422", "500", "503"}  # 413: every body has a limit
        for code in expected:
            assert op["responses"].get(code, {}).get("content") == ERROR_REF, f"{method} {path} {code}"
    assert "HTTPValidationError" not in doc["components"]["schemas"]  # FastAPI's {"detail"}: never sent


def test_upload_routes_are_the_ones_with_a_large_body_limit(doc: dict[str, Any]) -> None:
    """Only the upload routes may take more than max_body_mb, and they say so in their 413."""
    from server.config import get_settings
    from server.main import upload_limits

    assert {path for _, path in UPLOADS} == set(upload_limits(get_settings()))
    for method, path in UPLOADS:
        assert "upload_too_large" in doc["paths"][path][method]["responses"]["413"]["description"]


def test_component_names_and_titles_are_unique(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    assert not [name for name in schemas if "__" in name]  # pydantic's module-qualified fallback for a clash
    titles = [s.get("title", name) for name, s in schemas.items()]
    assert sorted(t for t in set(titles) if titles.count(t) > 1) == []


def test_error_body_is_what_the_handlers_send(client) -> None:  # type: ignore[no-untyped-def]
    for response in (client.get("/api/v1/grids"), client.get("/api/v1/nowhere"),
                     client.post("/api/v1/auth/token", data={})):
        assert response.status_code in (401, 404, 422)
        ErrorBody.model_validate(response.json())
    err = Conflict("x", "x", code="illegal_transition", detail={"allowed_next": ["accepted"]})
    assert ErrorBody.model_validate(err.body()).error.detail == {"allowed_next": ["accepted"]}


def test_openapi_python_client_generates_a_full_client(doc: dict[str, Any], tmp_path: Path) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    generator, out = Path(sys.executable).parent / "openapi-python-client", tmp_path / "gridops_client"
    run = subprocess.run(
        [str(generator), "generate", "--path", str(spec), "--meta", "none", "--output-path", str(out),
         "--config", str(ROOT / "openapi-client.yaml"), "--fail-on-warning"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert not [line for line in output.splitlines() if re.search("warning", line, re.IGNORECASE)], output
    retire = [p for p in out.rglob("*.py") if '"/api/v1/grids/{code}/retire"' in p.read_text()]
    assert len(retire) == 1 and '"method": "post"' in retire[0].read_text()
    check = subprocess.run([sys.executable, "-c", f"import gridops_client.api.grids.{retire[0].stem}"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120, check=False)
    assert check.returncode == 0, check.stderr
