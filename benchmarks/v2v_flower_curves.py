"""Learning curves of the fleet's federated PPO on the batched backend and on Flower's simulation
engine, same seeds and data (run: python benchmarks/v2v_flower_curves.py [OUT.png]; needs
``gridledger[flower-simulation]``). Writes the figure (docs/figures/v2v-flower-vs-batched.png)
and prints, per seed, the largest difference between the backends' per-round mean returns beside
the seed-to-seed spread, and a final line of ratios."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

from gridledger.learn.fleet.flower import simulate
from gridledger.scenarios.fleet.run import train, train_config

SEEDS = (0, 1, 2)
EVS, ROUNDS, WORLDS, NODES = 10, 40, 8, 5


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    torch.set_num_threads(1)
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/figures/v2v-flower-vs-batched.png")
    cfg = train_config({"algo": "ppo", "federation": {"evs": EVS, "rounds": ROUNDS, "worlds": WORLDS}})
    curves: dict[str, list[np.ndarray]] = {"batched": [], "flower": []}
    secs = {"batched": 0.0, "flower": 0.0}
    for s in SEEDS:
        t = time.perf_counter()
        curves["batched"].append(np.array([r.mean_return for r in train(cfg, s).records]))
        secs["batched"] += time.perf_counter() - t
        t = time.perf_counter()
        _, recs, _, _ = simulate(cfg, s, nodes=NODES)
        secs["flower"] += time.perf_counter() - t
        curves["flower"].append(np.array([r.mean_return for r in recs]))
    b, f = np.array(curves["batched"]), np.array(curves["flower"])
    spread = b.std(axis=0, ddof=1)
    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.arange(ROUNDS)
    for k, s in enumerate(SEEDS):
        ax.plot(x, b[k], color=f"C{k}", lw=2.5, alpha=0.45, label=f"batched, seed {s}")
        ax.plot(x, f[k], color=f"C{k}", lw=1.0, ls="--", label=f"Flower simulation, seed {s}")
    ax.fill_between(x, b.mean(0) - spread, b.mean(0) + spread, color="grey", alpha=0.15,
                    label="batched mean +- seed-to-seed s.d.")
    ax.set_xlabel("round")
    ax.set_ylabel("mean training return per EV-day")
    ax.set_title(f"Federated PPO, {EVS} EVs, {WORLDS} days per round: batched vs Flower ({NODES} SuperNodes)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    diff = np.abs(b - f)
    for k, s in enumerate(SEEDS):
        print(f"seed {s}: largest |Flower - batched| {diff[k].max():.2e}, at round {int(diff[k].argmax())}")
    print(f"seed-to-seed s.d. of the batched backend: median {np.median(spread):.3f}, min {spread.min():.3f}")
    print(f"ratios: largest backend difference / smallest seed spread {diff.max() / spread.min():.1e}; "
          f"Flower simulation / batched wall time {secs['flower'] / secs['batched']:.0f}x; figure {out}")


if __name__ == "__main__":
    main()
