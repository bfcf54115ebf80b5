"""What the nine validators share: Punie's result model, parsing, decorator and Inject reading.

``DomainValidationResult`` and ``ValidationIssue`` are Punie's
(``punie/cst/domain_models.py``): ``valid`` is the verdict (no error-level issue;
warnings allowed), ``domain`` names the validator family, ``parse_error`` says why the
file could not be read or parsed. ``success`` (every typed tool's field) is True when
the validator ran. Issues carry the 1-based ``line`` Punie's model has room for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import libcst
import libcst.matchers as m
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider
from pydantic import Field

from typed_tools.base import ResultItem, ToolContext, ToolResult
from typed_tools.workspace import ToolFailure, read_text, resolve

__all__ = [
    "DomainValidationResult",
    "ValidationIssue",
    "Visitor",
    "decorator_names",
    "inject_type",
    "is_fstring",
    "is_template",
    "validate",
]

Domain = Literal["tdom", "svcs", "tdom-svcs"]


class ValidationIssue(ResultItem):
    """One finding of a domain validator."""

    rule: str
    """The rule's identifier, e.g. ``component-must-have-dataclass``."""
    severity: Literal["error", "warning"]
    """Only ``error`` makes the file invalid."""
    message: str
    """What is wrong, naming the class or call."""
    line: int | None = None
    """1-based line of the class or call concerned."""
    suggestion: str | None = None
    """How to fix it."""


class DomainValidationResult(ToolResult):
    """A domain validator's verdict on one file. ``valid``: no error-level issue.

    ``success``: the validator ran (the file was read and parsed); Punie's model has
    ``valid``, not ``success``, as its verdict.
    """

    valid: bool = False
    """True when no issue has severity ``error`` (warnings allowed)."""
    domain: str = ""
    """Which family checked it: ``tdom``, ``svcs`` or ``tdom-svcs``."""
    issues: list[ValidationIssue] = Field(default_factory=list)
    """Every finding, in source order."""


class Visitor(libcst.CSTVisitor):
    """A visitor that knows line numbers (also after the walk) and collects issues."""

    def __init__(self) -> None:
        super().__init__()
        self.issues: list[ValidationIssue] = []
        self.positions: Mapping[libcst.CSTNode, CodeRange] = {}

    def line(self, node: libcst.CSTNode) -> int:
        return self.positions[node].start.line

    def report(
        self,
        node: libcst.CSTNode,
        rule: str,
        severity: Literal["error", "warning"],
        message: str,
        suggestion: str,
    ) -> None:
        self.issues.append(
            ValidationIssue(
                rule=rule,
                severity=severity,
                message=message,
                line=self.line(node),
                suggestion=suggestion,
            )
        )

    def finish(self) -> None:
        """Called after the walk, for rules that need the whole file."""


def validate(
    ctx: ToolContext, file_path: str, domain: Domain, visitor: Visitor
) -> DomainValidationResult:
    """Read ``file_path`` as ``read_file`` does, walk it with ``visitor``, give the verdict.

    A file that cannot be read or parsed is ``valid=False`` with ``parse_error`` and the
    ``domain`` still named, as in Punie.
    """
    try:
        text = read_text(ctx, resolve(ctx, file_path))
        try:
            module = libcst.parse_module(text)
        except libcst.ParserSyntaxError as exc:
            raise ToolFailure(
                f"{file_path} does not parse: {exc.message} (line {exc.raw_line})"
            ) from None
    except ToolFailure as failure:
        reason = str(failure)
        return DomainValidationResult(
            success=False, valid=False, domain=domain, error=reason, parse_error=reason
        )
    wrapper = MetadataWrapper(module)
    visitor.positions = wrapper.resolve(PositionProvider)
    wrapper.module.visit(visitor)  # the wrapper's copy: the nodes the positions belong to
    visitor.finish()
    issues = sorted(visitor.issues, key=lambda issue: issue.line or 0)
    return DomainValidationResult(
        success=True,
        valid=not any(issue.severity == "error" for issue in issues),
        domain=domain,
        issues=issues,
    )


def _name(expression: libcst.BaseExpression) -> str | None:
    """``x`` for ``x``, ``a.x`` and ``x(...)`` / ``a.x(...)``."""
    if isinstance(expression, libcst.Call):
        expression = expression.func
    if isinstance(expression, libcst.Name):
        return expression.value
    if isinstance(expression, libcst.Attribute):
        return expression.attr.value
    return None


def decorator_names(node: libcst.ClassDef | libcst.FunctionDef) -> list[str]:
    """Decorator names: ``@dataclass``, ``@dataclasses.dataclass(frozen=True)`` → dataclass."""
    return [name for d in node.decorators if (name := _name(d.decorator)) is not None]


def inject_type(annotation: libcst.BaseExpression) -> str | None:
    """``T`` of ``Inject[T]`` (or of ``Inject[mod.T]``), None for any other annotation."""
    if not m.matches(annotation, m.Subscript(value=m.Name("Inject"))):
        return None
    assert isinstance(annotation, libcst.Subscript)
    first = annotation.slice[0].slice if annotation.slice else None
    if isinstance(first, libcst.Index):
        return _name(first.value)
    return None


def is_fstring(value: libcst.BaseExpression) -> bool:
    """An f-string (not a t-string): interpolation without escaping."""
    return isinstance(value, libcst.FormattedString) and value.start.lower().startswith(
        ("f", "rf", "fr")
    )


def is_template(value: libcst.BaseExpression) -> bool:
    """A t-string, which tdom escapes (LibCST's ``TemplatedString``, or an older parse)."""
    if isinstance(value, libcst.TemplatedString):
        return True
    return isinstance(value, libcst.FormattedString) and "t" in value.start.lower()


def template_names(value: libcst.BaseExpression) -> Iterable[tuple[str, bool]]:
    """Names interpolated in a t-string, each with whether it sits in tag position (``<{X}``)."""
    if not isinstance(value, libcst.TemplatedString):
        return
    previous = ""
    for part in value.parts:
        if isinstance(part, libcst.TemplatedStringText):
            previous = part.value
        elif isinstance(part, libcst.TemplatedStringExpression):
            name = _name(part.expression) if isinstance(part.expression, libcst.Name) else None
            if name is not None:
                yield name, previous.rstrip().endswith("<")
            previous = ""
