"""Decoding contract reverts into Python exceptions, the same way on every backend.

Backends present reverts differently (eth-tester raises ``TransactionFailed`` with the raw
error bytes; a JSON-RPC node returns them in the error's ``data``; web3 wraps them in several
exception types). :func:`revert_data` digs the bytes out of whatever was raised and
:func:`decode_revert` maps the 4-byte selector to the named custom error of our ABIs.
"""

from __future__ import annotations

import ast
import functools
import re
from typing import Any

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from gridledger.errors import GridledgerError
from gridledger.ledger.artifacts import CONTRACT_NAMES, abi


class ContractRevert(GridledgerError):
    """A contract call reverted; ``name`` is the custom error (e.g. ``ETSCInsufficientPower``)."""

    def __init__(self, name: str, args: dict[str, Any], data: bytes = b"") -> None:
        self.name = name
        self.args_dict = args
        self.data = data
        shown = ", ".join(f"{k}={v}" for k, v in args.items())
        super().__init__(f"contract reverted: {name}({shown})")


def _canonical_type(item: dict[str, Any]) -> str:
    t = item["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_canonical_type(c) for c in item["components"]) + ")" + t[5:]
    return t


@functools.cache
def _selectors() -> dict[bytes, tuple[str, list[str], list[str]]]:
    table: dict[bytes, tuple[str, list[str], list[str]]] = {
        function_signature_to_4byte_selector("Error(string)"): ("Error", ["string"], ["message"]),
        function_signature_to_4byte_selector("Panic(uint256)"): ("Panic", ["uint256"], ["code"]),
    }
    for contract in CONTRACT_NAMES:
        for item in abi(contract):
            if item.get("type") != "error":
                continue
            types = [_canonical_type(i) for i in item["inputs"]]
            names = [i["name"] or f"arg{k}" for k, i in enumerate(item["inputs"])]
            table[function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")] = (
                item["name"], types, names)
    return table


def decode_revert(data: bytes) -> ContractRevert:
    """The :class:`ContractRevert` for raw revert bytes (``Unknown`` if the selector is not ours)."""
    if len(data) < 4:
        return ContractRevert("Reverted", {}, data)
    entry = _selectors().get(bytes(data[:4]))
    if entry is None:
        return ContractRevert("Unknown", {"selector": "0x" + bytes(data[:4]).hex()}, data)
    name, types, names = entry
    values = decode(types, bytes(data[4:])) if types else ()
    values = [to_checksum_address(v) if t == "address" else v for t, v in zip(types, values, strict=True)]
    return ContractRevert(name, dict(zip(names, values, strict=True)), data)


_HEX = re.compile(r"0x[0-9a-fA-F]{8,}")
_BYTES_LITERAL = re.compile(r"b'(?:[^'\\]|\\.)*'|b\"(?:[^\"\\]|\\.)*\"")


def revert_data(exc: BaseException) -> bytes | None:
    """Raw revert bytes carried by an exception raised by web3 or eth-tester, if any."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if id(item) in seen or item is None:
            continue
        seen.add(id(item))
        if isinstance(item, (bytes, bytearray)) and len(item) >= 4:
            return bytes(item)
        if isinstance(item, str):
            # eth-tester puts the raw bytes' repr (b'...') into its message; nodes use hex.
            lit = _BYTES_LITERAL.search(item)
            if lit:
                try:
                    value = ast.literal_eval(lit.group(0))
                except (ValueError, SyntaxError):
                    value = b""
                if isinstance(value, bytes) and len(value) >= 4:
                    return value
            m = _HEX.search(item)
            if m:
                return bytes.fromhex(m.group(0)[2:])
            continue
        if isinstance(item, dict):
            stack.extend(item.values())
            continue
        if isinstance(item, (list, tuple)):
            stack.extend(item)
            continue
        if isinstance(item, BaseException):
            stack.append(getattr(item, "data", None))
            stack.extend(item.args)
            stack.append(item.__cause__)
            stack.append(item.__context__)
    return None
