"""The nine domain validators: a plug-in of the ``punie.tools`` group, on small projects.

Each project below is written here in the style of tdom / svcs / tdom-svcs apps: one
file that follows the pattern and one that breaks it, so every rule is seen to fire and
to stay quiet.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from punie_validators._base import DomainValidationResult
from punie_validators.svcs import (
    check_dependency_graph,
    validate_injection_site,
    validate_service_registration,
)
from punie_validators.tdom import check_render_tree, validate_component, validate_escape_context
from punie_validators.tdom_svcs import (
    check_di_template_binding,
    validate_middleware_chain,
    validate_route_pattern,
)
from typed_tools import ENTRY_POINT_GROUP, ToolContext, builtin_tools, load_tools

GOOD_COMPONENT = """from dataclasses import dataclass

from tdom import Node, html

from app.components.card import Card


@dataclass
class Greeting:
    name: str

    def __call__(self) -> Node:
        return html(t"<{Card} title={self.name}><p>Hello {self.name}</p></{Card}>")


class NotAComponent(Exception):
    pass
"""

BAD_COMPONENT = """from tdom import html


class Banner:
    text: str

    def __call__(self):
        return html(f"<div>{self.text}</div>")


@dataclass
class Footer:
    year: int


@dataclass
class Page:
    def __call__(self) -> Node:
        return html(t"<{Sidebar} /><{Footer} />")
"""

SERVICES = """from dataclasses import dataclass

from svcs_di import Inject, injectable

from app.db import Database


@injectable
@dataclass
class Users:
    db: Inject[Database]


@injectable
@dataclass
class Orders:
    users: Inject[Users]
    cache: Inject[Cache]


@dataclass
class Sidebar:
    title: str


@injectable
@dataclass
class Menu:
    sidebar: Inject[Sidebar]


class Reports:
    orders: Inject[Orders]


@injectable
@dataclass
class Ping:
    pong: Inject["Pong"]


@injectable
@dataclass
class Pong:
    ping: Inject[Ping]


@injectable
@dataclass
class Left:
    right: Inject[Right]


@injectable
@dataclass
class Right:
    left: Inject[Left]
"""

MIDDLEWARE = """from dataclasses import dataclass

from svcs_di import Inject, injectable
from tdom import html
from tdom_svcs import hookable, middleware

from app.db import Database


@middleware(categories=["auth"])
class Auth:
    def __call__(self, target, props, context):
        return props


@middleware
class Timing:
    def __call__(self, target, props):
        return props


@hookable
class Hook:
    pass


@injectable
@dataclass
class Audit:
    db: Inject[Database]

    def __call__(self, target, props, context):
        return props


def page(container):
    good = html(t"<{Audit} />", context=container)
    bad = html(t"<{Audit} />")
    return good, bad


routes = [
    Route("/users/{user_id}", page),
    Route("users", page),
    Route("/orders/{order_id", page),
]
app.add_route("/health", page)
add_route("status}", page)
"""


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    files = {
        "app/components/greeting.py": GOOD_COMPONENT,
        "app/components/bad.py": BAD_COMPONENT,
        "app/services.py": SERVICES,
        "app/middleware.py": MIDDLEWARE,
        "app/broken.py": "class X(:\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return ToolContext(root=tmp_path)


def rules(result: DomainValidationResult) -> list[tuple[str, str, int | None]]:
    return [(issue.rule, issue.severity, issue.line) for issue in result.issues]


def at(text: str, snippet: str, nth: int = 1) -> int:
    """1-based line of the ``nth`` line containing ``snippet``."""
    found = [n for n, line in enumerate(text.split("\n"), start=1) if snippet in line]
    return found[nth - 1]


def test_they_arrive_through_the_entry_point_group_not_as_built_ins() -> None:
    names = {
        "validate_component", "check_render_tree", "validate_escape_context",
        "validate_service_registration", "check_dependency_graph", "validate_injection_site",
        "validate_middleware_chain", "check_di_template_binding", "validate_route_pattern",
    }  # fmt: skip
    registered = {e.name for e in entry_points(group=ENTRY_POINT_GROUP)}
    assert names <= registered
    assert not names & set(builtin_tools())
    tools = load_tools()
    assert names <= set(tools)
    assert tools["validate_component"].result_model.__name__ == "DomainValidationResult"


async def test_validate_component(ctx: ToolContext) -> None:
    good = await validate_component(ctx, "app/components/greeting.py")
    assert (good.success, good.valid, good.domain, good.issues) == (True, True, "tdom", [])
    bad = await validate_component(ctx, "app/components/bad.py")
    assert not bad.valid and bad.success and bad.parse_error is None
    assert rules(bad) == [
        ("component-must-have-dataclass", "error", at(BAD_COMPONENT, "class Banner")),
        (
            "component-callable-must-return-node",
            "warning",
            at(BAD_COMPONENT, "def __call__(self):"),
        ),
        ("component-no-fstring-in-html", "error", at(BAD_COMPONENT, "html(f")),
        ("component-must-have-callable", "error", at(BAD_COMPONENT, "class Footer")),
    ]
    assert "Banner" in bad.issues[0].message and bad.issues[0].suggestion


async def test_check_render_tree(ctx: ToolContext) -> None:
    assert (await check_render_tree(ctx, "app/components/greeting.py")).valid
    bad = await check_render_tree(ctx, "app/components/bad.py")
    assert rules(bad) == [
        ("render-tree-unknown-component", "error", at(BAD_COMPONENT, "<{Sidebar}"))
    ]
    assert "Sidebar" in bad.issues[0].message  # Footer is defined in the file: fine


async def test_validate_escape_context(ctx: ToolContext) -> None:
    assert (await validate_escape_context(ctx, "app/components/greeting.py")).valid
    bad = await validate_escape_context(ctx, "app/components/bad.py")
    assert rules(bad) == [("no-fstring-in-html", "error", at(BAD_COMPONENT, "html(f"))]


async def test_validate_service_registration(ctx: ToolContext) -> None:
    result = await validate_service_registration(ctx, "app/services.py")
    assert result.domain == "svcs" and not result.valid
    assert rules(result) == [
        ("service-must-have-injectable", "error", at(SERVICES, "class Reports")),
        ("service-must-have-dataclass", "error", at(SERVICES, "class Reports")),
    ]


async def test_check_dependency_graph(ctx: ToolContext) -> None:
    result = await check_dependency_graph(ctx, "app/services.py")
    found = rules(result)
    assert ("service-cannot-depend-on-component", "error", at(SERVICES, "sidebar: Inject")) in found
    cycles = [i.message for i in result.issues if i.rule == "service-circular-dependency"]
    assert cycles == ["Services depend on each other in a circle: Left -> Right -> Left"]


async def test_validate_injection_site(ctx: ToolContext) -> None:
    result = await validate_injection_site(ctx, "app/services.py")
    assert result.valid  # warnings only
    assert [(i.rule, i.severity, i.line) for i in result.issues] == [
        ("inject-type-must-be-imported", "warning", at(SERVICES, "cache: Inject"))
    ]
    assert "Cache" in result.issues[0].message


async def test_validate_middleware_chain(ctx: ToolContext) -> None:
    result = await validate_middleware_chain(ctx, "app/middleware.py")
    assert result.domain == "tdom-svcs"
    assert rules(result) == [
        ("middleware-must-have-categories", "warning", at(MIDDLEWARE, "class Timing")),
        (
            "middleware-must-have-correct-signature",
            "error",
            at(MIDDLEWARE, "(self, target, props):"),
        ),
        ("middleware-must-have-correct-signature", "error", at(MIDDLEWARE, "class Hook")),
    ]


async def test_check_di_template_binding(ctx: ToolContext) -> None:
    result = await check_di_template_binding(ctx, "app/middleware.py")
    assert result.valid and rules(result) == [
        ("di-template-needs-context", "warning", at(MIDDLEWARE, "bad = html"))
    ]
    assert (await check_di_template_binding(ctx, "app/components/greeting.py")).issues == []


async def test_validate_route_pattern(ctx: ToolContext) -> None:
    result = await validate_route_pattern(ctx, "app/middleware.py")
    assert rules(result) == [
        ("route-must-start-with-slash", "error", at(MIDDLEWARE, 'Route("users"')),
        ("route-unbalanced-braces", "error", at(MIDDLEWARE, "{order_id")),
        ("route-must-start-with-slash", "error", at(MIDDLEWARE, "status}")),
        ("route-unbalanced-braces", "error", at(MIDDLEWARE, "status}")),
    ]


@pytest.mark.parametrize(
    "validator", [validate_component, validate_service_registration, validate_route_pattern]
)
async def test_a_file_that_does_not_parse_is_a_parse_error(
    ctx: ToolContext, validator: Callable[..., Awaitable[DomainValidationResult]]
) -> None:
    result = await validator(ctx, "app/broken.py")
    assert not result.success and not result.valid and result.issues == []
    assert result.domain in ("tdom", "svcs", "tdom-svcs")
    assert result.parse_error is not None and "app/broken.py does not parse" in result.parse_error
    missing = await validator(ctx, "app/nope.py")
    assert missing.parse_error == "no such file: app/nope.py"
