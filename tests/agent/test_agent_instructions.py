"""The instructions stay compact and name every tool exactly as the type checker does."""

from __future__ import annotations

import ast

from agent import INSTRUCTIONS_CHAR_BUDGET, AgentDeps, render_instructions
from agent.code_mode import CodeModeTools
from agent.instructions import compact_stubs, estimate_tokens
from tests.agent.conftest import Script, make_agent


def test_instructions_fit_the_budget(code_tools: CodeModeTools) -> None:
    text = render_instructions(code_tools.stubs)

    assert len(text) <= INSTRUCTIONS_CHAR_BUDGET
    assert INSTRUCTIONS_CHAR_BUDGET < 20_000 // 2  # Punie saw ~20K characters break tools
    assert estimate_tokens(text) < 2_500
    assert len(text) < len(code_tools.stubs) / 2  # condensed, not copied


def test_every_tool_and_result_model_is_listed_with_its_signature(
    code_tools: CodeModeTools,
) -> None:
    compact = compact_stubs(code_tools.stubs)
    module = ast.parse(code_tools.stubs)

    for node in module.body:
        if isinstance(node, ast.FunctionDef):
            assert f"def {node.name}({ast.unparse(node.args)}) -> " in compact
        elif isinstance(node, ast.ClassDef):
            fields = [ast.unparse(s.target) for s in node.body if isinstance(s, ast.AnnAssign)]
            line = next(x for x in compact.splitlines() if x.startswith(f"class {node.name}"))
            assert all(f"{name}: " in line for name in fields)
    assert "def typecheck(path: str='.') -> TypeCheckResult  # Type-check" in compact


async def test_the_model_receives_the_instructions_and_one_tool(
    code_tools: CodeModeTools, deps: AgentDeps
) -> None:
    script = Script(["hi"])
    agent = make_agent(script, code_tools)

    await agent.ask("hello", deps)

    info = script.infos[0]
    assert info.instructions == agent.instructions
    assert [t.name for t in info.function_tools] == ["execute_code"]
    schema = info.function_tools[0].parameters_json_schema
    assert list(schema["properties"]) == ["code"]
