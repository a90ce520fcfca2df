"""Roles: who may see and change what."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    grid_worker = "grid_worker"
    street_admin = "street_admin"
    district_admin = "district_admin"
    command_center = "command_center"
    auditor = "auditor"


ROLE_LABELS_ZH: dict[Role, str] = {
    Role.grid_worker: "网格员",
    Role.street_admin: "街道管理员",
    Role.district_admin: "区级管理员",
    Role.command_center: "指挥中心",
    Role.auditor: "审计员",
}

# Roles that see the whole district they belong to.
DISTRICT_WIDE = frozenset({Role.district_admin, Role.command_center, Role.auditor})
# Roles that may change master data (grids, assignments).
EDITORS = frozenset({Role.district_admin, Role.street_admin})
