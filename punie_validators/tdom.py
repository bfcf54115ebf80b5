"""tdom components: ``validate_component``, ``check_render_tree``, ``validate_escape_context``.

A tdom component is a ``@dataclass`` whose ``__call__`` returns a ``Node``, rendering
with ``html(t"...")``: t-strings escape what they interpolate, f-strings do not (XSS).
Rules as Punie's ``punie/cst/validators/tdom.py`` defines them; ``check_render_tree``,
a placeholder in Punie, checks what its docstring promises: every component a
template renders as a tag (``<{Card} />``) is defined or imported in the file.
"""

from __future__ import annotations

import libcst
import libcst.matchers as m

from punie_validators._base import (
    DomainValidationResult,
    Visitor,
    decorator_names,
    is_fstring,
    template_names,
    validate,
)
from typed_tools.base import ToolContext
from typed_tools.tool import tool

__all__ = ["check_render_tree", "validate_component", "validate_escape_context"]

_HTML = m.Call(func=m.Name("html"))


class _Component:
    def __init__(self, node: libcst.ClassDef) -> None:
        self.node = node
        self.dataclass = "dataclass" in decorator_names(node)
        self.call: libcst.FunctionDef | None = None
        self.uses_html = False
        self.fstring_calls: list[libcst.Call] = []


class _Components(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[_Component] = []
        self.done: list[_Component] = []

    def visit_ClassDef(self, node: libcst.ClassDef) -> None:
        self.stack.append(_Component(node))

    def leave_ClassDef(self, original_node: libcst.ClassDef) -> None:
        self.done.append(self.stack.pop())

    def visit_FunctionDef(self, node: libcst.FunctionDef) -> None:
        if self.stack and node.name.value == "__call__" and self.stack[-1].call is None:
            self.stack[-1].call = node

    def visit_Call(self, node: libcst.Call) -> None:
        if self.stack and m.matches(node, _HTML):
            self.stack[-1].uses_html = True
            if any(is_fstring(arg.value) for arg in node.args):
                self.stack[-1].fstring_calls.append(node)

    def finish(self) -> None:
        for component in self.done:
            name, node = component.node.name.value, component.node
            if not (component.dataclass or component.call or component.uses_html):
                continue  # a helper, an exception, a mixin: not a component
            if not component.dataclass:
                self.report(
                    node,
                    "component-must-have-dataclass",
                    "error",
                    f"Class '{name}' is missing @dataclass decorator",
                    "Add @dataclass decorator above the class definition",
                )
            if component.call is None:
                self.report(
                    node,
                    "component-must-have-callable",
                    "error",
                    f"Class '{name}' is missing __call__ method",
                    "Add def __call__(self) -> Node: method",
                )
            elif not _returns_node(component.call):
                self.report(
                    component.call,
                    "component-callable-must-return-node",
                    "warning",
                    f"Class '{name}' __call__ does not annotate return type as Node",
                    "Add -> Node return type annotation to __call__",
                )
            for call in component.fstring_calls:
                self.report(
                    call,
                    "component-no-fstring-in-html",
                    "error",
                    f"Class '{name}' uses f-string in html() call (XSS risk)",
                    'Use t-string (t"...") instead of f-string in html()',
                )


def _returns_node(function: libcst.FunctionDef) -> bool:
    returns = function.returns
    return returns is not None and m.matches(
        returns.annotation, m.Name("Node") | m.Attribute(attr=m.Name("Node"))
    )


@tool
def validate_component(ctx: ToolContext, file_path: str) -> DomainValidationResult:
    """Validate tdom components: @dataclass, ``__call__ -> Node``, no f-string in html()."""
    return validate(ctx, file_path, "tdom", _Components())


class _RenderTree(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.known: set[str] = set()
        self.rendered: list[tuple[str, libcst.Call]] = []

    def visit_ImportFrom(self, node: libcst.ImportFrom) -> None:
        if not isinstance(node.names, libcst.ImportStar):
            for alias in node.names:
                self.known.add(_bound(alias))
        else:
            self.known.add("*")

    def visit_Import(self, node: libcst.Import) -> None:
        for alias in node.names:
            self.known.add(_bound(alias).split(".")[0])

    def visit_ClassDef(self, node: libcst.ClassDef) -> None:
        self.known.add(node.name.value)

    def visit_FunctionDef(self, node: libcst.FunctionDef) -> None:
        self.known.add(node.name.value)
        for param in (*node.params.params, *node.params.kwonly_params):
            self.known.add(param.name.value)

    def visit_AssignTarget(self, node: libcst.AssignTarget) -> None:
        if isinstance(node.target, libcst.Name):
            self.known.add(node.target.value)

    def visit_AnnAssign(self, node: libcst.AnnAssign) -> None:
        if isinstance(node.target, libcst.Name):
            self.known.add(node.target.value)

    def visit_Call(self, node: libcst.Call) -> None:
        if m.matches(node, _HTML):
            for arg in node.args:
                for name, is_tag in template_names(arg.value):
                    if is_tag:
                        self.rendered.append((name, node))

    def finish(self) -> None:
        if "*" in self.known:
            return  # a star import could define anything
        for name, call in self.rendered:
            if name not in self.known:
                self.report(
                    call,
                    "render-tree-unknown-component",
                    "error",
                    f"html() renders <{{{name}}}> but '{name}' is not defined or imported here",
                    f"Import {name} (from the module that defines it) or define it in this file",
                )


def _bound(alias: libcst.ImportAlias) -> str:
    """The name an import binds: its ``as`` name, else the imported (dotted) name."""
    if alias.asname is not None and isinstance(alias.asname.name, libcst.Name):
        return alias.asname.name.value
    name = alias.name
    parts = []
    while isinstance(name, libcst.Attribute):
        parts.append(name.attr.value)
        name = name.value
    assert isinstance(name, libcst.Name)
    parts.append(name.value)
    return ".".join(reversed(parts))


@tool
def check_render_tree(ctx: ToolContext, file_path: str) -> DomainValidationResult:
    """Check component composition: every ``<{Component}>`` a template renders is known here."""
    return validate(ctx, file_path, "tdom", _RenderTree())


class _Escapes(Visitor):
    def visit_Call(self, node: libcst.Call) -> None:
        if m.matches(node, _HTML):
            for arg in node.args:
                if is_fstring(arg.value):
                    self.report(
                        node,
                        "no-fstring-in-html",
                        "error",
                        "F-string passed to html() is unsafe (XSS risk)",
                        'Use t-string: html(t"...") instead of html(f"...")',
                    )


@tool
def validate_escape_context(ctx: ToolContext, file_path: str) -> DomainValidationResult:
    """Validate that html() calls use safe t-strings, not f-strings."""
    return validate(ctx, file_path, "tdom", _Escapes())
