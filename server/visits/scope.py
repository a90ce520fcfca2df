"""Who sees which visits: the territory by the visit's street; a worker only their own."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement

from server.auth.models import User
from server.territory import territory
from server.visits.models import Visit


def visible_visits(user: User, at: datetime) -> ColumnElement[bool]:
    return territory(user, at).codes(Visit.street_code, worker=Visit.worker_id == user.id)
