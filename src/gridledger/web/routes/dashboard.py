"""Dashboards: the elecoin market's equilibrium and learning, the ledger's PoEG and PoSOC rounds."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from gridledger.web.deps import State
from gridledger.web.state import AppState

router = APIRouter(tags=["dashboard"])


@router.get("/api/dashboard/elecoin")
def dashboard(state: State) -> dict[str, Any]:
    """Equilibrium prices and demands, and DMA-UBRL convergence (the CLI's results)."""
    if state.dashboard is None:
        state.dashboard = _elecoin_dashboard()
    return state.dashboard


@router.get("/api/dashboard/ledger")
def ledger_dashboard(state: State, rounds: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, Any]:
    """The community's PoEG rounds and the fleet's PoSOC rounds and settlement, read from the chain."""
    return state.at_head(("ledger", rounds), lambda: _ledger_dashboard(state, rounds))


def _ledger_dashboard(gl: AppState, last: int) -> dict[str, Any]:
    from gridledger.ledger.clients import StakingClient, V2VSettlementClient
    from gridledger.ledger.deploy import load_deployment
    from gridledger.ledger.units import token_units_to_kwh

    def rounds(st: StakingClient) -> list[dict[str, Any]]:
        out = []
        top = st.current_round()
        for r in range(top, max(top - last, 0), -1):
            info = st.round_info(r)
            validators = [{"address": v, "stake": token_units_to_kwh(st.stake_behind(r, v)),
                           "backers": st.validator_info(r, v).backers, "slashed": st.is_slashed(r, v)}
                          for v in st.validators(r)]
            out.append({"round": r, "phase": info.phase.name.lower(), "miner": st.miner_of(r),
                        "members": info.members, "credited": token_units_to_kwh(info.credited),
                        "slashed": token_units_to_kwh(info.slashed), "reward": token_units_to_kwh(info.reward),
                        "traded_kwh": info.traded_wh / 1000, "validators": validators})
        return out

    out: dict[str, Any] = {"community": None, "fleet": None}
    with gl.lock:
        dep = load_deployment(gl.chain, gl.settings.data_dir, "community")
        if dep is not None:
            st = StakingClient(gl.chain, dep.contracts["ProofStaking"])
            out["community"] = {"contracts": dep.contracts, "slash_bps": st.slash_bps(), "rounds": rounds(st),
                                "upos_supply": token_units_to_kwh(st.upos.total_supply()) if st.upos else 0.0}
        dep = load_deployment(gl.chain, gl.settings.data_dir, "fleet")
        if dep is not None:
            settle = V2VSettlementClient(gl.chain, dep.contracts["V2VSettlement"])
            evs = sorted({e["args"]["ev"] for e in gl.index.events_of(settle.address, "Settled")})
            out["fleet"] = {
                "contracts": dep.contracts, "beta_bps": settle.beta_bps(), "rounds": rounds(settle.staking),
                "held_wei": str(gl.chain.balance(settle.address)),
                "evs": [{"address": a, "held_wei": str(settle.held(a)), "owed_wei": str(settle.owed(a)),
                         "fees_credit_wei": str(settle.miner_credit(a))} for a in evs]}
    return out


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
