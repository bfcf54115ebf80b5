"""Monty (pydantic-monty) sandbox runner for model-written Python. Not built yet."""
