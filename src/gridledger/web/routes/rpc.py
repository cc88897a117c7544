"""The JSON-RPC relay for browser wallets (``/rpc``): a whitelist of read and send-raw methods."""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gridledger.web.state import AppState

RPC_METHODS = {"eth_chainId", "eth_blockNumber", "eth_getBalance", "eth_call", "eth_getTransactionCount",
               "eth_getTransactionReceipt", "eth_getTransactionByHash", "eth_getBlockByNumber", "eth_gasPrice",
               "eth_estimateGas", "eth_sendRawTransaction", "net_version", "eth_getCode"}
"""The JSON-RPC methods the relay answers; anything else is refused (-32601)."""

router = APIRouter(include_in_schema=False)


@router.post("/rpc")
async def rpc(request: Request) -> JSONResponse:
    """JSON-RPC relay for browser wallets (a whitelist of read and send-raw methods)."""
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}})
    gl: AppState = request.app.state.gl
    method = body.get("method") if isinstance(body, dict) else None
    rid = body.get("id") if isinstance(body, dict) else None
    if method not in RPC_METHODS:
        return JSONResponse({"jsonrpc": "2.0", "id": rid,
                             "error": {"code": -32601, "message": "method not allowed"}})
    params = body.get("params", [])
    if not isinstance(params, list):
        params = []
    with gl.lock:
        try:
            result = _rpc_call(gl, method, params)
        except Exception as exc:
            return JSONResponse({"jsonrpc": "2.0", "id": rid, "error": {"code": -32000, "message": str(exc)}})
    if method == "eth_sendRawTransaction":
        gl.index.sync()
    return JSONResponse({"jsonrpc": "2.0", "id": rid, "result": _hexify(result)})


def _rpc_call(gl: AppState, method: str, params: list[Any]) -> Any:
    """Answer one whitelisted JSON-RPC method from the chain (values in JSON-RPC's hex form)."""
    w3 = gl.chain.w3
    if gl.chain.backend == "rpc":  # a real node: pass the request through
        response = w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in response:
            raise RuntimeError(response["error"].get("message", "node error"))
        return response["result"]
    p = list(params) + [None] * 3
    block = p[1] if p[1] is not None else "latest"
    match method:
        case "eth_chainId" | "net_version":
            return gl.chain.chain_id if method == "eth_chainId" else str(gl.chain.chain_id)
        case "eth_blockNumber":
            return gl.chain.block_number()
        case "eth_gasPrice":
            return int(w3.eth.gas_price)
        case "eth_getBalance":
            return int(w3.eth.get_balance(to_checksum_address(p[0]), block))
        case "eth_getCode":
            return bytes(w3.eth.get_code(to_checksum_address(p[0]), block))
        case "eth_getTransactionCount":
            return int(w3.eth.get_transaction_count(to_checksum_address(p[0]), block))
        case "eth_call":
            return bytes(w3.eth.call(p[0], block))
        case "eth_estimateGas":
            return int(w3.eth.estimate_gas(p[0]))
        case "eth_sendRawTransaction":
            return bytes(w3.eth.send_raw_transaction(p[0]))
        case "eth_getTransactionReceipt":
            return _plain(w3.eth.get_transaction_receipt(p[0]))
        case "eth_getTransactionByHash":
            return _plain(w3.eth.get_transaction(p[0]))
        case "eth_getBlockByNumber":
            return _plain(w3.eth.get_block(p[0] if p[0] is not None else "latest", bool(p[1])))
    raise RuntimeError("method not allowed")


def _plain(v: Any) -> Any:
    if isinstance(v, dict) or hasattr(v, "items"):
        return {k: _plain(x) for k, x in dict(v).items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _hexify(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    if isinstance(v, dict):
        return {k: _hexify(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_hexify(x) for x in v]
    if isinstance(v, int) and not isinstance(v, bool):
        return hex(v)
    return v
