"""The budget office's tables from an uploaded declaration: the 绩效自评表 (self-evaluation) and the
绩效运行监控表 (quarterly monitoring), as `gridops metrics self-eval|monitoring` writes them.

The CLI and the API share this: the declaration is read by the metrics library, the actual values
come from the indicator engine for the scope, and the workbook is written by the metrics library.
An upload is checked before openpyxl reads it (an .xlsx name, a zip that is no bomb); a file that
is no declaration is a 422 that says what was expected (metrics.declaration's messages, zh and en).
"""

from __future__ import annotations

import re
import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from metrics.budget import BudgetExecution
from metrics.declaration import Declaration, DeclarationError, read_declaration
from metrics.monitoring import write_monitoring
from metrics.self_evaluation import ActualValue, write_self_evaluation
from gis.codes import area_code
from server.auth.models import User
from server.errors import InvalidInput
from server.indicators.evaluation import actual_values, quarterly_progress
from server.indicators.periods import Scope, parse_period
from server.territory import territory
from server.uploads import check_xlsx

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_UNZIPPED = 64 << 20  # a declaration is a few dozen KB; its sheets are read whole into memory


def budget_of(budget_wan: float | None, executed_wan: float | None) -> BudgetExecution | None:
    """The budget execution row as typed in; None when neither amount was given (left for manual input)."""
    if budget_wan is None and executed_wan is None:
        return None
    return BudgetExecution(budget_wan=budget_wan, executed_wan=executed_wan)


def own_scope(user: User, now: datetime) -> Scope:
    """The whole area of a district-wide role or a street admin: what a table covers by default."""
    prefix = territory(user, now).prefix
    if prefix is None or len(prefix) not in (6, 9):
        raise InvalidInput("give the scope: your territory is not one district or street",
                           "请指定统计范围：您的管辖范围不是一个区或街道", code="scope_required")
    return Scope("district", prefix) if len(prefix) == 6 else Scope("street", area_code(prefix))


def _safe_name(filename: str) -> str:
    """The upload's own name in the messages (Chinese kept), never a path."""
    name = re.sub(r"[^\w.\-（）()]", "_", Path(filename.replace("\\", "/")).name)[:100]
    return name if name.lower().endswith(".xlsx") else "declaration.xlsx"


def read_upload(data: bytes, filename: str, *, sheet: str | None = None) -> Declaration:
    """The declaration in an uploaded workbook (the named sheet, or the first with an indicator table)."""
    if not filename.lower().endswith(".xlsx"):
        raise InvalidInput(f"the declaration must be an .xlsx workbook, not {filename[:100]!r}",
                           "绩效目标申报表须为 .xlsx 文件", code="unsupported_file_type")
    check_xlsx(data, max_total_bytes=MAX_UNZIPPED)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / _safe_name(filename)
        path.write_bytes(data)
        try:
            return read_declaration(path, sheet=sheet)
        except DeclarationError as exc:
            raise InvalidInput(exc.message_en, exc.message_zh, code="unreadable_declaration") from None


def self_evaluation(*, db_session: Session, declaration: Declaration, scope: Scope, year: int, out: Path,
                    now: datetime, budget: BudgetExecution | None = None, unit_name: str = "") -> dict[str, ActualValue]:
    """Write the 绩效自评表 for the year to `out` (computed rows with drafted deviation reasons, the rest
    for manual input); returns the actual values in it (the CLI sums them up)."""
    actuals = actual_values(db_session=db_session, declaration=declaration, scope=scope,
                            period=parse_period(str(year)), now=now)
    write_self_evaluation(out, declaration, actuals, year=year, budget=budget, unit_name=unit_name)
    return actuals


def monitoring(*, db_session: Session, declaration: Declaration, scope: Scope, year: int, quarter: int, out: Path,
               now: datetime, budget: BudgetExecution | None = None, unit_name: str = "") -> Path:
    """The 绩效运行监控表 for the year up to `quarter` (quarters not yet begun stay empty)."""
    progress = quarterly_progress(db_session=db_session, declaration=declaration, scope=scope, year=year, now=now)
    return write_monitoring(out, declaration, progress, quarter=quarter, year=year, budget=budget, unit_name=unit_name)
