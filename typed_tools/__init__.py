"""Typed tools: Pydantic results for ty, ruff, pytest, LSP navigation, files and git."""
