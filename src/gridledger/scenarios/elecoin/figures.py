"""Figures of the elecoin market (paper Figs. 3-4 and the demo summary), drawn with matplotlib."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

METHOD_STYLE = {
    "dma-ubrl": {"color": "tab:red", "marker": "o", "label": "DMA-UBRL"},
    "ga-prosumers": {"color": "tab:blue", "marker": "s", "label": "GA (prosumers only)"},
    "ga-server": {"color": "tab:green", "marker": "^", "label": "GA (server only)"},
    "random": {"color": "goldenrod", "marker": "x", "label": "Random"},
    "analytic": {"color": "black", "marker": "", "label": "Analytic equilibrium", "linestyle": "--"},
}


def _style(method: str) -> dict[str, Any]:
    return dict(METHOD_STYLE[method])


def convergence_figure(path: Path, runs: dict[str, dict[str, Any]]) -> None:
    """Fig. 3: greedy demands and prices over episodes, one row per pricing mechanism."""
    fig, axes = plt.subplots(len(runs), 2, figsize=(11, 3.8 * len(runs)), squeeze=False)
    for row, (pricing, run) in enumerate(runs.items()):
        ep = run["episodes"]
        ax_x, ax_p = axes[row]
        for i, series in enumerate(run["demands"]):
            line, = ax_x.plot(ep, series, lw=1.2, label=f"prosumer {i + 1}")
            ax_x.axhline(run["analytic_demands"][i], color=line.get_color(), ls="--", lw=0.8)
        ax_x.set_title(f"({'ab'[row] if row < 2 else row}) demands, {pricing} pricing")
        ax_x.set_xlabel("episode")
        ax_x.set_ylabel("elecoin demand $x_i$")
        ax_x.legend(fontsize=7)
        for i, series in enumerate(run["prices"]):
            line, = ax_p.plot(ep, series, lw=1.2, label="price" if pricing == "unified" else f"price to {i + 1}")
            ax_p.axhline(run["analytic_prices"][i], color=line.get_color(), ls="--", lw=0.8)
            if pricing == "unified":
                break
        ax_p.set_title(f"unit elecoin price, {pricing} pricing (dashed: analytic)")
        ax_p.set_xlabel("episode")
        ax_p.set_ylabel("price $p$")
        ax_p.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def sweep_figure(path: Path, x_label: str, xs: list[float], series: dict[str, dict[str, list[float]]],
                 title_prefix: str) -> None:
    """Two panels: mean prosumer utility and server utility against a swept parameter."""
    fig, (ax_p, ax_s) = plt.subplots(1, 2, figsize=(11, 4))
    for method, values in series.items():
        st = _style(method)
        ax_p.plot(xs, values["mean_prosumer_utility"], **st)
        ax_s.plot(xs, values["server_utility"], **st)
    ax_p.set_title(f"({title_prefix[0]}) utility of prosumers (mean per prosumer)")
    ax_s.set_title(f"({title_prefix[1]}) utility of the edge server")
    for ax in (ax_p, ax_s):
        ax.set_xlabel(x_label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    ax_p.set_ylabel("$U^p$")
    ax_s.set_ylabel("$U^e$")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def models_sweep_figure(path: Path, x_label: str, xs: list[float], models: dict[str, dict[str, Any]],
                        titles: dict[str, str], letters: str) -> None:
    """One row per market model: mean prosumer utility, server utility and price against a swept
    parameter, every method; DMA-UBRL points whose learners did not converge are drawn hollow."""
    fig, axes = plt.subplots(len(models), 3, figsize=(15, 3.9 * len(models)), squeeze=False)
    for row, (model, series) in enumerate(models.items()):
        ax_p, ax_s, ax_price = axes[row]
        for method in METHOD_STYLE:
            if method not in series:
                continue
            values = series[method]
            st = _style(method)
            for ax, key in ((ax_p, "mean_prosumer_utility"), (ax_s, "server_utility"), (ax_price, "price")):
                ax.plot(xs, values[key], **st)
                if "converged" in values:
                    bad = [k for k, ok in enumerate(values["converged"]) if not ok]
                    if bad:
                        ax.plot([xs[k] for k in bad], [values[key][k] for k in bad], ls="", marker="o", ms=10,
                                mfc="none", mec="black", label="did not converge" if key == "price" else None)
        ax_p.set_title(f"({letters[0]}) utility of prosumers (mean), {titles[model]}", fontsize=9)
        ax_s.set_title(f"({letters[1]}) utility of the edge server, {titles[model]}", fontsize=9)
        ax_price.set_title(f"unit elecoin price, {titles[model]}", fontsize=9)
        ax_p.set_ylabel("$U^p$")
        ax_s.set_ylabel("$U^e$")
        ax_price.set_ylabel("$p$")
        for ax in (ax_p, ax_s, ax_price):
            ax.set_xlabel(x_label)
            ax.grid(alpha=0.3)
        ax_price.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def mining_figure(path: Path, servers: list[int], curves: dict[str, list[float]]) -> None:
    """Fig. 4(e): probability of successful mining against the number of edge servers."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, values in curves.items():
        ax.plot(servers, values, marker="o", label=label)
    ax.set_xlabel("number of edge servers $M$")
    ax.set_ylabel(r"success probability $\rho_j$")
    ax.set_title("(e) mining success probability (equal hash powers)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def methods_figure(path: Path, rows: list[dict[str, Any]]) -> None:
    """Demo summary: server and total prosumer utility of every method, per pricing."""
    pricings = sorted({r["pricing"] for r in rows}, reverse=True)
    methods = [m for m in METHOD_STYLE if any(r["method"] == m for r in rows)]
    fig, axes = plt.subplots(1, len(pricings), figsize=(6 * len(pricings), 4), squeeze=False)
    for ax, pricing in zip(axes[0], pricings, strict=True):
        sel = {r["method"]: r for r in rows if r["pricing"] == pricing}
        xs = range(len(methods))
        width = 0.38
        ax.bar([x - width / 2 for x in xs], [sel[m]["server_utility"] for m in methods], width, label="edge server")
        ax.bar([x + width / 2 for x in xs], [sel[m]["total_prosumer_utility"] for m in methods], width,
               label="prosumers (total)")
        ax.set_xticks(list(xs), [METHOD_STYLE[m]["label"] for m in methods], rotation=20, fontsize=8)
        ax.set_title(f"{pricing} pricing")
        ax.set_ylabel("utility")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
