"""Punie's nine domain validators, shipped as a ``punie.tools`` plug-in.

They are not built-in tools on purpose: they register through the entry-point group
``punie.tools`` in ``pyproject.toml`` (``[project.entry-points."punie.tools"]``), the
path a third-party plug-in takes, so that path stays exercised. Each is an ``async``
typed tool ``(ctx, file_path) -> DomainValidationResult`` (Punie's model, see
``punie_validators._base``), parsing with LibCST:

- ``tdom``: ``validate_component``, ``check_render_tree``, ``validate_escape_context``
- ``svcs``: ``validate_service_registration``, ``check_dependency_graph``,
  ``validate_injection_site``
- ``tdom_svcs``: ``validate_middleware_chain``, ``check_di_template_binding``,
  ``validate_route_pattern``

The rules are Punie's (``src/punie/cst/validators/`` of pauleveritt/punie); each
module says where it goes further. Importing the package runs nothing.
"""
