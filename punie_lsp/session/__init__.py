"""One editor connection's state and the services over it.

Settings, the documents the editor opened, work-done progress, and the editor's ty as
the typed tools' semantic backend. Features and the agent run read these; this package
imports neither.
"""
