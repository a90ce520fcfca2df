"""An import-linter contract type for `.importlinter`: other code imports only a domain's public modules.

import-linter's own contracts name what is forbidden; a domain's surface is better stated the other
way round, as the few modules that are public, so that every module added or renamed inside a
domain (a new queries module, `sla.py` → `time_limits.py`) is private without touching the config.
"""

from __future__ import annotations

from dataclasses import dataclass

import grimp
from importlinter import Contract, ContractCheck, fields, output
from importlinter.application import contract_utils
from importlinter.domain import helpers


@dataclass(frozen=True)
class Breach:
    importer: str
    imported: str
    line_numbers: tuple[int, ...]


class PublicSurfaceContract(Contract):
    """Only a domain's public modules are imported from outside it.

    Options:
        - domains:           the domain packages, e.g. server.grids.
        - public:            names of the public modules of every domain, e.g. service (a public
                             module's descendants are public too, and so is the package itself).
        - extra_public:      further public modules, named in full (optional).
        - allowed_importers: modules that may import anything, with their descendants: the entry
                             points that wire everything together (optional).
        - ignore_imports, unmatched_ignore_imports_alerting: as in the built-in contracts.
    """

    type_name = "public_surface"

    domains = fields.ListField(subfield=fields.ModuleField())
    public = fields.SetField(subfield=fields.StringField())
    extra_public = fields.SetField(subfield=fields.ModuleField(), required=False)
    allowed_importers = fields.SetField(subfield=fields.ModuleExpressionField(), required=False)
    ignore_imports = fields.SetField(subfield=fields.ImportExpressionField(), required=False)
    unmatched_ignore_imports_alerting = fields.EnumField(contract_utils.AlertLevel,
                                                         default=contract_utils.AlertLevel.ERROR)

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        removal = contract_utils.remove_ignored_imports_and_report(
            graph=graph, ignore_imports=self.ignore_imports,  # type: ignore[arg-type]
            unmatched_alerting=self.unmatched_ignore_imports_alerting)  # type: ignore[arg-type]
        allowed = {m.name for m in helpers.module_expressions_to_modules(
            graph=graph, expressions=self.allowed_importers or set(), as_packages=True)}  # type: ignore[arg-type]
        extra = {m.name for m in self.extra_public or ()}  # type: ignore[attr-defined]
        breaches: list[Breach] = []
        for domain in self.domains:  # type: ignore[attr-defined]
            inside = {domain.name} | graph.find_descendants(domain.name)
            public = {f"{domain.name}.{name}" for name in self.public} | (extra & inside)  # type: ignore[attr-defined]
            for imported in sorted(inside - {domain.name}):
                if any(imported == p or imported.startswith(p + ".") for p in public):
                    continue
                for importer in sorted(graph.find_modules_that_directly_import(imported) - inside - allowed):
                    lines = tuple(d["line_number"] for d in graph.get_import_details(importer=importer,
                                                                                      imported=imported))
                    breaches.append(Breach(importer, imported, lines))
        return ContractCheck(kept=not breaches, warnings=list(removal.warnings),
                             ignored_import_count=removal.ignored_import_count, metadata={"breaches": breaches})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for b in check.metadata["breaches"]:
            output.print_error(f"{b.importer} imports the private module {b.imported} "
                               f"(l.{', '.join(map(str, b.line_numbers))})", bold=False)
            output.new_line()
        output.print_error("Go through the owning domain's service (or models, schemas, enums).", bold=False)
        output.new_line()
