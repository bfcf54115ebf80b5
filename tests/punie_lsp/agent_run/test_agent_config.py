"""The server's settings -> the agent's config: one model, and only what the agent
reads decides whether the agent (and an mlx model) is rebuilt."""

from __future__ import annotations

from agent.config import AgentConfig, SandboxSettings, Settings
from punie_lsp.agent_run.agent_host import SERVER_ONLY_SETTINGS, agent_config


def test_server_only_settings_do_not_change_the_agents_config() -> None:
    base = agent_config(Settings())
    changed = Settings(edits="never", capture_traces=True, trust=True)
    assert agent_config(changed) == base
    assert set(SERVER_ONLY_SETTINGS) < set(Settings.model_fields)


def test_what_the_agent_reads_reaches_its_config() -> None:
    settings = Settings(
        model="openai:qwen",
        base_url="http://127.0.0.1:8080/v1",
        temperature=0.0,
        max_tokens=99,
        sandbox=SandboxSettings(timeout_seconds=5, memory_mb=64),
    )
    config = agent_config(settings)
    assert isinstance(config, AgentConfig)
    assert config != agent_config(Settings())
    assert (config.model, config.base_url, config.temperature, config.max_tokens) == (
        "openai:qwen",
        "http://127.0.0.1:8080/v1",
        0.0,
        99,
    )
    assert config.sandbox.limits().timeout_seconds == 5
    assert config.sandbox.limits().memory_mb == 64


async def test_what_the_first_build_imported_is_frozen_once(monkeypatch) -> None:
    """The collector's full passes stop walking Pydantic AI's modules after the first
    build (each pass was 40-50 ms with every thread, forwarding ones included, stopped);
    an agent rebuilt for new settings freezes nothing more (its garbage stays collectable)."""
    import gc
    from types import SimpleNamespace

    from agent.code_mode import CodeModeTools
    from punie_lsp.agent_run.agent_host import MODEL_FACTORY_ENV, AgentHost

    monkeypatch.setenv(MODEL_FACTORY_ENV, "tests.scripted_models:hello")
    session = SimpleNamespace(
        settings=Settings(), bad_model=None, code_mode_tools=CodeModeTools.load()
    )
    host = AgentHost(session)  # ty: ignore[invalid-argument-type]  # the fields _build reads
    gc.unfreeze()
    try:
        first = await host.agent()
        frozen = gc.get_freeze_count()
        assert frozen > 0
        session.settings = Settings(temperature=0.5)
        assert await host.agent() is not first
        assert gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()
        host.close()
