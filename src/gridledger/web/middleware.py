"""ASGI middleware of the web app: request limits, strict JSON, security headers.

Every request body passes :class:`RequestLimits` before any route sees it:

- at most ``max_body_bytes`` (413; ``Content-Length`` is checked before reading, a chunked body
  while reading);
- JSON nested at most ``max_json_depth`` levels, counted on the raw bytes *before* parsing
  (:func:`json_depth`): py_ecc raises Python's recursion limit to 100,000, and a body nested
  100,000 levels deep would overflow the C stack of the JSON parser and kill the process;
- strict JSON (:func:`strict_json`): no ``NaN``, ``Infinity``, numbers that overflow to infinity
  (``1e400``) or integers beyond 4,300 digits; UTF-8 only.

Refusals are 4xx with a message naming the limit (``/rpc`` answers in JSON-RPC's error format).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import numpy as np

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]



_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class BadJSON(ValueError):
    """The body is not the strict JSON the API accepts."""


def json_depth(raw: bytes) -> int:
    """Deepest nesting of ``[``/``{`` in ``raw``, ignoring brackets inside strings.

    Linear, vectorised passes (numpy), no recursion and no backtracking, so a 1 MiB body costs
    milliseconds whatever it holds: a quote preceded by an odd run of backslashes is escaped;
    the parity of the unescaped quotes before a byte tells whether it is inside a string.
    Malformed bodies are refused later by the parser.
    """
    if raw.count(b"[") + raw.count(b"{") == 0:
        return 0
    codes = np.frombuffer(raw, dtype=np.uint8)
    n = codes.size
    idx = np.arange(n, dtype=np.int64)
    backslash = codes == ord("\\")
    last_plain = np.maximum.accumulate(np.where(backslash, -1, idx))  # last non-backslash at or before i
    run_before = np.empty(n, dtype=np.int64)  # backslashes right before position i
    run_before[0] = 0
    run_before[1:] = idx[:-1] - last_plain[:-1]
    quote = (codes == ord('"')) & (run_before % 2 == 0)
    inside = np.cumsum(quote) % 2 == 1  # at a closing quote the parity is even again
    opening = ((codes == ord("[")) | (codes == ord("{"))) & ~inside
    closing = ((codes == ord("]")) | (codes == ord("}"))) & ~inside
    steps = opening.astype(np.int64) - closing.astype(np.int64)
    return int(np.cumsum(steps).max(initial=0))


def _no_constant(name: str) -> Any:
    raise BadJSON(f"{name} is not a JSON number (NaN and Infinity are refused)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJSON(f"number {text[:40]} is out of range (it overflows a 64-bit float)")
    return value


def strict_json(raw: bytes) -> Any:
    """Parse ``raw`` as strict JSON (UTF-8, no NaN/Infinity, finite numbers); raise :class:`BadJSON`."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadJSON("the body is not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
        if _SURROGATE_ESCAPE.search(raw):  # escaped surrogates: a lone one cannot be encoded again
            _no_lone_surrogates(value)
        return value
    except BadJSON:
        raise
    except json.JSONDecodeError as exc:
        raise BadJSON(f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # e.g. integers beyond Python's 4,300-digit limit
        raise BadJSON(f"malformed JSON: {str(exc)[:120]}") from None


def _no_lone_surrogates(value: Any) -> None:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise BadJSON("a string holds a lone UTF-16 surrogate (\\ud800-\\udfff)") from None
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def _is_rpc(scope: Scope) -> bool:
    return scope.get("path") == "/rpc"


async def _reply(send: Send, scope: Scope, status: int, detail: str) -> None:
    if _is_rpc(scope):
        code = -32600 if status == 413 else -32700
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": detail}}
    else:
        body = {"detail": detail}
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload})


class RequestLimits:
    """Body size, JSON depth and strict JSON for every HTTP request (see the module docstring)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_json_depth: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _reply(send, scope, 400, "Content-Length is not a number")
                return
            if declared > self.max_body_bytes:
                await _reply(send, scope, 413, f"request body too large: {declared} bytes, at most "
                                               f"{self.max_body_bytes} accepted")
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await _reply(send, scope, 413, f"request body too large: more than {self.max_body_bytes} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body.strip():
            content_type = headers.get(b"content-type", b"application/json").split(b";")[0].strip().lower()
            if content_type != b"application/json" and not content_type.endswith(b"+json"):
                await _reply(send, scope, 415, "request bodies must be JSON (Content-Type: application/json)")
                return
            depth = json_depth(body)
            if depth > self.max_json_depth:
                await _reply(send, scope, 400, f"JSON nested too deeply: {depth} levels, at most "
                                               f"{self.max_json_depth} accepted")
                return
            try:
                strict_json(body)
            except BadJSON as exc:
                await _reply(send, scope, 400, str(exc))
                return

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
"""The pages' Content-Security-Policy: only the app's own scripts, styles and API (no inline script)."""

DOCS_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; font-src 'self' data:; worker-src 'self' blob:; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
"""For /docs and /redoc: Swagger UI and ReDoc set inline styles, ReDoc runs its search in a blob worker."""

DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeaders:
    """Adds CSP, X-Frame-Options, Referrer-Policy, nosniff and friends to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope.get("path") in DOCS_PATHS else CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in ((b"content-security-policy", csp.encode()), (b"x-frame-options", b"DENY"),
                                    (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                                    (b"cross-origin-opener-policy", b"same-origin"),
                                    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()")):
                    if name not in present:
                        headers.append((name, value))
                if scope.get("path", "").startswith("/api/") and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
