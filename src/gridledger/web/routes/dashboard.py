"""Dashboards: the live elecoin market beside its equilibrium, DMA-UBRL learning the equilibrium,
the community's coalitions and rounds, the fleet's site market, batteries, cash and settlement.

What is read from where:

- the live market (``/api/dashboard/market``): the explorer index (``PriceDeclared``,
  ``ElecoinsBought``, ``Traded`` events); the equilibrium from the elecoin settlement report when
  there is one (:mod:`gridledger.web.reports`), else the paper's default market solved analytically;
- DMA-UBRL (``/api/dashboard/elecoin``): computed once per gridledger version in a separate
  process started by the server's start-up (:func:`start_elecoin`, a guarded trigger: never more
  than one computation, never inside a request), kept in the index's cache table (it takes seconds
  of CPU);
- rounds (``/api/dashboard/ledger``): the staking and settlement contracts; closed rounds are kept
  in the index's cache table (they never change again);
- the community map (``/api/dashboard/community``) and the fleet (``/api/dashboard/fleet``): the
  scenario reports, through :mod:`gridledger.web.reports` only.
"""

from __future__ import annotations

import logging
import sys
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query

from gridledger.web.deps import State
from gridledger.web.jobs import FAILED, ProcessJob
from gridledger.web.present import scale
from gridledger.web.reports import Reports, reports_dir
from gridledger.web.routes.explorer import sync_for_read
from gridledger.web.state import AppState

router = APIRouter(tags=["dashboard"])
logger = logging.getLogger(__name__)

REPORTS_WHERE = "the server's reports directory (GRIDLEDGER_REPORTS_DIR, by default beside the data directory)"
"""Where the dashboards look for reports, as told to visitors (not the server's paths)."""


def _version() -> str:
    import gridledger

    return getattr(gridledger, "__version__", "0")


def _elecoin_key() -> str:
    return f"elecoin-dashboard:{_version()}"


ELECOIN_CODE = ("import json, os, sys\nos.nice(5)\nfrom gridledger.web.routes.dashboard import _elecoin_dashboard\n"
                "json.dump(_elecoin_dashboard(), open(sys.argv[1], 'w', encoding='utf-8'))\n")
"""The DMA-UBRL computation, run by ``python -c`` at a lower CPU priority (argv[1]: where to write)."""


def elecoin_job(state: AppState) -> ProcessJob:
    """The app's one DMA-UBRL computation (a test may put a job of its own in ``state.jobs``)."""
    return state.job("elecoin", lambda: ProcessJob([sys.executable, "-c", ELECOIN_CODE]))


def start_elecoin(state: AppState) -> bool:
    """The single guarded trigger of the DMA-UBRL computation: starts it in another process unless
    it was started before or its result is kept in the index (from an earlier run of this
    version). Returns at once; returns whether it started a computation."""

    def kept() -> bool:
        cached = state.index.cached(_elecoin_key())
        if cached is not None:
            state.dashboard = cached
        return cached is not None

    def keep(result: Any) -> None:
        if not isinstance(result, dict):
            raise ValueError("the computation did not return an object")
        state.index.keep(_elecoin_key(), result)
        state.dashboard = result

    return elecoin_job(state).start(keep, skip=kept)


@router.get("/api/dashboard/elecoin")
def dashboard(state: State) -> dict[str, Any]:
    """Equilibrium prices and demands, and DMA-UBRL convergence (the CLI's results).

    Computed once per gridledger version, in another process started by the server's start-up
    (or by the first request of an app served without one); a request never computes nor waits:
    while the computation runs it answers ``{"pending": true}``, and if it failed,
    ``{"pending": false, "unavailable": reason}`` (the server's restart tries again).
    """
    if state.dashboard is None:
        start_elecoin(state)  # at most once per app: later calls return at once
    if state.dashboard is not None:
        return state.dashboard
    job = elecoin_job(state)
    if job.status == FAILED:
        return {"pending": False, "unavailable": f"the learning curves could not be computed ({job.error})"}
    return {"pending": True}



@router.get("/api/dashboard/ledger")
def ledger_dashboard(state: State, rounds: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, Any]:
    """The community's PoEG rounds and the fleet's PoSOC rounds and settlement, read from the chain.

    A closed round's validators, burns and miner never change again: it is read once and kept
    (``state.rounds`` and the index's cache table, so also across restarts), so any ``rounds`` costs
    only the reads of the open round at a new head, plus one read of the UPOS paid for each closed
    round whose members may still claim their share; each round is read under the chain lock on its
    own, so writes are never held up for the whole page.
    """
    sync_for_read(state)
    return state.at_head(("ledger", rounds), lambda: _ledger_dashboard(state, rounds))


def _round(gl: AppState, st: Any, r: int) -> dict[str, Any]:
    from gridledger.ledger.clients.staking import Phase, ValidatorStatus
    from gridledger.ledger.units import token_units_to_kwh

    key = (st.address, r)
    hit = gl.rounds.get(key)
    if hit is not None:
        if key not in gl.rewards_open:
            return hit
        with gl.lock:  # a sealed round's members may still claim their share: one read
            info = st.round_info(r)
        if info.reward >= info.fee_pool:
            gl.rewards_open.discard(key)
        return {**hit, "reward": token_units_to_kwh(info.reward)}
    kept = gl.index.cached(f"round:{st.address}:{r}")
    if kept is not None:
        gl.rounds[key] = kept
        if kept.get("rewards_open"):
            gl.rewards_open.add(key)
        return _round(gl, st, r)
    with gl.lock:
        info = st.round_info(r)
        validators = []
        for v in st.validators(r):
            vi = st.validator_info(r, v)
            validators.append({"address": v, "stake": token_units_to_kwh(vi.stake_behind), "backers": vi.backers,
                               "slashed": vi.status == ValidatorStatus.SLASHED})
        out = {"round": r, "phase": info.phase.name.lower(), "miner": st.miner_of(r),
               "members": info.members, "credited": token_units_to_kwh(info.credited),
               "slashed": token_units_to_kwh(info.slashed), "reward": token_units_to_kwh(info.reward),
               "traded_kwh": info.traded_wh / 1000, "validators": validators}
    if info.phase == Phase.CLOSED:
        # Validators, burns and miner are final once a round is closed; the UPOS paid out of a
        # sealed, unchallenged round's pool grows with each claim until the pool is paid.
        if info.digest != bytes(32) and not info.challenged and info.reward < info.fee_pool:
            gl.rewards_open.add(key)
        gl.rounds[key] = out
        gl.index.keep(f"round:{st.address}:{r}", {**out, "rewards_open": key in gl.rewards_open})
    return out


def _ledger_dashboard(gl: AppState, last: int) -> dict[str, Any]:
    from gridledger.ledger.clients import StakingClient, V2VSettlementClient
    from gridledger.ledger.deploy import load_deployment
    from gridledger.ledger.units import token_units_to_kwh

    sym = gl.symbols

    def rounds(st: StakingClient) -> list[dict[str, Any]]:
        with gl.lock:
            top = st.current_round()
        return [dict(_round(gl, st, r)) for r in range(top, max(top - last, 0), -1)]

    out: dict[str, Any] = {"community": None, "fleet": None, "symbols": sym.to_json()}
    with gl.lock:
        dep = load_deployment(gl.chain, gl.settings.data_dir, "community")
    if dep is not None:
        with gl.lock:
            st = StakingClient(gl.chain, dep.contracts["ProofStaking"])
            head = {"contracts": dep.contracts, "slash_bps": st.slash_bps(),
                    "upos_supply": token_units_to_kwh(st.upos.total_supply()) if st.upos else 0.0}
        out["community"] = {**head, "rounds": rounds(st)}
    with gl.lock:
        dep = load_deployment(gl.chain, gl.settings.data_dir, "fleet")
        settle = V2VSettlementClient(gl.chain, dep.contracts["V2VSettlement"]) if dep is not None else None
    if dep is not None and settle is not None:
        settled = gl.index.events_of(settle.address, "Settled")
        evs = sorted({e["args"]["ev"] for e in settled})
        per_round: dict[int, dict[str, Decimal]] = {}
        for e in settled:
            pr = per_round.setdefault(int(e["args"]["round"]), {"profit": Decimal(0), "fee": Decimal(0)})
            pr["profit"] += scale(e["args"]["profit"], "native")
            pr["fee"] += scale(e["args"]["fee"], "native")
        fleet_rounds = rounds(settle.staking)
        for r in fleet_rounds:
            pr = per_round.get(r["round"], {})
            r["profits"] = float(pr.get("profit", 0))
            r["fees"] = float(pr.get("fee", 0))
            r["settled"] = r["round"] in per_round
        with gl.lock:
            window = settle.claim_window()
            accounts = {a: settle.account(a) for a in evs}
            # The fee is deducted when a profit is deposited: an EV owes nothing; what it has not
            # collected goes to the fleet's treasury once the claim window after its last credit ends.
            out["fleet"] = {
                "contracts": dep.contracts, "beta_bps": settle.beta_bps(), "rounds": fleet_rounds,
                "held_wei": str(gl.chain.balance(settle.address)), "claim_window_blocks": window,
                "evs": [{"address": a, "held_wei": str(x.held), "fees_credit_wei": str(x.fees),
                         "expires_after_block": (x.last_credit_block + window) if x.held + x.fees > 0 else None}
                        for a, x in accounts.items()]}
    return out


def _reports(state: AppState) -> Reports:
    root = reports_dir(state.settings.data_dir, state.settings.reports_dir)
    rep = getattr(state, "_reports", None)
    if rep is None or rep.root != root:
        rep = Reports(root)
        state._reports = rep  # type: ignore[attr-defined]
    return rep


@router.get("/api/dashboard/market")
def market(state: State) -> dict[str, Any]:
    """The live elecoin market from the chain (declared prices, purchases, trades over time, in
    coin per elecoin) beside its Stackelberg equilibrium (paper eqs. 4-7)."""
    sync_for_read(state)
    return state.at_head(("dash-market", state.index.last_indexed()), lambda: _market(state))


def _default_equilibrium() -> dict[str, Any]:
    from gridledger.games.stackelberg import solve
    from gridledger.scenarios.elecoin.run import ElecoinConfig

    m = ElecoinConfig().market
    eq = solve(m, "unified")
    return {"source": f"the paper's default market ({m.n_prosumers} prosumers), solved analytically",
            "pricing": "unified", "price": [float(eq.price)], "demands": [float(x) for x in eq.demands],
            "method": "analytic"}


def _market(state: AppState) -> dict[str, Any]:
    names = state.names()
    wpm = Decimal(state.settings.wei_per_money)
    declarations: dict[str, list[dict[str, Any]]] = {}
    for e in state.index.events_named(("PriceDeclared",), emitter=state.etsc.address):
        declarations.setdefault(e["args"]["server"], []).append(
            {"t": e["timestamp"], "block": e["block"], "price": float(scale(e["args"]["weiPerElecoin"], "native"))})
    purchases = [{"t": e["timestamp"], "block": e["block"], "server": e["args"]["server"],
                  "prosumer": e["args"]["prosumer"], "elecoins": float(scale(e["args"]["amount"], "elecoin")),
                  "paid": float(scale(e["args"]["paid"], "native")),
                  "price": float(Decimal(int(e["args"]["paid"])) / Decimal(int(e["args"]["amount"])))
                  if int(e["args"]["amount"]) else None}
                 for e in state.index.events_named(("ElecoinsBought",), emitter=state.etsc.address)]
    trades = [{"t": e["timestamp"], "block": e["block"], "kwh": float(scale(e["args"]["energyWh"], "wh")),
               "elecoins": float(scale(e["args"]["elecoins"], "elecoin"))}
              for e in state.index.events_named(("Traded",), emitter=state.etsc.address)]
    eq = _reports(state).elecoin_equilibrium() or _default_equilibrium()
    eq = {**eq, "price_native": [float(Decimal(str(p)) * wpm / Decimal(10**18)) for p in eq["price"]],
          "demand_total": float(sum(eq["demands"])) if eq.get("demands") else None}
    servers = [{"address": a, "label": names.get(a, a), "declarations": d} for a, d in declarations.items()]
    return {"symbols": state.symbols.to_json(), "servers": servers, "purchases": purchases, "trades": trades,
            "equilibrium": eq, "wei_per_money": str(state.settings.wei_per_money)}


@router.get("/api/dashboard/community")
def community(state: State) -> dict[str, Any]:
    """The community's coalitions on the map with each one's savings and rewards (from the day's
    report), and per round on chain: members, reward (UPOS), energy recorded, slashing."""
    sync_for_read(state)
    rep = _reports(state)
    day = rep.community()
    names = state.names()
    if day is not None:
        for p in day["prosumers"]:
            p["label"] = names.get(p["address"]) if p.get("address") else None
    return {"day": day, "reports_dir": REPORTS_WHERE,
            "how": "gridledger community run --chain --data-dir DIR --out DIR/../community (or gridledger demo)"}


@router.get("/api/dashboard/fleet")
def fleet(state: State) -> dict[str, Any]:
    """The fleet's hourly site market, SOC curves and cash per EV (from the fleet's report), in the
    native coin (money x wei_per_money)."""
    rep = _reports(state)
    view = rep.fleet()
    names = state.names()
    if view is not None:
        factor = float(Decimal(state.settings.wei_per_money) / Decimal(10**18))
        for c in view["cash"]:
            c["cash_native"] = c["cash"] * factor
            c["label"] = names.get(c["address"]) if c.get("address") else None
        for s_ in view["soc"]:
            s_["label"] = names.get(s_["address"]) if s_.get("address") else None
    return {"fleet": view, "reports_dir": REPORTS_WHERE, "symbols": state.symbols.to_json(),
            "how": "gridledger demo (writes DIR/v2v/results.json and settlement.json beside DIR/chain)"}


def warm(state: AppState) -> None:
    """Fill the caches the dashboard's first visit reads; start the DMA-UBRL computation."""
    state.labels()
    market(state)
    ledger_dashboard(state)
    _reports(state).community()
    _reports(state).fleet()
    start_elecoin(state)


def _elecoin_dashboard() -> dict[str, Any]:
    import numpy as np

    from gridledger.scenarios.elecoin.run import ElecoinConfig, market_with, solve_elecoin

    cfg = market_with(ElecoinConfig(), n_prosumers=4)
    out: dict[str, Any] = {}
    for pricing in ("unified", "discriminated"):
        sol = solve_elecoin(cfg, "dma-ubrl", pricing, np.random.default_rng(0))
        tr = sol.trace
        step = max(1, len(tr.episodes) // 200)
        out[pricing] = {"analytic": sol.analytic.to_json(), "learned": sol.outcome.to_json(),
                        "episodes": tr.episodes[::step].tolist(), "prices": tr.prices[::step].T.tolist(),
                        "demands": tr.demands[::step].T.tolist(), "seconds": sol.seconds}
    return out
