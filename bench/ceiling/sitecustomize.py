"""Put on PYTHONPATH by bench/bench_report_ceiling.py for one `gridops serve` only, never by the product.

With GRIDOPS_BENCH_CEILING=1 a report's service does its work once and answers every later report
with that first result: POST /events then costs what the HTTP stack costs it (uvicorn, the
middlewares, the token's user, the role check, the body's validation, the thread hop, the answer
built and sent) and nothing of the database work. Its rate against GET /health is the highest ratio
any report can reach on this stack."""

import os

if os.environ.get("GRIDOPS_BENCH_CEILING") == "1":
    from server.events import service

    _submit, _first = service.submit, []

    def _answer_the_first(**kwargs):  # type: ignore[no-untyped-def]
        if not _first:
            _first.append(_submit(**kwargs))
        return _first[0]

    service.submit = _answer_the_first
