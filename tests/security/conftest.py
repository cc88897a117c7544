"""The attack suite runs on the embedded chain and on a real anvil node, like the contract suite
(the ``chain`` and ``anvil_url`` fixtures of tests/conftest.py)."""
