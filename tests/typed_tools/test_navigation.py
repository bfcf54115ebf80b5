"""Navigation through the standalone ty, in each position encoding ty can speak."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.typed_tools.conftest import write_tree
from typed_tools import PositionEncoding, ToolArgumentError, ToolContext, TyClientPool
from typed_tools.lines import from_lsp_character, to_lsp_character, units
from typed_tools.navigation import find_references, goto_definition, hover
from typed_tools.symbols import document_symbols, workspace_symbols

# Non-ASCII before every name: a wrong encoding conversion lands on the wrong character.
NAV = {
    "pyproject.toml": '[project]\nname = "nav"\nversion = "0"\n',
    "nav/__init__.py": "",
    "nav/shapes.py": (
        'LABEL = "😀é"; AREA_UNIT = "m²"\n\n\n'
        "class Square:\n"
        '    """A square."""\n\n'
        "    def area(self) -> float:\n"
        "        return 1.0\n"
    ),
    "nav/main.py": (
        "from nav.shapes import Square\n\n"
        'greeting = "😀😀"; shape = Square()\n'
        "print(shape.area())\n"
    ),
}


@pytest.fixture(params=["utf-8", "utf-16", "utf-32"])
async def nav_ctx(request: pytest.FixtureRequest, tmp_path: Path):
    encoding: PositionEncoding = request.param
    root = write_tree(tmp_path / "nav", NAV)
    pool = TyClientPool(position_encodings=(encoding,))
    ty = await pool.get(root)
    assert ty.position_encoding == encoding
    yield ToolContext(root=root, ty=ty)
    await pool.stop_all()


async def test_goto_definition_by_position_and_by_symbol(nav_ctx: ToolContext) -> None:
    # 'greeting = "😀😀"; shape = Square()': the S of Square is the 26th character.
    by_position = await goto_definition(nav_ctx, "nav/main.py", line=3, column=26)
    by_symbol = await goto_definition(nav_ctx, "nav/main.py", symbol="Square", line=3)
    for result in (by_position, by_symbol):
        assert result.success, result.error
        [location] = result.locations
        assert (location.file, location.line, location.column) == ("nav/shapes.py", 4, 7)
        assert location.end_column == 13 and location.preview == "class Square:"


async def test_references_and_hover(nav_ctx: ToolContext) -> None:
    refs = await find_references(nav_ctx, "nav/main.py", symbol="shape.area")
    assert refs.success, refs.error
    assert [(r.file, r.line, r.column) for r in refs.references] == [
        ("nav/main.py", 4, 13),
        ("nav/shapes.py", 7, 9),
    ]
    info = await hover(nav_ctx, "nav/shapes.py", symbol="Square")
    assert info.success and "A square." in info.content and "Square" in info.content


async def test_hover_is_plain_text_as_punies_was(tmp_path: Path) -> None:
    """Punie's ty client declared no hover format, so ty answered plain text: the signature
    as code and the docstring as written. Markdown fenced the one and escaped the other
    (``raw\\_size -&gt; int``), which a Punie-tuned model never saw."""
    files = {
        "pyproject.toml": '[project]\nname = "doc"\nversion = "0"\n',
        "doc.py": (
            "def scale(raw_size: int) -> int:\n"
            '    """Turn raw_size -> pixels.\n\n'
            "    Example:\n"
            '        <example> & more.\n    """\n'
            "    return raw_size * 2\n"
        ),
    }
    root = write_tree(tmp_path / "doc", files)
    pool = TyClientPool()
    try:
        ctx = ToolContext(root=root, ty=await pool.get(root))
        info = await hover(ctx, "doc.py", symbol="scale")
    finally:
        await pool.stop_all()
    assert info.success and info.language == "plaintext", info
    assert info.content.startswith("def scale(raw_size: int) -> int"), info.content
    assert "Turn raw_size -> pixels." in info.content
    assert "Example:\n    <example> & more." in info.content
    assert "```" not in info.content


async def test_symbols(nav_ctx: ToolContext) -> None:
    outline = await document_symbols(nav_ctx, "nav/shapes.py")
    assert [(s.name, s.kind, s.kind_name, s.line) for s in outline.symbols] == [
        ("LABEL", 14, "constant", 1),
        ("AREA_UNIT", 14, "constant", 1),
        ("Square", 5, "class", 4),
    ]
    assert [(c.name, c.kind, c.line) for c in outline.symbols[2].children] == [("area", 6, 7)]
    assert outline.success and outline.symbol_count == 4  # nested symbols count, as in Punie
    found = await workspace_symbols(nav_ctx, "AREA_UNIT")
    assert [(s.name, s.file, s.line, s.column) for s in found.symbols] == [
        ("AREA_UNIT", "nav/shapes.py", 1, 15)
    ]


async def test_overlay_text_is_what_the_server_sees(nav_ctx: ToolContext) -> None:
    nav_ctx.overlay[nav_ctx.root / "nav" / "main.py"] = "\n\nfrom nav.shapes import Square\n"
    result = await goto_definition(nav_ctx, "nav/main.py", symbol="Square")
    assert [(loc.file, loc.line) for loc in result.locations] == [("nav/shapes.py", 4)]


async def test_missing_symbol_and_position_misuse(nav_ctx: ToolContext) -> None:
    missing = await hover(nav_ctx, "nav/main.py", symbol="Circle")
    assert not missing.success and "does not occur" in (missing.error or "")
    with pytest.raises(ToolArgumentError, match="line and column, or the symbol"):
        await hover(nav_ctx, "nav/main.py", line=1)
    outside = await hover(nav_ctx, "../x.py", line=1, column=1)
    assert not outside.success and "outside the workspace" in (outside.error or "")


async def test_default_pool_starts_its_own_ty(tmp_path: Path, stop_default_pool: None) -> None:
    root = write_tree(tmp_path / "nav", NAV)
    result = await goto_definition(ToolContext(root=root), "nav/main.py", symbol="Square")
    assert [(loc.file, loc.line, loc.column) for loc in result.locations] == [
        ("nav/shapes.py", 4, 7)
    ]


@given(st.text(), st.sampled_from(["utf-8", "utf-16", "utf-32"]))
def test_column_conversion_round_trips(line: str, encoding: PositionEncoding) -> None:
    line = line.replace("\n", "").replace("\r", "")
    for column in range(1, len(line) + 2):
        character = to_lsp_character(line, column, encoding)
        assert from_lsp_character(line, character, encoding) == column
    assert to_lsp_character(line, len(line) + 1, encoding) == units(line, encoding)


# What a new user meets on a real project: a name in __all__ and docstrings before its
# definition, and many symbols that merely contain the one asked for.
AGENTS = {
    "pyproject.toml": '[project]\nname = "agents"\nversion = "0"\n',
    "agents/__init__.py": (
        '"""Agent tools: see Agent."""\n\n'
        '__all__ = ["Agent", "AgentRunner"]  # Agent first\n\n'
        "from agents.core import Agent, AgentRunner, agent_factory\n\n"
        "DEFAULT = Agent()\n"
    ),
    "agents/core.py": (
        "class AgentRunner:\n    pass\n\n\n"
        "class BaseAgentMixin:\n    pass\n\n\n"
        "class Agent:\n    pass\n\n\n"
        "def agent_factory() -> Agent:\n    return Agent()\n\n\n"
        "def make_agents() -> list[Agent]:\n    return []\n"
    ),
}


@pytest.fixture
async def agents_ctx(tmp_path: Path):
    root = write_tree(tmp_path / "agents", AGENTS)
    pool = TyClientPool()
    yield ToolContext(root=root, ty=await pool.get(root))
    await pool.stop_all()


async def test_symbol_lookup_skips_strings_and_comments(agents_ctx: ToolContext) -> None:
    refs = await find_references(agents_ctx, "agents/__init__.py", symbol="Agent")
    assert refs.success and refs.symbol == "Agent"
    assert ("agents/core.py", 9) in {(r.file, r.line) for r in refs.references}
    assert refs.reference_count >= 4
    found = await goto_definition(agents_ctx, "agents/__init__.py", symbol="Agent")
    assert [(loc.file, loc.line) for loc in found.locations] == [("agents/core.py", 9)]


async def test_workspace_symbols_rank_exact_then_prefix(agents_ctx: ToolContext) -> None:
    result = await workspace_symbols(agents_ctx, "Agent")
    names = [s.name for s in result.symbols]
    assert names[0] == "Agent" and result.symbols[0].kind == 5  # LSP SymbolKind.Class
    prefixed = [n for n in names if n != "Agent" and n.lower().startswith("agent")]
    rest = [n for n in names if not n.lower().startswith("agent")]
    assert names.index(prefixed[0]) < names.index(rest[0])


async def test_nothing_found_is_no_success_but_no_error(agents_ctx: ToolContext) -> None:
    result = await workspace_symbols(agents_ctx, "Zzqxv")
    assert (result.success, result.error, result.symbol_count) == (False, None, 0)
    hover_on_blank = await hover(agents_ctx, "agents/core.py", line=3, column=1)
    assert not hover_on_blank.success and hover_on_blank.error is None
    info = await hover(agents_ctx, "agents/core.py", symbol="Agent", line=9)
    assert info.success and info.language == "plaintext" and "Agent" in info.content


async def test_a_slightly_wrong_position_finds_the_named_symbol(agents_ctx: ToolContext) -> None:
    # Punie's programs pass a position and the symbol; the column here is off by three
    # and the line by one ("DEFAULT = Agent()" is line 7).
    result = await goto_definition(agents_ctx, "agents/__init__.py", 6, 2, "Agent")
    assert [(loc.file, loc.line) for loc in result.locations] == [("agents/core.py", 9)]
    exact = await goto_definition(agents_ctx, "agents/core.py", 13, 5, "agent_factory")
    assert exact.success and exact.locations[0].line == 13
