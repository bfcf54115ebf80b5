"""tdom-svcs integration: ``validate_middleware_chain``, ``check_di_template_binding``,
``validate_route_pattern``.

Middleware is a class marked ``@middleware(categories=[...])`` (global), ``@hookable``
(per target) or an ``@injectable`` class with ``__call__``; tdom-svcs calls it as
``__call__(self, target, props, context)``. Components with ``Inject[]`` fields need the
container passed to ``html(..., context=...)``. Routes (``Route("/path")``,
``add_route("/path")``) are absolute and their ``{parameters}`` balanced. Rules as
Punie's ``punie/cst/validators/tdom_svcs.py`` defines them.
"""

from __future__ import annotations

import ast

import libcst
import libcst.matchers as m

from punie_validators._base import (
    DomainValidationResult,
    Visitor,
    decorator_names,
    inject_type,
    is_template,
    validate,
)
from typed_tools.base import ToolContext
from typed_tools.tool import tool

__all__ = ["check_di_template_binding", "validate_middleware_chain", "validate_route_pattern"]

_SIGNATURE = ["self", "target", "props", "context"]


def _categories(node: libcst.ClassDef) -> list[str] | None:
    """``categories=[...]`` of ``@middleware(...)``: the literal strings; None without the
    decorator."""
    for decorator in node.decorators:
        call = decorator.decorator
        if m.matches(call, m.Name("middleware") | m.Attribute(attr=m.Name("middleware"))):
            return []
        if isinstance(call, libcst.Call) and m.matches(
            call.func, m.Name("middleware") | m.Attribute(attr=m.Name("middleware"))
        ):
            for arg in call.args:
                if arg.keyword is not None and arg.keyword.value == "categories":
                    value = arg.value
                    if isinstance(value, libcst.List | libcst.Tuple):
                        return [
                            e.value.evaluated_value
                            for e in value.elements
                            if isinstance(e.value, libcst.SimpleString)
                            and isinstance(e.value.evaluated_value, str)
                        ]
            return []
    return None


def _call_method(node: libcst.ClassDef) -> libcst.FunctionDef | None:
    for statement in node.body.body:
        if isinstance(statement, libcst.FunctionDef) and statement.name.value == "__call__":
            return statement
    return None


class _Middleware(Visitor):
    def visit_ClassDef(self, node: libcst.ClassDef) -> None:
        name = node.name.value
        decorators = decorator_names(node)
        method = _call_method(node)
        categories = _categories(node)
        is_middleware = categories is not None or "hookable" in decorators
        if not (is_middleware or ("injectable" in decorators and method is not None)):
            return
        if categories is not None and not categories:
            self.report(
                node,
                "middleware-must-have-categories",
                "warning",
                f"Middleware '{name}' uses @middleware without categories",
                "Add categories=[...] to @middleware decorator",
            )
        parameters = [p.name.value for p in method.params.params] if method else []
        if parameters != _SIGNATURE:
            self.report(
                method or node,
                "middleware-must-have-correct-signature",
                "error",
                f"Middleware '{name}' __call__ must have signature (self, target, props, context)",
                "Define: def __call__(self, target, props, context)",
            )


@tool
def validate_middleware_chain(ctx: ToolContext, file_path: str) -> DomainValidationResult:
    """Validate middleware: categories given, ``__call__(self, target, props, context)``."""
    return validate(ctx, file_path, "tdom-svcs", _Middleware())


class _Binding(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.injecting: set[str] = set()
        self.calls: list[libcst.Call] = []

    def visit_ClassDef(self, node: libcst.ClassDef) -> None:
        for statement in node.body.body:
            if isinstance(statement, libcst.SimpleStatementLine):
                for item in statement.body:
                    if isinstance(item, libcst.AnnAssign) and inject_type(
                        item.annotation.annotation
                    ):
                        self.injecting.add(node.name.value)

    def visit_Call(self, node: libcst.Call) -> None:
        renders = m.matches(node.func, m.Name("html")) and any(
            is_template(a.value) for a in node.args
        )
        if renders and not any(
            a.keyword is not None and a.keyword.value == "context" for a in node.args
        ):
            self.calls.append(node)

    def finish(self) -> None:
        if not self.injecting:
            return
        for call in self.calls:
            self.report(
                call,
                "di-template-needs-context",
                "warning",
                "html() call may render Inject[] components but no context= passed",
                'Add context=container to html() call: html(t"...", context=container)',
            )


@tool
def check_di_template_binding(ctx: ToolContext, file_path: str) -> DomainValidationResult:
    """Check that html() gets ``context=`` in files whose components have Inject[] fields."""
    return validate(ctx, file_path, "tdom-svcs", _Binding())


_ROUTE = m.Call(func=m.Name("Route") | m.Name("add_route") | m.Attribute(attr=m.Name("add_route")))


class _Routes(Visitor):
    def visit_Call(self, node: libcst.Call) -> None:
        if not m.matches(node, _ROUTE) or not node.args:
            return
        first = node.args[0].value
        if not isinstance(first, libcst.SimpleString):
            return  # a computed path: nothing to check without running it
        path = ast.literal_eval(first.value)
        if not isinstance(path, str):
            return
        if not path.startswith("/"):
            self.report(
                node,
                "route-must-start-with-slash",
                "error",
                f"Route path '{path}' must start with '/'",
                f"Change to '/{path}'",
            )
        if path.count("{") != path.count("}"):
            self.report(
                node,
                "route-unbalanced-braces",
                "error",
                f"Route path '{path}' has unbalanced braces in parameter",
                "Ensure every { has a matching }",
            )


@tool
def validate_route_pattern(ctx: ToolContext, file_path: str) -> DomainValidationResult:
    """Validate route paths: they start with ``/`` and their ``{parameters}`` are balanced."""
    return validate(ctx, file_path, "tdom-svcs", _Routes())
