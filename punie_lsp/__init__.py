"""punie-lsp: a language server that forwards ty's semantics and hosts a Code Mode agent."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("punie-lsp")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

__all__ = ["__version__"]
