"""Learning: environments (Gymnasium / PettingZoo), RL agents and federated averaging."""
