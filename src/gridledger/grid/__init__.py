"""Physical layer: community geography, AC power flow, loss models and the dispatch LP."""
