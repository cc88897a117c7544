"""Dashboards: the elecoin market's equilibrium and learning, the ledger's PoEG and PoSOC rounds."""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Query

from gridledger.web.deps import State
from gridledger.web.state import AppState

router = APIRouter(tags=["dashboard"])
logger = logging.getLogger(__name__)


@router.get("/api/dashboard/elecoin")
def dashboard(state: State) -> dict[str, Any]:
    """Equilibrium prices and demands, and DMA-UBRL convergence (the CLI's results).

    DMA-UBRL takes seconds of CPU: the first request starts it in one background thread (once
    per server, however many requests arrive) and every request answers at once, with
    ``{"pending": true}`` until the result is there. No request waits for it or can start another.
    """
    if state.dashboard is None:
        _start_once(state)
        return {"pending": True}
    return state.dashboard


def _start_once(state: AppState) -> None:
    with state.dashboard_lock:
        if state.dashboard_thread is None:
            state.dashboard_thread = threading.Thread(target=_compute, args=(state,), name="gridledger-dashboard",
                                                      daemon=True)
            state.dashboard_thread.start()


def _compute(state: AppState) -> None:
    try:
        result = _elecoin_dashboard()
    except Exception as exc:  # shown on the page; never a server error
        logger.exception("the elecoin dashboard could not be computed")
        result = {"error": f"the elecoin dashboard could not be computed: {exc}"}
    state.dashboard = result


@router.get("/api/dashboard/ledger")
def ledger_dashboard(state: State, rounds: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, Any]:
    """The community's PoEG rounds and the fleet's PoSOC rounds and settlement, read from the chain.

    A closed round's validators, burns and miner never change again: it is read once and kept
    (``state.rounds``), so any ``rounds`` costs only the reads of the open round at a new head, plus
    one read of the UPOS paid for each closed round whose members may still claim their share; each
    round is read under the chain lock on its own, so writes are never held up for the whole page.
    """
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
    return out


def _ledger_dashboard(gl: AppState, last: int) -> dict[str, Any]:
    from gridledger.ledger.clients import StakingClient, V2VSettlementClient
    from gridledger.ledger.deploy import load_deployment
    from gridledger.ledger.units import token_units_to_kwh

    def rounds(st: StakingClient) -> list[dict[str, Any]]:
        with gl.lock:
            top = st.current_round()
        return [_round(gl, st, r) for r in range(top, max(top - last, 0), -1)]

    out: dict[str, Any] = {"community": None, "fleet": None}
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
        evs = sorted({e["args"]["ev"] for e in gl.index.events_of(settle.address, "Settled")})
        fleet_rounds = rounds(settle.staking)
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
