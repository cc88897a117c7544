"""Ledger: Solidity contracts (compiled artifacts), chain backends and typed clients."""
