"""Shared fixtures: a copy of the fixture project and pytest-lsp clients of punie-lsp.

Clients use ``typed_tools.lsp_converter.converter()``: with the stock pygls converter a
client cannot structure ty's ``notebookDocumentSync`` (which punie advertises as ty's
own) and waits forever for the initialize result.

The suite's child pytest runs (``pytest_run`` on a project without a ``.venv`` uses this
interpreter) start with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``: otherwise each loads every
dev plug-in of this venv (hypothesis, pytest-lsp, ...: 2.4 s of CPU per run, not 0.5),
and none of the test projects uses one. The product does not set it: a user's project's
own plug-ins (pytest-asyncio, pytest-django, ...) are part of how its tests run.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

from typed_tools.lsp_converter import converter

os.environ.setdefault("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
if os.environ.get("PYTHONDONTWRITEBYTECODE") and "PYTHONPYCACHEPREFIX" not in os.environ:
    # The suite starts a few hundred Python processes (punie-lsp, pytest_run's pytest, the
    # CLIs); with no bytecode written, each compiles every module it imports from source
    # (~0.5 s of CPU per server start). They share a bytecode cache outside the checkout.
    os.environ["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir(), "punie-lsp-test-pycache"))
    del os.environ["PYTHONDONTWRITEBYTECODE"]

FIXTURE_PROJECT = Path(__file__).parents[1] / "training" / "sample_project"
SERVER_COMMAND = [sys.executable, "-m", "punie_lsp", "--stdio", "--log-level", "DEBUG"]
CLIENT_PROFILES = ["visual-studio-code", "neovim"]
"""VS Code 1.65 takes pushed diagnostics and UTF-16; Neovim 0.11 pulls and offers UTF-8."""


class Client(LanguageClient):
    """pytest-lsp's client, knowing its project and profile, accepting registrations."""

    def __init__(self) -> None:
        super().__init__(converter_factory=converter)
        self.root = FIXTURE_PROJECT
        self.profile = CLIENT_PROFILES[0]
        self.registrations: list[types.Registration] = []


def accept_registrations(client: Client, params: types.RegistrationParams) -> None:
    """Editors accept ty's file-watcher registration; pytest-lsp has no handler for it."""
    client.registrations.extend(params.registrations)


def make_client(
    overrides: dict[str, Callable[..., Any]] | None = None, cls: type[Client] = Client
) -> Client:
    """A test client of class ``cls``; ``overrides`` replace its handlers by method."""
    client = cls()
    features = {
        **DEFAULT_CLIENT_FEATURES,
        types.CLIENT_REGISTER_CAPABILITY: accept_registrations,
        **(overrides or {}),
    }
    register_lsp_features(client, features)
    return client


def initialize_params(profile: str, root: Path, options: object = None) -> types.InitializeParams:
    return types.InitializeParams(
        capabilities=client_capabilities(profile),
        root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
        initialization_options=options,
    )


def open_document(client: LanguageClient, path: Path, text: str | None = None) -> str:
    """``didOpen`` a file (its disk text unless ``text``); returns its URI."""
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri,
                language_id="python",
                version=1,
                text=path.read_text() if text is None else text,
            )
        )
    )
    return uri


def change_document(client: LanguageClient, uri: str, version: int, text: str) -> None:
    """Replace a document's whole text in the editor, without saving it."""
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh, writable copy of the sample project (training/sample_project)."""
    root = tmp_path / "project"
    shutil.copytree(FIXTURE_PROJECT, root)
    return root


@pytest_lsp.fixture(
    params=CLIENT_PROFILES,
    config=ClientServerConfig(server_command=SERVER_COMMAND, client_factory=make_client),
)
async def client(
    request: pytest.FixtureRequest, lsp_client: Client, project: Path
) -> AsyncIterator[Client]:
    """An initialized punie-lsp session on the fixture project, per client profile."""
    lsp_client.root = project
    lsp_client.profile = request.param
    await lsp_client.initialize_session(initialize_params(request.param, project))
    yield lsp_client
    await lsp_client.shutdown_session()
