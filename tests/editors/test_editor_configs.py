"""The Helix, PyCharm (LSP4IJ) and Zed set-ups parse, start ``punie-lsp --stdio`` for
Python, and carry settings the server accepts without a warning.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from typing import Any

from punie_lsp.session.settings import resolve, split_initialization_options
from tests.editors.conftest import EDITORS, server_bounds, server_settings

HELIX = EDITORS / "helix" / "languages.toml"
LSP4IJ = EDITORS / "pycharm" / "lsp4ij-template"
ZED = EDITORS / "zed"


def accepted(options: Any) -> None:
    """``options`` as initializationOptions: resolved by the server with no problem named."""
    punie, ty, problems = split_initialization_options(options)
    _, problems, bad_model = resolve(punie, problems)
    assert problems == [] and bad_model is None
    assert isinstance(ty, dict)


def test_helix_runs_punie_lsp_stdio_for_python() -> None:
    config = tomllib.loads(HELIX.read_text())
    server = config["language-server"]["punie"]
    assert server["command"] == "punie-lsp"
    assert server["args"] == ["--stdio"]
    accepted(server["config"])
    python = [lang for lang in config["language"] if lang["name"] == "python"]
    assert len(python) == 1
    assert python[0]["language-servers"] == ["punie"]  # not ty as well: punie runs it


def test_lsp4ij_template_runs_punie_lsp_stdio_for_python() -> None:
    template = json.loads((LSP4IJ / "template.json").read_text())
    assert template["id"] == "punie-lsp"
    for command in template["programArgs"].values():
        executable, *args = shlex.split(command)
        assert executable in ("punie-lsp", "punie-lsp.exe")
        assert args == ["--stdio"]
    (mapping,) = template["fileTypeMappings"]
    assert mapping["languageId"] == "python"
    assert mapping["fileType"]["name"] == "Python"
    assert "*.py" in mapping["fileType"]["patterns"]


def test_lsp4ij_settings_are_accepted_and_the_schema_mirrors_the_server() -> None:
    accepted(json.loads((LSP4IJ / "initializationOptions.json").read_text()))
    accepted(json.loads((LSP4IJ / "settings.json").read_text()))
    schema = json.loads((LSP4IJ / "settings.schema.json").read_text())

    def flatten(properties: dict[str, Any], prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in properties.items():
            if value.get("type") == "object" and "properties" in value:
                out.update(flatten(value["properties"], f"{prefix}{key}."))
            else:
                out[prefix + key] = value
        return out

    ours = flatten(schema["properties"]["punie"]["properties"], "punie.")
    expected = server_settings()
    assert sorted(ours) == sorted(expected)
    for key, (kind, enum, default) in expected.items():
        assert ours[key]["type"] == kind, key
        assert ours[key].get("enum") == enum, key
        assert ours[key]["default"] == default, key
    bounds = server_bounds()
    for key in expected:  # the ranges on the settings model's fields (agent.config.Settings)
        limits = ("minimum", "exclusiveMinimum", "maximum")
        assert {b: ours[key][b] for b in limits if b in ours[key]} == bounds[key], key


def test_zed_extension_declares_punie_lsp_for_python() -> None:
    manifest = tomllib.loads((ZED / "extension.toml").read_text())
    server = manifest["language_servers"]["punie-lsp"]
    assert server["languages"] == ["Python"]
    cargo = tomllib.loads((ZED / "Cargo.toml").read_text())
    assert cargo["lib"]["crate-type"] == ["cdylib"]
    assert "zed_extension_api" in cargo["dependencies"]
    source = (ZED / "src" / "lib.rs").read_text()
    assert re.search(r'const SERVER: &str = "punie-lsp";', source)
    assert '"--stdio"' in source
