"""Scenarios: one market day or experiment end to end, wiring games, learners, data and ledger."""
