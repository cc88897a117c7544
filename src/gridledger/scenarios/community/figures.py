"""Figures of the community experiments (thesis Figs. 3.5-3.9, 3.11)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from gridledger.grid.dispatch import EDC


def coalition_map(path: Path, day: Any) -> None:
    """Fig. 3.5: prosumers, coalitions (colours), transfers (arrows) and the EDC."""
    pos = day.inputs.positions_km
    edc = day.grid.edc_km
    fig, ax = plt.subplots(figsize=(9.5, 7))
    cmap = plt.get_cmap("tab10")
    for k, c in enumerate(day.formation.partition):
        color = cmap(k % 10)
        pts = pos[list(c)]
        ax.scatter(pts[:, 0], pts[:, 1], s=120, color=color, edgecolor="black", zorder=3,
                   label=f"coalition {k + 1}: PS {day.coalition_scores[c]:.2f}")
        for i in c:
            role = "S" if day.balance_kwh[i] > 0 else ("B" if day.balance_kwh[i] < 0 else "-")
            ax.annotate(f"P{i} {role}", pos[i], textcoords="offset points", xytext=(6, 6), fontsize=8)
    for t in day.transactions:
        a = edc if t["from"] == EDC else pos[t["from"]]
        b = edc if t["to"] == EDC else pos[t["to"]]
        p2p = EDC not in (t["from"], t["to"])
        ax.annotate("", xy=b, xytext=a, arrowprops={"arrowstyle": "->", "color": "tab:red" if p2p else "grey",
                                                    "lw": 0.6 + 0.25 * t["energy_kwh"], "alpha": 0.8})
    ax.scatter([edc[0]], [edc[1]], marker="s", s=200, color="black", label="EDC", zorder=4)
    ax.set_xlim(0, day.config.loss.area_km)
    ax.set_ylim(0, day.config.loss.area_km)
    ax.set_xlabel("km")
    ax.set_ylabel("km")
    ax.set_title("Stable coalitions and transfers (red: P2P, grey: with the EDC)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def loss_comparison(path: Path, day: Any) -> None:
    """Fig. 3.6: each prosumer's loss acting alone and in its coalition."""
    n = day.config.prosumers
    x = np.arange(n)
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(x, day.alone_loss_kwh, "o-", label="acting alone (EDC only)")
    ax.plot(x, day.formation.member_loss, "s-", label="in coalition")
    ax.fill_between(x, day.formation.member_loss, day.alone_loss_kwh, alpha=0.2, label="saving")
    ax.set_xticks(x, [f"P{i}" for i in x])
    ax.set_ylabel("energy lost (kWh)")
    ax.set_title("Prosumers' distribution loss, alone vs in coalition")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def payoff_figure(path: Path, day: Any) -> None:
    """Fig. 3.7: payoff from energy saving and from the mining reward."""
    n = day.config.prosumers
    x = np.arange(n)
    p = day.config.price_per_kwh
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(x, p * day.savings_kwh, label="energy saving")
    ax.bar(x, p * day.reward_shares_kwh, bottom=p * day.savings_kwh, label="mining reward share (Shapley)")
    ax.set_xticks(x, [f"P{i}" for i in x])
    ax.set_ylabel(f"payoff (money at {p:g} per kWh)")
    miner = day.miner or ()
    ax.set_title(f"Payoffs; miner coalition {list(miner)}")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def stability_figure(path: Path, prosumer: int, profile: list[dict[str, Any]]) -> None:
    """Fig. 3.8: a prosumer's proof score in its coalition and in every alternative."""
    labels = [f"{p['place']}\n{p['coalition']}" for p in profile]
    values = [p["proof_score"] for p in profile]
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(values)), 4))
    colors = ["tab:green"] + ["tab:grey"] * (len(values) - 1)
    ax.bar(range(len(values)), values, color=colors)
    ax.set_xticks(range(len(values)), labels, fontsize=7)
    ax.set_ylabel("proof score")
    ax.set_title(f"P{prosumer}: proof score in its coalition and elsewhere")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def scaling_figure(path: Path, table: dict[str, dict[str, list[float]]], sizes: list[int]) -> None:
    """Fig. 3.9: share traded in coalitions, savings vs acting alone, execution time."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for dist, vals in table.items():
        axes[0].plot(sizes, vals["traded_in_coalitions_pct"], "o-", label=dist.upper())
        axes[1].plot(sizes, vals["savings_pct"], "o-", label=dist.upper())
        axes[2].plot(sizes, vals["seconds"], "o-", label=dist.upper())
    axes[0].set_title("(a) energy traded inside coalitions (%)")
    axes[1].set_title("(b) loss saved vs acting alone (%)")
    axes[2].set_title("(c) execution time (s)")
    for ax in axes:
        ax.set_xlabel("prosumers")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def baseline_figure(path: Path, ours: list[float], base: list[float], local_ours: list[float],
                    local_base: list[float]) -> None:
    """Fig. 3.11: savings and local consumption, ours vs the non-cooperative baseline, per draw."""
    x = np.arange(1, len(ours) + 1)
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4))
    w = 0.4
    a.bar(x - w / 2, ours, w, label="coalitions (ours)")
    a.bar(x + w / 2, base, w, label="non-cooperative baseline")
    a.set_title("(a) loss saved vs acting alone (%)")
    b.bar(x - w / 2, local_ours, w, label="coalitions (ours)")
    b.bar(x + w / 2, local_base, w, label="non-cooperative baseline")
    b.set_title("(b) consumption met by neighbours' energy (%)")
    for ax in (a, b):
        ax.set_xlabel("draw")
        ax.legend()
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
