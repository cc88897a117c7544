"""Thesis chapter 4 figures: one fleet (Figs. 4.6-4.9), and the study with seeds and confidence
intervals behind Fig. 4.10 (learners under ND and UD data) and Figs. 4.11-4.12 (against the
baselines, the rule and the perfect-foresight optimum)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from gridledger.data.fleet import describe as describe_fleet
from gridledger.progress import SILENT, Reporter
from gridledger.reporting import OutputDir, provenance
from gridledger.scenarios.fleet.run import (
    V2VTrainConfig,
    convergence_point,
    evaluate_fleet,
    records_json,
    save_fleet,
    train,
)
from gridledger.scenarios.fleet.study import (
    FIG410_METHODS,
    FIG411_METHODS,
    FULL,
    SMOKE,
    aggregate,
    run_study,
    tune_td3,
)


def _trailing(y: np.ndarray, k: int = 10) -> np.ndarray:
    c = np.cumsum(np.concatenate([[0.0], y]))
    idx = np.arange(1, len(y) + 1)
    lo = np.maximum(0, idx - k)
    return (c[idx] - c[lo]) / (idx - lo)


def _fmt(c: dict[str, float], digits: int = 2) -> str:
    if np.isnan(c.get("ci95", float("nan"))):
        return f"{c['mean']:.{digits}f}"
    return f"{c['mean']:.{digits}f} ± {c['ci95']:.{digits}f}"


# -- Figs. 4.6-4.9: one federated fleet --------------------------------------------------------------
def reproduce_fig46_49(config: V2VTrainConfig, seed: int, smoke: bool, out: OutputDir,
                       reporter: Reporter = SILENT) -> dict[str, Any]:
    """Figs. 4.6-4.9 from one federated PPO fleet of 10 EVs at one site."""
    rounds = 20 if smoke else 300
    cfg = replace(config, federation=replace(config.federation, evs=10, rounds=rounds))
    advance = reporter.task(f"federated {cfg.algo.upper()}, 10 EVs", rounds)
    fleet = train(cfg, seed, lambda r: advance(1))
    conv = convergence_point(fleet.records)
    ev = evaluate_fleet(fleet, days=1 if smoke else 10, seed=seed + 1, oracle=not smoke, hourly_ev=True)
    day = ev["days"][0]
    # Fig. 4.6: learning curve.
    fig, ax = plt.subplots(figsize=(7, 4))
    eps = [r.episodes for r in fleet.records]
    ax.plot(eps, _trailing(np.array([r.mean_return for r in fleet.records])),
            label=f"training reward ({cfg.env.reward})")
    ax.plot(eps, _trailing(np.array([r.mean_money for r in fleet.records])), label="money (net) per EV-day")
    ax.axvline(conv["episodes"], color="grey", ls="--", label="95% of final return")
    ax.set_xlabel("episodes (EV-days)")
    ax.set_ylabel("per EV-day, trailing mean of 10 rounds")
    ax.set_title("Fig. 4.6: learning evolution")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out.file("thesis_fig4_6.png"), dpi=120)
    plt.close(fig)
    # Fig. 4.7: one EV's control over the day: energy and price, SOC.
    e0 = next(e for e in day["evs"] if e["came"])
    hours = [h for h in range(24) if e0["soc_by_hour"][h] is not None]
    energy = [e0["energy_kwh_by_hour"][h] for h in hours]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    axes[0].bar(hours, energy, color=["tab:green" if x > 0 else "tab:red" for x in energy])
    ax2 = axes[0].twinx()
    ax2.plot(hours, [day["grid_price_per_kwh"][h] for h in hours], "k.-", label="p_Gsell")
    axes[0].set_title(f"(a) {e0['ev_id']}: energy per hour (+ buy, - sell) and grid price")
    axes[1].plot(hours, [e0["soc_by_hour"][h] for h in hours], "o-")
    axes[1].set_title(f"(b) SOC; cash {e0['cash']:.2f}, net money {e0['net']:.2f}, "
                      f"proof score {e0['proof_score']:.2f}")
    for a in axes:
        a.set_xlabel("hour")
    fig.tight_layout()
    fig.savefig(out.file("thesis_fig4_7.png"), dpi=120)
    plt.close(fig)
    # Fig. 4.8: the 10-EV day: timeline, energy traded, payoff with the mining reward.
    rnd = day["round"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for e in day["evs"]:
        if e["came"]:
            axes[0].plot([e["arrival_h"], e["departure_h"]], [e["ev"], e["ev"]], lw=6)
    axes[0].set_title("(a) time at the site")
    axes[0].set_xlabel("hour")
    axes[1].bar([e["ev"] for e in day["evs"]], [e["discharged_kwh"] for e in day["evs"]], label="sold")
    axes[1].bar([e["ev"] for e in day["evs"]], [-e["charged_kwh"] for e in day["evs"]], label="bought")
    axes[1].set_title("(b) energy (kWh)")
    axes[1].legend()
    payoff = [e["net"] - rnd["fees"][e["ev"]] + (rnd["mining_reward"] if e["ev"] == rnd["mlag"] else 0.0)
              for e in day["evs"]]
    axes[2].bar([e["ev"] for e in day["evs"]], payoff,
                color=["tab:orange" if e["ev"] == rnd["mlag"] else "tab:blue" for e in day["evs"]])
    axes[2].set_title(f"(c) net money after fees and mining reward (mLAG: {rnd['mlag_ev']})")
    for a in axes[1:]:
        a.set_xlabel("EV")
    fig.tight_layout()
    fig.savefig(out.file("thesis_fig4_8.png"), dpi=120)
    plt.close(fig)
    # Fig. 4.9: actions against price for 5 EVs.
    fig, ax = plt.subplots(figsize=(8, 4))
    xs: list[float] = []
    ys: list[float] = []
    for e in [e for e in day["evs"] if e["came"]][:5]:
        hs = [h for h in range(24) if e["soc_by_hour"][h] is not None]
        px = [day["grid_price_per_kwh"][h] for h in hs]
        py = [e["energy_kwh_by_hour"][h] for h in hs]
        ax.scatter(px, py, label=e["ev_id"])
        xs += px
        ys += py
    corr = float(np.corrcoef(xs, ys)[0, 1]) if np.std(ys) > 0 and np.std(xs) > 0 else 0.0
    ax.set_xlabel("grid price p_Gsell")
    ax.set_ylabel("energy (kWh, + buy / - sell)")
    ax.set_title(f"Fig. 4.9: price impact (correlation {corr:.2f})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out.file("thesis_fig4_9.png"), dpi=120)
    plt.close(fig)
    summ = ev["summary"]
    results = {"experiment": "thesis-fig4.6-4.9", "smoke": smoke, **provenance(seed), "convergence": conv,
               "records": records_json(fleet.records), "evaluation": ev, "price_action_correlation": corr,
               "seconds": fleet.seconds}
    out.write_json("results.json", results)
    save_fleet(fleet, cfg, out.file("model"))
    t = summ["trained"]
    lines = [
        "# Thesis Figs. 4.6-4.9: a federated fleet of 10 EVs at one site", "",
        f"Federated {cfg.algo.upper()} (FedAvg after every round, PoSOC mLAG), {rounds} rounds, "
        f"{fleet.records[-1].episodes:,} EV-days, {fleet.records[-1].env_steps:,} EV-steps in {fleet.seconds:.1f} s; "
        f"trained on the {cfg.env.reward!r} reward; scored on {t['ev_days']} held-out EV-days.", "",
        describe_fleet(fleet.fleet, cfg.env.price_source, cfg.env.real), "",
        "![Fig. 4.6](thesis_fig4_6.png)", "", "![Fig. 4.7](thesis_fig4_7.png)", "", "![Fig. 4.8](thesis_fig4_8.png)",
        "", "![Fig. 4.9](thesis_fig4_9.png)", "",
        "| policy | net money per EV-day | cash | violations | delta-weighted return |",
        "| --- | --- | --- | --- | --- |"]
    for name, s in summ.items():
        lines.append(f"| {name} | {s['net']:.2f} ± {s['net_ci95']:.2f} | {s['cash']:.2f} | "
                     f"{100 * s['violation_rate']:.0f}% | {s['delta_return']:.2f} |")
    lines += ["", "| thesis (section 4.4) | ours |", "| --- | --- |",
              f"| learning converges after ~50K of 300K episodes (17%) | 95% of the final return after "
              f"{conv['episodes']:,} of {conv['total_episodes']:,} EV-days |",
              f"| EVs sell at high prices and buy at low | correlation of price and energy bought {corr:.2f} |",
              f"| the mLAG (EV5 in the thesis) earns the mining reward | day 0: mLAG {rnd['mlag_ev']}, reward "
              f"{rnd['mining_reward']:.3f} |"]
    out.write_text("report.md", "\n".join(lines) + "\n")
    return results


# -- the study ------------------------------------------------------------------------------------------
def _cache(out: OutputDir, name: str, smoke: bool, config: V2VTrainConfig, seed: int) -> Path:
    """Directory of finished runs, keyed by the study, its size, the configuration and the seed."""
    import hashlib
    import json

    from gridledger.params import to_mapping

    key = hashlib.sha256(json.dumps([name, smoke, seed, to_mapping(config)], sort_keys=True,
                                    default=str).encode()).hexdigest()[:12]
    return out.target.parent / f"{out.target.name}.runs-{name}{'-smoke' if smoke else ''}-{key}"


def _curves(ax: Any, runs: dict[str, list[dict[str, Any]]], labels: dict[str, str], col: int, title: str) -> None:
    for key, rs in runs.items():
        if not rs or "curve" not in rs[0]:
            continue
        x = np.array([c[0] for c in rs[0]["curve"]], dtype=float)
        ys = np.array([_trailing(np.array([c[col] for c in r["curve"]])) for r in rs])
        m = ys.mean(axis=0)
        ax.plot(x, m, label=labels[key])
        if len(rs) > 1:
            from scipy import stats

            half = stats.t.ppf(0.975, len(rs) - 1) * ys.std(axis=0, ddof=1) / np.sqrt(len(rs))
            ax.fill_between(x, m - half, m + half, alpha=0.15)
    ax.set_xlabel("EV-days of training")
    ax.set_title(title)


def _table(agg: dict[str, Any], labels: dict[str, str], ref: str) -> list[str]:
    lines = ["| method | net money per EV-day | cash | energy value | shortfall cost | violations | "
             "median departure SOC | delta-weighted return | net - ours (paired) | env steps | sample-gradients |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, row in agg.items():
        diff = _fmt(row["net_minus_reference"]) if "net_minus_reference" in row else ("-" if key != ref else "0")
        viol = row["violation_rate"]
        lines.append(
            f"| {labels[key]} | {_fmt(row['net'])} | {_fmt(row['cash'])} | {_fmt(row['energy_value'])} | "
            f"{_fmt(row['shortfall_cost'])} | {100 * viol['mean']:.1f}% ± {100 * viol['ci95']:.1f} | "
            f"{row['departure_soc_median']['mean']:.2f} | {_fmt(row['delta_return'])} | {diff} | "
            f"{row.get('env_steps', 0):,.0f} | {row.get('sample_gradients', 0):,.0f} |")
    return lines


def reproduce_fig411_412(config: V2VTrainConfig, seed: int, smoke: bool, out: OutputDir,
                         reporter: Reporter = SILENT) -> dict[str, Any]:
    """Figs. 4.11-4.12 as a study: ours against central PPO, tuned central TD3, independent
    learners, FedAvg + fine-tuning, FedProx, baseline1 (grid-only), baseline2 (no delta), the
    mining reward in training, the rule and the perfect-foresight optimum."""
    sizes = SMOKE if smoke else FULL
    cache = _cache(out, "fig411", smoke, config, seed)
    tuned = tune_td3(config, sizes, seed, reporter, cache)
    runs = run_study(config, FIG411_METHODS, sizes, seed, cache, reporter, tuned_td3=tuned["offpolicy"])
    labels = {m.key: m.label for m in FIG411_METHODS}
    agg = aggregate(runs, "fedavg")
    fig, axes = plt.subplots(1, 3, figsize=(19, 5))
    _curves(axes[0], {k: v for k, v in runs.items()}, labels, 1, f"Fig. 4.11: training reward ({config.env.reward})")
    _curves(axes[1], {k: v for k, v in runs.items()}, labels, 2, "training: net money per EV-day")
    axes[0].legend(fontsize=7)
    keys = [k for k in agg]
    means = [agg[k]["net"]["mean"] for k in keys]
    halves = [0 if np.isnan(agg[k]["net"]["ci95"]) else agg[k]["net"]["ci95"] for k in keys]
    axes[2].barh(range(len(keys)), means, xerr=halves, color="tab:blue")
    axes[2].set_yticks(range(len(keys)), [labels[k] for k in keys], fontsize=7)
    axes[2].set_title(f"Fig. 4.12: net money per held-out EV-day (95% CI, {sizes.seeds} seeds)")
    fig.tight_layout()
    fig.savefig(out.file("thesis_fig4_11_12.png"), dpi=120)
    plt.close(fig)
    ours, oracle, rule = agg["fedavg"], agg["oracle"], agg["rule"]
    mining = agg.get("fedavg-mining", {})
    b1, b2 = agg["baseline1"], agg["baseline2"]
    lines = ["# Thesis Figs. 4.11-4.12: the fleet study", "",
             f"{sizes.seeds} seeds; per seed a fleet of {sizes.evs} EVs with identities at one site; every learner "
             f"trains {sizes.rounds} rounds x {sizes.worlds} days at once on the same days (equal environment "
             f"steps) on the {config.env.reward!r} reward; scored on {sizes.test_days} held-out days per seed "
             f"({ours['ev_days_per_seed']} EV-days per seed, {ours['net_pooled']['ev_days']} in all). "
             "Means ± 95% confidence half-widths over seeds (Student t). Money per EV-day: cash + value of the "
             "energy left (at the off-peak price) - shortfall cost below the required SOC. baseline1 is scored "
             "in its own grid-only market; everyone else at the site market.", "",
             "![Figs. 4.11-4.12](thesis_fig4_11_12.png)", "", *_table(agg, labels, "fedavg"), "",
             f"TD3 tuning on seed {seed + 1000} (validation days): "
             + "; ".join(f"noise {g['exploration_noise']}, batch {g['batch_size']}: {g['validation_return']:.2f}"
                         for g in tuned["grid"]) + f"; chosen {tuned['chosen']}.", "",
             "| thesis (section 4.4.7) | measured |", "| --- | --- |",
             f"| ours beats baseline1 by ~10% | net money: ours {_fmt(ours['net'])}, baseline1 {_fmt(b1['net'])} "
             f"(difference {_fmt(b1.get('net_minus_reference', {'mean': float('nan'), 'ci95': float('nan')}))} "
             "for baseline1 - ours) |",
             f"| ours beats baseline2 by ~5% | net money: baseline2 {_fmt(b2['net'])}; delta-weighted return: ours "
             f"{_fmt(ours['delta_return'])}, baseline2 {_fmt(b2['delta_return'])} |",
             f"| (no optimum in the thesis) | perfect-foresight net money {_fmt(oracle['net'])}: ours is "
             f"{oracle['net']['mean'] - ours['net']['mean']:.2f} below it, the rule "
             f"{oracle['net']['mean'] - rule['net']['mean']:.2f} below it |"]
    if mining:
        lines.append(
            "| PoSOC rewards discharging | with the mining reward in training: proof score "
            f"{_fmt(mining['proof_score'])} vs {_fmt(ours['proof_score'])}, "
            f"discharged {_fmt(mining['discharged_kwh'])} vs "
            f"{_fmt(ours['discharged_kwh'])} kWh per EV-day, net money difference "
            f"{_fmt(mining.get('net_minus_reference', {'mean': float('nan'), 'ci95': float('nan')}))} |")
    results = {"experiment": "thesis-fig4.11-4.12", "smoke": smoke, **provenance(seed), "sizes": sizes.__dict__,
               "td3_tuning": {k: v for k, v in tuned.items() if k != "offpolicy"}, "summary": agg,
               "runs": {k: [{x: y for x, y in r.items() if x != "net_ev_days"} for r in v] for k, v in runs.items()}}
    out.write_json("results.json", results)
    out.write_text("report.md", "\n".join(lines) + "\n")
    return results


def reproduce_fig410(config: V2VTrainConfig, seed: int, smoke: bool, out: OutputDir,
                     reporter: Reporter = SILENT) -> dict[str, Any]:
    """Fig. 4.10 as a study: federated SAC, PPO and A2C over 5 EVs under ND and UD data."""
    sizes = SMOKE if smoke else FULL
    runs = run_study(config, FIG410_METHODS, sizes, seed, _cache(out, "fig410", smoke, config, seed), reporter)
    labels = {m.key: m.label for m in FIG410_METHODS}
    fig, axes = plt.subplots(1, 2, figsize=(13, 4))
    for col, data in enumerate(("nd", "ud")):
        _curves(axes[col], {k: v for k, v in runs.items() if k.endswith(data)}, labels, 1,
                f"Fig. 4.10: training reward, {data.upper()} data")
        axes[col].legend()
    fig.tight_layout()
    fig.savefig(out.file("thesis_fig4_10.png"), dpi=120)
    plt.close(fig)
    aggs = {data: aggregate({k: v for k, v in runs.items() if k.endswith(data)}, f"ppo-{data}")
            for data in ("nd", "ud")}
    lines = ["# Thesis Fig. 4.10: federated SAC, PPO and A2C under ND and UD data (5 EVs)", "",
             f"{sizes.seeds} seeds, {sizes.rounds} rounds x {sizes.worlds} days (equal environment steps), "
             f"scored on {sizes.test_days} held-out days per seed; means ± 95% CI over seeds. PPO takes "
             "4 passes over its samples; SAC as many sample-gradients (update ratio 4 / batch size); A2C one pass "
             "(its definition).", "", "![Fig. 4.10](thesis_fig4_10.png)", ""]
    for data in ("nd", "ud"):
        lines += [f"## {data.upper()} data", "", *_table(aggs[data], labels, f"ppo-{data}"), ""]
    best = {d: max(aggs[d], key=lambda k: aggs[d][k]["delta_return"]["mean"]) for d in aggs}
    lines += ["| thesis (section 4.4.6) | measured |", "| --- | --- |",
              f"| SAC converges fastest with the highest reward; PPO close; A2C lowest | highest delta-weighted "
              f"return: {labels[best['nd']]}, {labels[best['ud']]} |",
              "| results consistent across ND and UD data | compare the two tables |"]
    results = {"experiment": "thesis-fig4.10", "smoke": smoke, **provenance(seed), "sizes": sizes.__dict__,
               "summary": aggs,
               "runs": {k: [{x: y for x, y in r.items() if x != "net_ev_days"} for r in v] for k, v in runs.items()}}
    out.write_json("results.json", results)
    out.write_text("report.md", "\n".join(lines) + "\n")
    return results
