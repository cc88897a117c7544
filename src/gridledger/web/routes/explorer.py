"""The blockchain explorer's API: blocks, transactions, addresses, search."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from eth_utils import to_checksum_address
from fastapi import APIRouter, HTTPException, Query
from fastapi import Path as PathParam

from gridledger.ledger.units import units_to_elecoins
from gridledger.web import schemas as s
from gridledger.web.deps import MAX_BLOCK, State

router = APIRouter(tags=["explorer"])


@router.get("/api/explorer/blocks")
def blocks(state: State, before: Annotated[int | None, Query(ge=0, le=MAX_BLOCK)] = None,
           limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
    head = state.index.sync()
    return {"head": head, "blocks": state.index.blocks(before, limit),
            "transactions": state.index.latest_txs(limit) if before is None else []}


@router.get("/api/explorer/blocks/{number}", responses={404: {"model": s.ErrorOut}})
def block(number: Annotated[int, PathParam(ge=0, le=MAX_BLOCK)], state: State) -> dict[str, Any]:
    state.index.sync()
    b = state.index.block(number)
    if b is None:
        raise HTTPException(404, f"no block {number}")
    return b


@router.get("/api/explorer/tx/{tx_hash}", responses={404: {"model": s.ErrorOut}})
def tx(tx_hash: str, state: State) -> dict[str, Any]:
    if not re.fullmatch(r"0x[0-9a-fA-F]{64}", tx_hash):
        raise HTTPException(422, "transaction hash must be 0x followed by 64 hex digits")
    state.index.sync()
    t = state.index.tx(tx_hash)
    if t is None:
        raise HTTPException(404, f"no transaction {tx_hash}")
    return t


@router.get("/api/explorer/address/{address}")
def address(address: str, state: State, page: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
            limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
    if not re.fullmatch(s.ADDRESS, address):
        raise HTTPException(422, "address must be 0x followed by 40 hex digits")
    state.index.sync()
    txs, total = state.index.address_txs(address, page, limit)
    a = to_checksum_address(address)

    def read() -> tuple[bool, dict[str, Any]]:
        return state.chain.has_code(a), {"native_wei": str(state.chain.balance(a)),
                                         "elecoins": units_to_elecoins(state.etsc.elecoin.balance_of(a))}

    code, balances = state.at_head(("balances", a), read)
    return {"address": a, "contract": state.index.contract_names.get(a) if code else None, "balances": balances,
            "transactions": txs, "total": total, "page": page, "pages": max(1, math.ceil(total / limit))}


@router.get("/api/explorer/search")
def search(state: State, q: Annotated[str, Query(min_length=1, max_length=100)]) -> dict[str, Any]:
    """Find a block (number or hash), a transaction (hash) or an address."""
    state.index.sync()
    q = q.strip()
    if re.fullmatch(r"[0-9]{1,30}", q):  # ASCII digits only: str.isdigit() also accepts "²", which int() refuses
        n = int(q)
        return {"kind": "block", "key": n} if n <= MAX_BLOCK and state.index.block(n) else {"kind": None}
    if re.fullmatch(r"0x[0-9a-fA-F]{64}", q):
        if state.index.tx(q):
            return {"kind": "tx", "key": q.lower()}
        n = state.index.block_by_hash(q)
        return {"kind": "block", "key": n} if n is not None else {"kind": None}
    if re.fullmatch(s.ADDRESS, q):
        return {"kind": "address", "key": to_checksum_address(q)}
    return {"kind": None}

