"""The composition root: the pygls server that owns punie's own messages.

``language_server`` builds ``PunieLanguageServer`` and registers the features;
``protocol`` and ``lifecycle`` are its pygls plumbing. Nothing below imports this
package: features receive what they need.
"""
