"""The Pydantic AI Code Mode agent and its model backends (mlx in-process, OpenAI-compatible). Not built yet."""
