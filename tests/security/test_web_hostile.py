"""Hostile input over every route of the app (enumerated, so a new route is covered automatically).

Deep nesting, non-finite and huge numbers, wrong types, oversized and non-UTF-8 bodies, unicode in
paths, queries and headers, odd methods; anonymous and with each role's token. Nothing may
answer 5xx (or crash the process: see test_web_process.py for the same over the network).
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from webapp import app_routes, make_app, populate

pytestmark = pytest.mark.integration

TEXT = ["²", "٣", "𝟘", "\u202e", "\x00", "ｅ", "é" * 300, "a" * 5000, "-1", "NaN", "1e400", "9" * 400,
        "0x" + "g" * 40, "0x" + "ab" * 20 + "²", "../../etc/passwd", "<script>alert(1)</script>", "' OR 1=1 --",
        "\ud7ff", "true", "null", "[]", "{}"]
VALUES = [True, False, None, "", "x", "²", "\u0000", "𝟘" * 70, -1, 0, 2**64, 10**30, 1.7e308, -1.7e308, 1e-320,
          [], [1, 2], {}, {"a": {"b": {}}}, "0x" + "11" * 20, "0X" + "11" * 20, " 0x" + "11" * 20]
RAW_BODIES = [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b"[" * 33 + b"]" * 33,
    b"NaN", b"Infinity", b"-Infinity", b"1e400", b'{"x": NaN}', b'{"x": [Infinity]}', b'{"x": 1e999}',
    b"1" * 5000, b'{"x": ' + b"9" * 5000 + b"}",
    b"\xff\xfe\xfd", b'{"x": "\xc3"}', b'{"x": "\\ud800"}', b"\xef\xbb\xbf{}",
    b"", b"   ", b"{}", b"[]", b"null", b"true", b'"str"', b"{", b'{"a":1,}', b'{"a" 1}',
    b'{"__proto__": {"admin": true}}', b'{"' + "é".encode() * 1000 + b'": 1}',
    b" " * (1 << 20) + b"{}",  # exactly over the limit once the braces are added
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return populate(TestClient(make_app(tmp_path_factory.mktemp("hostile"))))


def identities(world):
    return {"anonymous": {}, "admin": world.h(world.admin), "prosumer": world.h(world.alice),
            "edge_server": world.h(world.server)}


def _paths(route) -> list[str]:
    names = re.findall(r"{(\w+)}", route.path)
    if not names:
        return [route.path]
    return [re.sub(r"{\w+}", quote(v, safe="").replace("\\", "\\\\"), route.path) for v in TEXT]


def _query_names(route) -> list[str]:
    dependant = getattr(route, "dependant", None)
    return [p.name for p in dependant.query_params] if dependant is not None else []


def _body_fields(route) -> list[str]:
    dependant = getattr(route, "dependant", None)
    if dependant is None or not dependant.body_params:
        return []
    model = dependant.body_params[0].field_info.annotation
    return list(getattr(model, "model_fields", {}))


def _check(r, where):
    assert r.status_code < 500, (where, r.status_code, r.text[:300])


def test_the_routes_are_enumerated(world):
    paths = {r.path for r in app_routes(world.client.app)}
    for expected in ("/api/buy", "/api/admin/meters", "/rpc", "/api/explorer/search", "/portal", "/docs",
                     "/api/dashboard/ledger", "/explorer/tx/{key}"):
        assert expected in paths
    assert len(paths) >= 35


@pytest.mark.parametrize("who", ["anonymous", "admin", "prosumer", "edge_server"])
def test_hostile_bodies_on_every_route(world, who):
    c = world.client
    headers = identities(world)[who]
    sent = 0
    for route in app_routes(c.app):
        for method in sorted(route.methods - {"HEAD"}):
            if route.path == "/api/auth/logout" and who != "anonymous":
                continue  # keep the shared sessions
            for path in _paths(route)[:3]:
                for raw in RAW_BODIES:
                    r = c.request(method, path, content=raw, headers={**headers, "content-type": "application/json"})
                    _check(r, (method, path, raw[:40]))
                    sent += 1
                for field in _body_fields(route):
                    for v in VALUES:
                        r = c.request(method, path, json={field: v}, headers=headers)
                        _check(r, (method, path, field, v))
                        sent += 1
    assert sent > 1000


@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_hostile_paths_and_queries_on_every_route(world, who):
    c = world.client
    headers = identities(world)[who]
    for route in app_routes(c.app):
        for method in sorted(route.methods):
            if route.path == "/api/auth/logout" and who != "anonymous":
                continue
            for path in _paths(route):
                _check(c.request(method, path, headers=headers), (method, path))
            for name in _query_names(route):
                for v in TEXT:
                    path = _paths(route)[0]
                    _check(c.request(method, path, params={name: v}, headers=headers), (method, path, name, v))
            _check(c.request(method, route.path + "?" + "&".join(f"x{i}=1" for i in range(2000)), headers=headers),
                   (method, "many params"))


def test_odd_methods_headers_and_static_paths(world):
    c = world.client
    for route in app_routes(c.app):
        path = _paths(route)[0]
        for method in ("OPTIONS", "PUT", "DELETE", "PATCH", "TRACE"):
            _check(c.request(method, path), (method, path))
    for auth in ("Bearer ", "Bearer " + "x" * 8000, "Bearer ÿÿÿ", "Basic YWRtaW46YWRtaW4=", "bearer\t" + "a" * 50):
        _check(c.get("/api/me", headers={"Authorization": auth.encode("latin-1")}), auth[:20])
    for cookie in ("gl_session=" + "x" * 4000, "gl_session=%ff%fe", "gl_device=" + "a." * 300, "gl_device=..."):
        _check(c.get("/api/me", headers={"Cookie": cookie}), cookie[:20])
        _check(c.post("/api/auth/login", json={"name": "admin", "password": "x"}, headers={"Cookie": cookie}),
               cookie[:20])
    for ct in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
               "application/json; charset=latin-1", "application/json;;;", "ÿ/ÿ"):
        _check(c.post("/api/auth/login", content=b'{"name":"a","password":"b"}',
                      headers={"content-type": ct.encode("latin-1")}), ct)
    for path in ("/static/../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd", "/static/vendor/../../app.py",
                 "/static/²", "/static/" + "a" * 3000, "/%00", "/api/%ff", "/explorer/tx/%ff%fe"):
        r = c.get(path)
        _check(r, path)
        assert "root:" not in r.text
    assert c.get("/api/health").json()["status"] == "ok"


def test_hostile_json_rpc(world):
    c = world.client
    calls = [
        {"jsonrpc": "2.0", "id": {"x": 1}, "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": 2**80, "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": {"a": 1}},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"to": "0x12"}]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"data": "0xzz"}]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"data": "0x5b600056", "gas": "0x" + "f" * 64}]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"data": "0x5b600056"}, "0x" + "f" * 30]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"value": "0x" + "f" * 60, "data": "0x"}]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"extra": 1}]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_estimateGas", "params": [{"data": "0x5b600056"}, "pending"]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["0x" + "f" * 15, True]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["earliest", "yes"]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": ["0x" + "11" * 20, "0x99999999"]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionReceipt", "params": [None]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionByHash", "params": ["0x" + "ab" * 32]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0x"]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0x05" + "00" * 40]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0xc0"]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0x" + "f8" + "ff" * 300]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [1]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_getCode", "params": ["0x" + "11" * 20, "safe"]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount", "params": ["0x" + "11" * 20, "pending", 3]},
        {"method": "eth_blockNumber"},
        {"jsonrpc": "2.0", "id": "²", "method": "eth_blockNumber", "params": []},
    ]
    for call in calls:
        r = c.post("/rpc", json=call)
        _check(r, call)
        body = r.json()
        assert "result" in body or "error" in body, (call, body)
    assert c.get("/api/health").json()["status"] == "ok"
