"""The JSON-RPC relay for browser wallets (``/rpc``): a whitelist of read and send-raw methods.

What a browser wallet (EIP-1193) needs and nothing more:

==========================  ===========  ===============================================================
method                      kind         limits
==========================  ===========  ===============================================================
eth_chainId, net_version    light        none
eth_blockNumber             light        none
eth_gasPrice                light        none
eth_getBalance              light        address, block tag
eth_getCode                 light        address, block tag
eth_getTransactionCount     light        address, block tag
eth_getBlockByNumber        light        block tag, full-transactions flag
eth_getTransactionByHash    light        32-byte hash; unknown to the explorer index: null at once
eth_getTransactionReceipt   light        32-byte hash; unknown to the explorer index: null at once
eth_call                    execution    gas capped at ``rpc_gas_cap``; stopped after ``rpc_timeout_seconds``
eth_estimateGas             execution    runs within ``rpc_gas_cap``; stopped after ``rpc_timeout_seconds``
eth_sendRawTransaction      write        gas limit at most ``rpc_gas_cap``; one write at a time
==========================  ===========  ===============================================================

Every call runs off the event loop. *Light* reads use the chain reader (never the write lock);
*executions* run in one of ``rpc_executors`` worker processes over read-only views of the chain
(:mod:`gridledger.web.evm_worker`; when all are busy the answer is 429 with JSON-RPC error
-32005 at once; an execution that outlives ``rpc_timeout_seconds`` is stopped, its worker
killed and replaced, and the answer is -32002); only ``eth_sendRawTransaction`` takes the write
lock. Transactions and receipts by hash are looked up in the explorer index first. Each client address may make
``rpc_calls_per_minute`` calls (429, -32005 beyond). Batches are refused (-32600).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import rlp
from eth_utils import to_checksum_address
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from web3 import Web3

from gridledger.web.evm_worker import EVMError
from gridledger.web.middleware import BadJSON, strict_json
from gridledger.web.reader import Busy
from gridledger.web.state import AppState

LIGHT = ("eth_chainId", "net_version", "eth_blockNumber", "eth_gasPrice", "eth_getBalance", "eth_getCode",
         "eth_getTransactionCount", "eth_getBlockByNumber")
EXECUTION = ("eth_call", "eth_estimateGas", "eth_getTransactionReceipt", "eth_getTransactionByHash")
WRITE = ("eth_sendRawTransaction",)
RPC_METHODS = frozenset(LIGHT + EXECUTION + WRITE)
"""The JSON-RPC methods the relay answers; anything else is refused (-32601)."""

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_QUANTITY = re.compile(r"^0x(0|[1-9a-fA-F][0-9a-fA-F]{0,63})$")
_DATA = re.compile(r"^0x([0-9a-fA-F]{2})*$")
_TAGS = ("latest", "earliest", "pending", "safe", "finalized")
_CALL_KEYS = {"from", "to", "gas", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "value", "data", "input",
              "nonce", "type", "chainId", "accessList"}
ZERO = "0x" + "00" * 20

router = APIRouter(include_in_schema=False)


class InvalidParams(ValueError):
    """The params do not fit the method (-32602)."""


def _error(rid: Any, code: int, message: str, status: int = 200, retry_after: int | None = None,
           data: str | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return JSONResponse({"jsonrpc": "2.0", "id": rid, "error": error}, status_code=status, headers=headers)


@router.post("/rpc")
async def rpc(request: Request) -> JSONResponse:
    """JSON-RPC relay for browser wallets (see the module docstring for methods and limits)."""
    try:
        body = strict_json(await request.body())
    except BadJSON as exc:
        return _error(None, -32700, f"parse error: {exc}", 400)
    if isinstance(body, list):
        return _error(None, -32600, "batch requests are not supported", 400)
    if not isinstance(body, dict):
        return _error(None, -32600, "a JSON-RPC request is an object", 400)
    rid = body.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, (str, int)) or
                            (isinstance(rid, str) and len(rid) > 100) or (isinstance(rid, int) and abs(rid) > 2**53)):
        return _error(None, -32600, "id must be a string (at most 100 characters), an integer or null", 400)
    gl: AppState = request.app.state.gl
    client = request.client.host if request.client else "?"
    if not gl.rpc_throttle.take(client):
        return _error(rid, -32005, f"rate limit: at most {gl.settings.rpc_calls_per_minute} calls a minute",
                      429, gl.rpc_throttle.retry_after(client))
    method = body.get("method")
    if not isinstance(method, str) or method not in RPC_METHODS:
        return _error(rid, -32601, "method not allowed")
    params = body.get("params", [])
    if not isinstance(params, list) or len(params) > 3:
        return _error(rid, -32602, "params must be a list (at most 3 items)")
    try:
        if method in LIGHT:
            result = await run_in_threadpool(_light, gl, method, params)
        elif method in WRITE:
            result = await run_in_threadpool(_send_raw, gl, params)
        else:
            result = await _execute(gl, method, params)
    except InvalidParams as exc:
        return _error(rid, -32602, f"invalid params: {exc}")
    except Busy:
        return _error(rid, -32005, "the relay's executors are busy; retry shortly", 429, 1)
    except TimeoutError:
        return _error(rid, -32002, f"execution timed out after {gl.settings.rpc_timeout_seconds:g} s")
    except EVMError as exc:
        if exc.revert is not None:
            return _error(rid, 3, "execution reverted", data=exc.revert)
        if exc.name == "OutOfGas":
            return _error(rid, -32000, f"out of gas ({exc})")
        return _error(rid, -32000, f"{exc.name}: {exc}")
    except Exception as exc:  # the chain's refusal (bad nonce, unknown block...), never a server error
        return _error(rid, -32000, _message(exc))
    return JSONResponse({"jsonrpc": "2.0", "id": rid, "result": _hexify(result)})


def _message(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


# -- parameters
def _address(v: Any) -> str:
    if not isinstance(v, str) or not _ADDRESS.match(v):
        raise InvalidParams("an address is 0x followed by 40 hex digits")
    return to_checksum_address(v)


def _hash(v: Any) -> str:
    if not isinstance(v, str) or not _HASH.match(v):
        raise InvalidParams("a hash is 0x followed by 64 hex digits")
    return v.lower()


def _block(v: Any) -> str | int:
    if v is None:
        return "latest"
    if isinstance(v, str) and v in _TAGS:
        return v
    if isinstance(v, str) and _QUANTITY.match(v) and int(v, 16) < 2**63:
        return int(v, 16)
    raise InvalidParams("a block is 'latest', 'earliest', 'pending', 'safe', 'finalized' or a hex number")


def _quantity(v: Any, name: str) -> int:
    if not isinstance(v, str) or not _QUANTITY.match(v):
        raise InvalidParams(f"{name} must be a hex quantity (0x...)")
    return int(v, 16)


def _call_object(v: Any, gas_cap: int) -> dict[str, Any]:
    """A call object with checked fields and its gas capped at ``gas_cap``."""
    if not isinstance(v, dict) or not set(v) <= _CALL_KEYS:
        raise InvalidParams(f"the call object may hold {', '.join(sorted(_CALL_KEYS))}")
    out: dict[str, Any] = {"from": _address(v["from"]) if v.get("from") is not None else ZERO}
    if v.get("to") is not None:
        out["to"] = _address(v["to"])
    data = v.get("data", v.get("input"))
    if data is not None:
        if not isinstance(data, str) or not _DATA.match(data):
            raise InvalidParams("data must be 0x followed by an even number of hex digits")
        out["data"] = data
    if v.get("value") is not None:
        out["value"] = _quantity(v["value"], "value")
    gas = _quantity(v["gas"], "gas") if v.get("gas") is not None else gas_cap
    out["gas"] = min(gas, gas_cap)
    return out


def _raw_gas(raw: bytes) -> int:
    """The gas limit of a signed transaction (legacy RLP, or EIP-2718 types 1-4)."""
    try:
        if raw[0] >= 0xC0:
            fields = rlp.decode(raw)
            index = 2  # nonce, gasPrice, gas
        elif raw[0] == 1:
            fields = rlp.decode(raw[1:])
            index = 3  # chainId, nonce, gasPrice, gas
        elif raw[0] in (2, 3, 4):
            fields = rlp.decode(raw[1:])
            index = 4  # chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gas
        else:
            raise InvalidParams(f"unknown transaction type {raw[0]}")
        return int.from_bytes(fields[index], "big")
    except (rlp.exceptions.DecodingError, IndexError, TypeError) as exc:
        raise InvalidParams(f"not a signed transaction ({type(exc).__name__})") from None


# -- methods
def _light(gl: AppState, method: str, p: list[Any]) -> Any:
    chain = gl.chain
    if method == "eth_chainId":
        return chain.chain_id
    if method == "net_version":
        return str(chain.chain_id)
    if chain.backend == "rpc":
        return _forward(chain.w3, method, _light_params(method, p))
    with gl.reader.light() as w3:
        match method:
            case "eth_blockNumber":
                return int(w3.eth.block_number)
            case "eth_gasPrice":
                return int(w3.eth.gas_price)
            case "eth_getBalance":
                return int(w3.eth.get_balance(_address(_at(p, 0)), _block(_at(p, 1))))
            case "eth_getCode":
                return bytes(w3.eth.get_code(_address(_at(p, 0)), _block(_at(p, 1))))
            case "eth_getTransactionCount":
                return int(w3.eth.get_transaction_count(_address(_at(p, 0)), _block(_at(p, 1))))
            case "eth_getBlockByNumber":
                full = _at(p, 1)
                if full is not None and not isinstance(full, bool):
                    raise InvalidParams("the second parameter (full transactions) is true or false")
                return _plain(w3.eth.get_block(_block(_at(p, 0)), bool(full)))
    raise InvalidParams("method not allowed")  # pragma: no cover - RPC_METHODS guards


def _light_params(method: str, p: list[Any]) -> list[Any]:
    """Checked params to forward to a node."""
    if method in ("eth_getBalance", "eth_getCode", "eth_getTransactionCount"):
        _address(_at(p, 0))
        _block(_at(p, 1))
        return [_at(p, 0), _at(p, 1) or "latest"]
    if method == "eth_getBlockByNumber":
        _block(_at(p, 0))
        return [_at(p, 0) or "latest", bool(_at(p, 1))]
    return []


def _at(p: list[Any], i: int) -> Any:
    return p[i] if i < len(p) else None


def _forward(w3: Web3, method: str, params: list[Any]) -> Any:
    response = w3.provider.make_request(method, params)  # type: ignore[arg-type]
    if "error" in response:
        raise RuntimeError(str(response["error"].get("message", "node error")))
    return response["result"]


async def _execute(gl: AppState, method: str, p: list[Any]) -> Any:
    if method in ("eth_getTransactionReceipt", "eth_getTransactionByHash"):
        return await run_in_threadpool(_lookup, gl, method, _hash(_at(p, 0)))
    call = _call_object(_at(p, 0), gl.settings.rpc_gas_cap)
    block = _block(_at(p, 1))
    timeout = gl.settings.rpc_timeout_seconds
    slot = gl.reader.acquire()  # Busy at once when every executor is taken

    def run() -> Any:
        try:
            if gl.chain.backend == "rpc":
                params = [_hex_call(call), block if isinstance(block, str) else hex(block)]
                return _forward(gl.chain.w3, method, params if method == "eth_call" else params[:1])
            # A worker process: stopped (killed) when it outlives the timeout.
            return gl.reader.execute(slot, "call" if method == "eth_call" else "estimate", call, block, timeout)
        finally:
            gl.reader.release(slot)

    future = asyncio.get_running_loop().run_in_executor(gl.rpc_pool, run)
    return await asyncio.wait_for(future, timeout + 120)  # a safety net: the worker's own timeout answers first


def _lookup(gl: AppState, method: str, h: str) -> Any:
    """A transaction or receipt by hash: unknown to the explorer index, null at once (no chain scan)."""
    if gl.chain.backend == "rpc":
        return _forward(gl.chain.w3, method, [h])
    if gl.index.tx(h) is None:
        gl.index.sync()
        if gl.index.tx(h) is None:
            return None
    with gl.reader.light() as w3:
        if method == "eth_getTransactionReceipt":
            return _plain(w3.eth.get_transaction_receipt(h))  # type: ignore[arg-type]
        return _plain(w3.eth.get_transaction(h))  # type: ignore[arg-type]


def _hex_call(call: dict[str, Any]) -> dict[str, Any]:
    return {k: hex(v) if isinstance(v, int) else v for k, v in call.items()}


def _send_raw(gl: AppState, p: list[Any]) -> Any:
    raw_hex = _at(p, 0)
    if not isinstance(raw_hex, str) or not _DATA.match(raw_hex) or len(raw_hex) < 4:
        raise InvalidParams("a signed transaction is 0x followed by hex digits")
    if len(raw_hex) > 2 + 2 * 128 * 1024:
        raise InvalidParams("a signed transaction is at most 128 KiB")
    raw = bytes.fromhex(raw_hex[2:])
    gas = _raw_gas(raw)
    if gas > gl.settings.rpc_gas_cap:
        raise InvalidParams(f"gas limit {gas} is above the relay's cap of {gl.settings.rpc_gas_cap}")
    if gl.chain.backend == "rpc":
        result = _forward(gl.chain.w3, "eth_sendRawTransaction", [raw_hex])
    else:
        with gl.lock:
            result = bytes(gl.chain.w3.eth.send_raw_transaction(raw))
    gl.index.sync()
    return result


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
