"""svcs services: ``validate_service_registration``, ``check_dependency_graph``,
``validate_injection_site``.

An svcs service is an ``@injectable`` ``@dataclass`` whose dependencies are fields
typed ``Inject[T]``. Rules as Punie's ``punie/cst/validators/svcs.py`` defines them;
``check_dependency_graph`` also finds the circular dependencies Punie's docstring
promises (services of one file injecting each other in a ring), and
``validate_injection_site`` accepts a type defined in the same file, which needs no
import.
"""

from __future__ import annotations

import libcst

from punie_validators._base import (
    DomainValidationResult,
    Visitor,
    decorator_names,
    inject_type,
    validate,
)
from typed_tools.base import ToolContext
from typed_tools.tool import tool

__all__ = ["check_dependency_graph", "validate_injection_site", "validate_service_registration"]


class _Class:
    def __init__(self, node: libcst.ClassDef) -> None:
        self.node = node
        self.decorators = decorator_names(node)
        self.injects: list[tuple[str, libcst.AnnAssign]] = []

    @property
    def name(self) -> str:
        return self.node.name.value


class _Classes(Visitor):
    """Classes with their decorators and ``Inject[T]`` fields (nested classes apart)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[_Class] = []
        self.classes: list[_Class] = []
        self.imported: set[str] = set()

    def visit_ClassDef(self, node: libcst.ClassDef) -> None:
        self.stack.append(_Class(node))

    def leave_ClassDef(self, original_node: libcst.ClassDef) -> None:
        self.classes.append(self.stack.pop())

    def visit_AnnAssign(self, node: libcst.AnnAssign) -> None:
        if self.stack and isinstance(node.target, libcst.Name):
            injected = inject_type(node.annotation.annotation)
            if injected is not None:
                self.stack[-1].injects.append((injected, node))

    def visit_ImportFrom(self, node: libcst.ImportFrom) -> None:
        if not isinstance(node.names, libcst.ImportStar):
            for alias in node.names:
                self.imported.add(_bound(alias))

    def visit_Import(self, node: libcst.Import) -> None:
        for alias in node.names:
            self.imported.add(_bound(alias))


def _bound(alias: libcst.ImportAlias) -> str:
    if alias.asname is not None and isinstance(alias.asname.name, libcst.Name):
        return alias.asname.name.value
    name = alias.name
    return name.value if isinstance(name, libcst.Name) else name.attr.value


class _Registration(_Classes):
    def finish(self) -> None:
        for cls in self.classes:
            injectable = "injectable" in cls.decorators
            if not (injectable or cls.injects):
                continue  # not a service
            if not injectable:
                self.report(
                    cls.node,
                    "service-must-have-injectable",
                    "error",
                    f"Service class '{cls.name}' has Inject[] fields but is missing "
                    "@injectable decorator",
                    "Add @injectable decorator from svcs_di.injectors above the class",
                )
            if "dataclass" not in cls.decorators:
                self.report(
                    cls.node,
                    "service-must-have-dataclass",
                    "error",
                    f"Service class '{cls.name}' is missing @dataclass decorator",
                    "Add @dataclass decorator below @injectable",
                )


@tool
def validate_service_registration(ctx: ToolContext, file_path: str) -> DomainValidationResult:
    """Validate svcs services: @injectable and @dataclass on every class with Inject[] fields."""
    return validate(ctx, file_path, "svcs", _Registration())


class _Graph(_Classes):
    def finish(self) -> None:
        kinds = {}
        for cls in self.classes:
            if "injectable" in cls.decorators:
                kinds[cls.name] = "service"
            elif "dataclass" in cls.decorators:
                kinds[cls.name] = "component"
        services = {cls.name: cls for cls in self.classes if kinds.get(cls.name) == "service"}
        for cls in services.values():
            for dependency, field in cls.injects:
                if kinds.get(dependency) == "component":
                    self.report(
                        field,
                        "service-cannot-depend-on-component",
                        "error",
                        f"Service '{cls.name}' depends on component '{dependency}' "
                        "(layer violation)",
                        "Services should only depend on other services, not components",
                    )
        reported: set[frozenset[str]] = set()
        for start in services:
            cycle = _cycle(start, services)
            if cycle and frozenset(cycle) not in reported:
                reported.add(frozenset(cycle))
                self.report(
                    services[start].node,
                    "service-circular-dependency",
                    "error",
                    "Services depend on each other in a circle: " + " -> ".join(cycle),
                    "Break the circle: move the shared part into a service both depend on",
                )


def _cycle(start: str, services: dict[str, _Class]) -> list[str] | None:
    """A dependency path from ``start`` back to ``start`` through services, if any."""
    path = [start]
    seen: set[str] = set()

    def walk(name: str) -> bool:
        for dependency, _ in services[name].injects:
            if dependency == start:
                path.append(start)
                return True
            if dependency in services and dependency not in seen:
                seen.add(dependency)
                path.append(dependency)
                if walk(dependency):
                    return True
                path.pop()
        return False

    return path if walk(start) else None


@tool
def check_dependency_graph(ctx: ToolContext, file_path: str) -> DomainValidationResult:
    """Check svcs dependencies for layer violations (service → component) and cycles."""
    return validate(ctx, file_path, "svcs", _Graph())


class _Sites(_Classes):
    def finish(self) -> None:
        defined = {cls.name for cls in self.classes}
        for cls in self.classes:
            for dependency, field in cls.injects:
                if dependency not in self.imported and dependency not in defined:
                    self.report(
                        field,
                        "inject-type-must-be-imported",
                        "warning",
                        f"Inject[{dependency}] in '{cls.name}': '{dependency}' not found in "
                        "imports",
                        f"Add import for '{dependency}' at the top of the file",
                    )


@tool
def validate_injection_site(ctx: ToolContext, file_path: str) -> DomainValidationResult:
    """Validate Inject[] fields: each injected type is imported (or defined) in the file."""
    return validate(ctx, file_path, "svcs", _Sites())
