"""The composition root: the pygls server that owns punie's own messages.

``language_server`` builds ``PunieLanguageServer``, the ``Session`` and the ``AgentHost``,
and registers the features (``bind``);
``protocol`` is its pygls plumbing. Nothing below imports this
package: features receive what they need.
"""
