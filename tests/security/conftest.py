"""The attack suite runs on the embedded chain and on a real anvil node, like the contract suite."""

from integration.ledger.conftest import anvil_url, chain  # noqa: F401  (fixtures)
