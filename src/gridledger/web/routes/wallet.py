"""Browser wallets (EIP-1193): the transaction to sign for a buy or a trade."""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address
from fastapi import APIRouter, HTTPException

from gridledger.ledger.units import elecoins_to_units, kwh_to_wh
from gridledger.web import schemas as s
from gridledger.web.deps import State, chain_access

router = APIRouter(tags=["wallet"])


@router.post("/api/wallet/prepare", responses={409: {"model": s.ErrorOut}})
def prepare(body: s.PrepareIn, state: State) -> dict[str, Any]:
    """The transaction a browser wallet should sign for a buy or a trade (nothing is sent)."""
    e = state.etsc
    with chain_access(state):
        if body.action == "buy":
            if body.server is None:
                raise HTTPException(422, "server is required for a buy")
            amount = elecoins_to_units(body.amount)
            data = e.contract.encode_abi("buyToken", args=[to_checksum_address(body.server), amount])
            value = e.quote(body.server, body.sender, amount)
        else:
            if body.retailer is None:
                raise HTTPException(422, "retailer is required for a trade")
            data = e.contract.encode_abi("trade", args=[to_checksum_address(body.retailer),
                                                         kwh_to_wh(body.amount)])
            value = 0
        return {"to": e.address, "data": data, "value": hex(value), "chainId": hex(state.chain.chain_id),
                "from": to_checksum_address(body.sender)}

