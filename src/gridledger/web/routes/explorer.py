"""The blockchain explorer's API: blocks, transactions, addresses, tokens, labels, counters, search.

Every answer comes from the explorer index (:mod:`gridledger.web.indexer`); amounts carry a
``*_display`` text in units (:mod:`gridledger.web.present`), failed transactions their revert
reason as a sentence (:mod:`gridledger.web.contract_errors`). A read indexes new blocks for at
most ~0.3 s when the background indexer runs (``gridledger serve``), so that a cold start answers
at once with what is indexed and ``progress`` says how far the index is.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, localcontext
from typing import Annotated, Any

from eth_utils import to_checksum_address
from fastapi import APIRouter, HTTPException, Query
from fastapi import Path as PathParam

from gridledger.ledger.units import units_to_elecoins
from gridledger.web import schemas as s
from gridledger.web.contract_errors import explain
from gridledger.web.decoding import VIEW_TOKENS
from gridledger.web.deps import MAX_BLOCK, State
from gridledger.web.present import EXACT, amount, display_args, number
from gridledger.web.state import AppState

router = APIRouter(tags=["explorer"])

HASH = r"0x[0-9a-fA-F]{64}"


def sync_for_read(state: AppState) -> int:
    """Index what is new before a read: briefly when the background indexer runs, else fully."""
    return state.index.sync(seconds=0.3) if state.index.background else state.index.sync()


def _address(address: str) -> str:
    if not re.fullmatch(s.ADDRESS, address):
        raise HTTPException(422, "address must be 0x followed by 40 hex digits")
    return to_checksum_address(address)


def token_amount(value: int | str, decimals: int | None, symbol: str | None) -> str:
    with localcontext(EXACT):
        scaled = Decimal(int(value)).scaleb(-(decimals if decimals is not None else 18))
    shown = number(scaled, 4)
    return f"{shown} {symbol or 'units'}"


def brief(state: AppState, t: dict[str, Any]) -> dict[str, Any]:
    """A transaction row of a list: what it did in a few words, value and fee in coin."""
    sym = state.symbols
    t = dict(t)
    if t.get("recipient") is None:
        t["call"] = f"create {t.get('contract') or 'contract'}"
    elif t.get("method"):
        t["call"] = f"{t.get('contract')}.{t['method']}"
    elif int(t.get("value") or 0) > 0 and not t.get("input_size"):
        t["call"] = "transfer"
    else:
        t["call"] = "call"
    t["value_display"] = amount(t["value"], "native", sym)
    t["fee_display"] = amount(t["fee"], "native", sym)
    return t


def detail(state: AppState, t: dict[str, Any]) -> dict[str, Any]:
    """A transaction page: everything in units, addresses labelled, the revert reason explained."""
    sym = state.symbols
    names = state.names()
    t = brief(state, t)
    t["gas_price_display"] = f"{number(Decimal(int(t['gas_price'])).scaleb(-9), 4)} gwei"
    if t.get("error"):
        t["error"] = {**t["error"], **explain(t["error"]["name"], t["error"]["args"], names, sym)}
    t["inputs"] = display_args(t.get("contract"), t.get("method") or "constructor", t.get("args"), sym, names)
    for e in t["events"]:
        e["display"] = display_args(e.get("contract"), e.get("name"), e.get("args"), sym, names)
    for tr in t["transfers"]:
        tr["value_display"] = token_amount(tr["value"], tr.get("decimals"), tr.get("symbol"))
    for mv in t["moves"]:
        mv["value_display"] = amount(mv["value"], "native", sym)
    return t


@router.get("/api/explorer/blocks")
def blocks(state: State, before: Annotated[int | None, Query(ge=0, le=MAX_BLOCK)] = None,
           limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
    """Latest blocks and transactions, the counters and how far the index is."""
    head = sync_for_read(state)
    return {"head": head, "progress": state.index.progress(), "blocks": state.index.blocks(before, limit),
            "transactions": [brief(state, t) for t in state.index.latest_txs(limit)] if before is None else [],
            "counters": state.index.counters()}


@router.get("/api/explorer/stats")
def stats(state: State) -> dict[str, Any]:
    """Counters (blocks, transactions, failed, addresses, contracts, tokens, transfers) and progress."""
    sync_for_read(state)
    return {"counters": state.index.counters(), "progress": state.index.progress(),
            "symbols": state.symbols.to_json()}


@router.get("/api/explorer/labels")
def labels(state: State) -> dict[str, Any]:
    """Every labelled account: our contracts, roles (administrator, edge servers, operators, faucet),
    users' names, meters, EVs and community members."""
    sync_for_read(state)
    return {"labels": state.labels(), "symbols": state.symbols.to_json()}


@router.get("/api/explorer/blocks/{number}", responses={404: {"model": s.ErrorOut}})
def block(number: Annotated[int, PathParam(ge=0, le=MAX_BLOCK)], state: State) -> dict[str, Any]:
    sync_for_read(state)
    b = state.index.block(number)
    if b is None:
        raise HTTPException(404, f"no block {number} (yet)" if number > state.index.last_indexed() else
                            f"no block {number}")
    b["transactions"] = [brief(state, t) for t in b["transactions"]]
    return b


@router.get("/api/explorer/tx/{tx_hash}", responses={404: {"model": s.ErrorOut}})
def tx(tx_hash: str, state: State) -> dict[str, Any]:
    """A transaction: time, status and decoded revert reason, gas, fee, nonce, decoded input,
    events with their contracts, token transfers, value moved inside the call, contracts created."""
    if not re.fullmatch(HASH, tx_hash):
        raise HTTPException(422, "transaction hash must be 0x followed by 64 hex digits")
    sync_for_read(state)
    t = state.index.tx(tx_hash)
    if t is None:
        raise HTTPException(404, f"no transaction {tx_hash}")
    return detail(state, t)


@router.get("/api/explorer/address/{address}")
def address(address: str, state: State, page: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
            limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
    a = _address(address)
    sync_for_read(state)
    txs, total = state.index.address_txs(a, page, limit)

    def read() -> tuple[bool, dict[str, Any]]:
        return state.chain.has_code(a), {"native_wei": str(state.chain.balance(a)),
                                         "elecoins": units_to_elecoins(state.etsc.elecoin.balance_of(a))}

    code, balances = state.at_head(("balances", a), read)
    balances["native_display"] = amount(balances["native_wei"], "native", state.symbols)
    tokens = [{**t, "balance_display": token_amount(t["balance"], t.get("decimals"), t.get("symbol"))}
              for t in state.index.address_tokens(a)]
    transfers = [{**t, "value_display": token_amount(t["value"], t.get("decimals"), t.get("symbol"))}
                 for t in state.index.address_transfers(a, 20)]
    info = state.index.contract(a) if code else None
    label = state.labels().get(a)
    return {"address": a, "contract": info["name"] if info else None, "contract_info": info,
            "label": label["label"] if label else None, "kind": label["kind"] if label else None,
            "token": state.index.token(a) is not None, "balances": balances, "tokens": tokens,
            "token_transfers": transfers, "transactions": [brief(state, t) for t in txs], "total": total,
            "page": page, "pages": max(1, math.ceil(total / limit))}


VIEW_NOTE = ("EPOS is the proof score of the staking contract's current round: balances change with the "
             "round (scores credited, stakes burned) and are read from the chain; it is never transferred, so "
             "it has no transfers.")


def _epos_view(state: AppState, address: str) -> dict[str, Any]:
    """Supply and holders of an EPOS token, read live: its members are those credited in its
    staking contract's current round (``ScoreCredited`` events of that contract, from the index)."""

    def compute() -> dict[str, Any]:
        with state.lock:
            epos = state.chain.contract("EPOS", address)
            staking = to_checksum_address(epos.functions.staking().call())
            current = int(state.chain.contract("ProofStaking", staking).functions.currentRound().call())
        credited = state.index.events_of(staking, "ScoreCredited")
        members = sorted({to_checksum_address(e["args"]["member"]) for e in credited
                          if int(e["args"]["round"]) == current})
        with state.lock:
            supply = int(epos.functions.totalSupply().call())
            balances = {m: int(epos.functions.balanceOf(m).call()) for m in members}
        held = sorted(((m, b) for m, b in balances.items() if b > 0), key=lambda mb: (-mb[1], mb[0]))
        return {"supply": str(supply), "round": current, "staking": staking,
                "holders": [{"holder": m, "balance": str(b)} for m, b in held]}

    return state.at_head(("epos-view", address), compute)


def _token_out(state: AppState, t: dict[str, Any]) -> dict[str, Any]:
    if state.index.contract_type(t["address"]) in VIEW_TOKENS:
        v = _epos_view(state, t["address"])
        t = {**t, "supply": v["supply"], "holders": len(v["holders"]), "transfers": 0, "view": True,
             "note": f"{VIEW_NOTE} Round {v['round']}."}
    return {**t, "supply_display": token_amount(t["supply"], t.get("decimals"), t.get("symbol")),
            "label": (state.labels().get(t["address"]) or {}).get("label")}


@router.get("/api/explorer/tokens")
def tokens(state: State) -> dict[str, Any]:
    """Every ERC-20 token seen on chain: supply (minted - burned), holders, transfers."""
    sync_for_read(state)
    return {"tokens": [_token_out(state, t) for t in state.index.tokens()]}


def _token_or_404(state: AppState, address: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(address, the index's token row, the token as shown) after indexing what is new; 404 if no token."""
    a = _address(address)
    sync_for_read(state)
    t = state.index.token(a)
    if t is None:
        raise HTTPException(404, f"no token at {a} (no ERC-20 transfer seen)")
    return a, t, _token_out(state, t)


@router.get("/api/explorer/token/{address}", responses={404: {"model": s.ErrorOut}})
def token(address: str, state: State, page: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
          limit: Annotated[int, Query(ge=1, le=100)] = 25) -> dict[str, Any]:
    """A token: supply, holders, and its transfers (newest first, paged)."""
    a, t, out = _token_or_404(state, address)
    rows = [{**r, "value_display": token_amount(r["value"], t["decimals"], t["symbol"])}
            for r in state.index.token_transfers(a, page, limit)]
    return {"token": out, "transfers": rows, "page": page, "pages": max(1, math.ceil(int(out["transfers"]) / limit))}


@router.get("/api/explorer/token/{address}/holders", responses={404: {"model": s.ErrorOut}})
def holders(address: str, state: State, page: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
            limit: Annotated[int, Query(ge=1, le=100)] = 25) -> dict[str, Any]:
    """A token's holders by balance, with their share of the supply."""
    a, t, out = _token_or_404(state, address)
    supply = Decimal(int(out["supply"])) if int(out["supply"]) > 0 else None
    held = (_epos_view(state, a)["holders"][page * limit:(page + 1) * limit] if out.get("view")
            else state.index.holders(a, page, limit))
    rows = [{**h, "balance_display": token_amount(h["balance"], t["decimals"], t["symbol"]),
             "share_pct": float(Decimal(int(h["balance"])) * 100 / supply) if supply else None}
            for h in held]
    return {"token": out, "holders": rows, "page": page, "pages": max(1, math.ceil(int(out["holders"]) / limit))}


@router.get("/api/explorer/search")
def search(state: State, q: Annotated[str, Query(min_length=1, max_length=100)]) -> dict[str, Any]:
    """Find a block (number or hash), a transaction (hash), a token or an address, or a label."""
    sync_for_read(state)
    q = q.strip()
    if re.fullmatch(r"[0-9]{1,30}", q):  # ASCII digits only: str.isdigit() also accepts "²", which int() refuses
        n = int(q)
        return {"kind": "block", "key": n} if n <= MAX_BLOCK and state.index.block(n) else {"kind": None}
    if re.fullmatch(HASH, q):
        if state.index.tx(q):
            return {"kind": "tx", "key": q.lower()}
        n = state.index.block_by_hash(q)
        return {"kind": "block", "key": n} if n is not None else {"kind": None}
    if re.fullmatch(s.ADDRESS, q):
        a = to_checksum_address(q)
        return {"kind": "token" if state.index.token(a) else "address", "key": a}
    wanted = q.casefold()
    for a, v in state.labels().items():
        if v["label"].casefold() == wanted or wanted in (p.casefold() for p in v["label"].split(" · ")):
            return {"kind": "token" if state.index.token(a) else "address", "key": a}
    return {"kind": None}


def warm(state: AppState) -> None:
    """Fill the caches the explorer's first page reads (labels, counters)."""
    state.labels()
    state.index.counters()
