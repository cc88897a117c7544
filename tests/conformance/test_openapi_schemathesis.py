"""Property-based tests of the web API from its own OpenAPI schema (schemathesis): no 5xx."""

import tempfile
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from webapp import make_app, populate

pytestmark = pytest.mark.integration

APP = make_app(Path(tempfile.mkdtemp(prefix="gridledger-schemathesis-")))
WORLD = populate(TestClient(APP))
TOKENS = {"anonymous": None, "prosumer": WORLD.alice["token"], "admin": WORLD.admin["token"],
          "edge_server": WORLD.server["token"]}
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.mark.parametrize("who", list(TOKENS))
@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, who):
    token = TOKENS[who]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if case.path == "/api/auth/logout":
        headers = {}  # keep the shared sessions alive
    case.call_and_validate(checks=[not_a_server_error], headers=headers)
