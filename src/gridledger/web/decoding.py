"""Decoding calls, creations and logs of gridledger's contracts from the committed ABIs.

Plain ``eth_abi`` over tables built once (selector -> function, topic -> event, bytecode ->
contract), so that indexing a block does not build web3 contract objects per log. Logs whose
topic is ours but whose emitter is unknown are decoded by the first contract with that event
(ERC-20 ``Transfer``/``Approval`` read the same in Elecoin, EPOS and UPOS).
"""

from __future__ import annotations

import functools
from typing import Any

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from gridledger.ledger.artifacts import CONTRACT_NAMES, abi, load_artifact

TRANSFER_TOPIC = keccak(text="Transfer(address,address,uint256)")
"""ERC-20 Transfer(address indexed from, address indexed to, uint256 value): any token's, ours or not."""

CHILDREN: dict[str, tuple[tuple[str, str | None], ...]] = {
    "ETSC": (("Elecoin", None),), "ProofStaking": (("EPOS", None), ("UPOS", "rewardToken"))}
"""Contracts whose constructor creates others, in creation order (each child created takes the
creator's next nonce, 1, 2, ...), with the constructor argument that must be true for the child
to be created (None: always): ETSC creates its Elecoin; ProofStaking its EPOS and, when
``rewardToken`` (the community's PoEG staking, not the fleet's PoSOC), its UPOS."""

VIEW_TOKENS = ("EPOS",)
"""ERC-20 tokens without Transfer events: EPOS's balances are a view of its staking contract's
current round (proof scores credited, minus burns), read live by the explorer."""


def canonical_type(item: dict[str, Any]) -> str:
    t = item["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(canonical_type(c) for c in item["components"]) + ")" + t[5:]
    return t


def jsonable(v: Any) -> Any:
    """JSON-ready value: bytes as 0x hex, integers beyond 2**53 as strings, tuples as lists."""
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and abs(v) > 2**53:
        return str(v)
    return v


def _plain(types: list[str], values: tuple[Any, ...], items: list[dict[str, Any]] | None = None) -> list[Any]:
    """Decoded values as JSON: addresses checksummed, structs (``items``: the ABI inputs) as
    objects keyed by their components' names."""
    out = []
    for k, (t, v) in enumerate(zip(types, values, strict=True)):
        item = items[k] if items is not None else None
        if t == "address":
            out.append(to_checksum_address(v))
        elif t == "address[]":
            out.append([to_checksum_address(x) for x in v])
        elif item is not None and item["type"] == "tuple":
            comps = item["components"]
            out.append(dict(zip([c["name"] or f"arg{i}" for i, c in enumerate(comps)],
                                _plain([canonical_type(c) for c in comps], tuple(v), comps), strict=True)))
        elif item is not None and item["type"] == "tuple[]":
            one = {**item, "type": "tuple"}
            out.append([_plain([t[:-2]], (x,), [one])[0] for x in v])
        else:
            out.append(jsonable(v))
    return out


@functools.cache
def _functions() -> dict[str, dict[bytes, tuple[str, list[str], list[str], list[dict[str, Any]]]]]:
    out: dict[str, dict[bytes, tuple[str, list[str], list[str], list[dict[str, Any]]]]] = {}
    for c in CONTRACT_NAMES:
        table = {}
        for item in abi(c):
            if item.get("type") == "function":
                types = [canonical_type(i) for i in item["inputs"]]
                sel = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
                table[sel] = (item["name"], types, [i["name"] or f"arg{k}" for k, i in enumerate(item["inputs"])],
                              item["inputs"])
        out[c] = table
    return out


@functools.cache
def _events() -> dict[bytes, list[tuple[str, dict[str, Any]]]]:
    table: dict[bytes, list[tuple[str, dict[str, Any]]]] = {}
    for c in CONTRACT_NAMES:
        for item in abi(c):
            if item.get("type") == "event" and not item.get("anonymous"):
                sig = f"{item['name']}({','.join(canonical_type(i) for i in item['inputs'])})"
                table.setdefault(keccak(text=sig), []).append((c, item))
    return table


@functools.cache
def _creations() -> list[tuple[bytes, str, list[str], list[str], list[dict[str, Any]]]]:
    out = []
    for c in CONTRACT_NAMES:
        art = load_artifact(c)
        code = bytes.fromhex(art["bytecode"].removeprefix("0x"))
        ctor = next((i for i in art["abi"] if i.get("type") == "constructor"), {"inputs": []})
        out.append((code, c, [canonical_type(i) for i in ctor["inputs"]], [i["name"] for i in ctor["inputs"]],
                    ctor["inputs"]))
    return sorted(out, key=lambda x: -len(x[0]))


def decode_input(contract: str | None, data: bytes) -> tuple[str | None, dict[str, Any] | None]:
    """(function name, arguments) of a call to a contract of type ``contract`` (None if unknown)."""
    if contract is None or contract not in CONTRACT_NAMES or len(data) < 4:
        return None, None
    entry = _functions()[contract].get(bytes(data[:4]))
    if entry is None:
        return None, None
    name, types, names, items = entry
    try:
        values = decode(types, bytes(data[4:])) if types else ()
    except Exception:
        return name, None
    return name, dict(zip(names, _plain(types, values, items), strict=True))


def match_creation(data: bytes) -> tuple[str | None, dict[str, Any] | None]:
    """(contract name, constructor arguments) when ``data`` is one of our contracts' creation code."""
    for code, name, types, names, items in _creations():
        if data.startswith(code):
            try:
                values = decode(types, bytes(data[len(code):])) if types else ()
            except Exception:
                return name, None
            return name, dict(zip(names, _plain(types, values, items), strict=True))
    return None, None


def decode_log(topics: tuple[bytes, ...], data: bytes, emitter: str | None) -> tuple[str, str, dict[str, Any]] | None:
    """(contract, event, arguments) of a log of ours; ``emitter`` is the emitting contract's type if known."""
    if not topics:
        return None
    candidates = _events().get(bytes(topics[0]))
    if not candidates:
        return None
    candidates = sorted(candidates, key=lambda ci: ci[0] != emitter)
    for contract, item in candidates:
        indexed = [i for i in item["inputs"] if i["indexed"]]
        plain = [i for i in item["inputs"] if not i["indexed"]]
        if len(indexed) != len(topics) - 1:
            continue
        try:
            args: dict[str, Any] = {}
            for i, t in zip(indexed, topics[1:], strict=True):
                ty = canonical_type(i)
                static = not (ty in ("string", "bytes") or ty.endswith("]") or ty.startswith("("))
                args[i["name"]] = _plain([ty], decode([ty], t))[0] if static else "0x" + bytes(t).hex()
            types = [canonical_type(i) for i in plain]
            values = decode(types, bytes(data)) if types else ()
            args.update(zip([i["name"] for i in plain], _plain(types, values, plain), strict=True))
        except Exception:
            continue
        ordered = {i["name"]: args[i["name"]] for i in item["inputs"]}
        return contract, item["name"], ordered
    return None


def erc20_transfer(topics: tuple[bytes, ...], data: bytes) -> tuple[str, str, int] | None:
    """(from, to, value) of a standard ERC-20 Transfer log."""
    if len(topics) != 3 or bytes(topics[0]) != TRANSFER_TOPIC or len(data) != 32:
        return None
    return (to_checksum_address(topics[1][12:]), to_checksum_address(topics[2][12:]), int.from_bytes(data, "big"))


def read_string(raw: bytes | None) -> str | None:
    if not raw:
        return None
    try:
        return str(decode(["string"], raw)[0])
    except Exception:
        try:  # some old tokens return bytes32
            return raw[:32].rstrip(b"\0").decode("utf-8", "replace") or None
        except Exception:
            return None


def read_uint(raw: bytes | None) -> int | None:
    if not raw or len(raw) < 32:
        return None
    return int.from_bytes(raw[:32], "big")


SELECTORS = {name: function_signature_to_4byte_selector(f"{name}()") for name in ("name", "symbol", "decimals",
                                                                                  "totalSupply")}
