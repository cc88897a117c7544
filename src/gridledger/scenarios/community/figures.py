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
    """Fig. 3.7: payoff from the energy saving kept (after the fee of Lemma 2) and the reward share."""
    n = day.config.prosumers
    x = np.arange(n)
    p = day.config.price_per_kwh
    kept = p * (day.savings_kwh - day.reward.fees_kwh)
    fig, ax = plt.subplots(figsize=(max(8, 0.35 * n), 4))
    ax.bar(x, kept, label="energy saving kept")
    ax.bar(x, p * day.reward.fees_kwh, bottom=kept, color="lightgrey", label="fee paid (delta x saving)")
    ax.bar(x, p * day.reward_shares_kwh, bottom=kept + p * day.reward.fees_kwh, label="mining reward share (Shapley)")
    ax.set_xticks(x, [f"P{i}" for i in x], fontsize=7 if n > 20 else 10)
    ax.set_ylabel(f"payoff (money at {p:g} per kWh)")
    miner = day.miner or ()
    ax.set_title(f"Payoffs; miner coalition {list(miner)}")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def stability_figure(path: Path, prosumer: int, profile: list[dict[str, Any]]) -> None:
    """Fig. 3.8: a prosumer's proof score in its coalition, alone and in every other coalition
    (hatched: that coalition's members would refuse, one of them losing)."""
    labels = [f"{p['place']}\n{p['coalition']}" for p in profile]
    values = [p["proof_score"] for p in profile]
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(values)), 4))
    colors = ["tab:green"] + ["tab:grey"] * (len(values) - 1)
    bars = ax.bar(range(len(values)), values, color=colors)
    for bar, p in zip(bars, profile, strict=True):
        if not p.get("accepted", True):
            bar.set_hatch("//")
            bar.set_alpha(0.5)
    ax.set_xticks(range(len(values)), labels, fontsize=7)
    ax.set_ylabel("proof score")
    ax.set_title(f"P{prosumer}: proof score in its coalition and elsewhere (hatched: refused by its members)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def scaling_figure(path: Path, table: dict[str, dict[str, dict[str, list[float]]]], sizes: list[int]) -> None:
    """Fig. 3.9 for each reading of the loss model (rows): P2P shares, savings, execution time."""
    readings = list(table)
    fig, axes = plt.subplots(len(readings), 3, figsize=(15, 3.6 * len(readings)), squeeze=False)
    for row, reading in zip(axes, readings, strict=True):
        for k, (dist, vals) in enumerate(table[reading].items()):
            c = f"C{k}"
            row[0].plot(sizes, vals["p2p_share_per_prosumer_pct"], "o-", color=c, label=f"{dist.upper()} per prosumer")
            row[0].plot(sizes, vals["p2p_share_of_energy_pct"], "s--", color=c, alpha=0.6,
                        label=f"{dist.upper()} one-sided")
            row[1].plot(sizes, vals["savings_pct"], "o-", color=c, label=f"{dist.upper()} coalitions")
            row[1].plot(sizes, vals["optimum_savings_pct"], "^:", color=c, alpha=0.7, label=f"{dist.upper()} optimum")
            row[1].plot(sizes, vals["baseline_savings_pct"], "x--", color=c, alpha=0.5,
                        label=f"{dist.upper()} baseline")
            row[2].plot(sizes, vals["formation_seconds"], "o-", color=c, label=f"{dist.upper()} formation")
            row[2].plot(sizes, vals["seconds"], "s--", color=c, alpha=0.5, label=f"{dist.upper()} whole day")
        row[0].set_title(f"[{reading}] (a) energy traded among prosumers (%)")
        row[1].set_title(f"[{reading}] (b) loss saved vs acting alone (%)")
        row[2].set_title(f"[{reading}] (c) execution time (s)")
        for ax in row:
            ax.set_xlabel("prosumers")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def baseline_figure(path: Path, per: dict[str, dict[str, list[float]]]) -> None:
    """Fig. 3.11 for each reading (rows): savings and local consumption per draw, coalitions vs baseline."""
    readings = list(per)
    fig, axes = plt.subplots(len(readings), 2, figsize=(13, 3.4 * len(readings)), squeeze=False)
    w = 0.28
    for (a, b), reading in zip(axes, readings, strict=True):
        v = per[reading]
        x = np.arange(1, len(v["savings_pct"]) + 1)
        a.bar(x - w, v["savings_pct"], w, label="coalitions (ours)")
        a.bar(x, v["baseline_savings_pct"], w, label="non-cooperative baseline")
        a.bar(x + w, v["optimum_savings_pct"], w, label="grand-coalition optimum", alpha=0.6)
        a.set_title(f"[{reading}] (a) loss saved vs acting alone (%)")
        b.bar(x - w / 2, v["local_consumption_pct"], w, label="coalitions (ours)")
        b.bar(x + w / 2, v["baseline_local_consumption_pct"], w, label="non-cooperative baseline")
        b.set_title(f"[{reading}] (b) consumption met by neighbours' energy (%)")
        for ax in (a, b):
            ax.set_xlabel("draw")
            ax.set_xticks(x)
            ax.legend(fontsize=7)
            ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def series_figure(path: Path, series: Any) -> None:
    """A run of days: losses (alone, coalitions, optimum, baseline) and cumulative payoffs."""
    days = series.days
    t = np.arange(1, len(days) + 1)
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4))
    a.plot(t, [d.loss_alone_kwh for d in days], "o-", label="acting alone")
    a.plot(t, [d.baseline_loss_kwh for d in days], "x--", label="non-cooperative baseline")
    a.plot(t, [d.loss_coalition_kwh for d in days], "s-", label="coalitions")
    a.plot(t, [d.optimum_kwh for d in days], "^:", label="grand-coalition optimum")
    a.set_xlabel("day")
    a.set_ylabel("loss (kWh)")
    a.set_title("Daily distribution loss")
    a.legend(fontsize=8)
    cum = np.cumsum([d.payoffs for d in days], axis=0)
    for i in range(cum.shape[1]):
        b.plot(t, cum[:, i], lw=0.8)
    b.set_xlabel("day")
    b.set_ylabel("cumulative payoff (money)")
    b.set_title("Cumulative payoff of each prosumer")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
