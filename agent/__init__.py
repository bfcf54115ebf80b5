"""The Pydantic AI Code Mode agent and its model backends. Not built yet (see the agent issue)."""
