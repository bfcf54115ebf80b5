"""Thin LSP handlers: ``workspace/executeCommand`` commands and code actions."""
