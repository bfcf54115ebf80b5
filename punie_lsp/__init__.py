"""punie-lsp: a language server that forwards ty's semantics and hosts a Code Mode agent.

Importing this package must stay cheap (editors wait on start-up): no pygls here.
"""

__version__ = "0.1.0"
"""The distribution's version (hatch reads it from here)."""

__all__ = ["__version__"]
