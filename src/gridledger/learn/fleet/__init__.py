"""Learning for the EV fleet: the V2V environments, federated PPO, stable-baselines3 fleets."""
