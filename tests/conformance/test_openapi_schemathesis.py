"""Property-based tests of the web API from its own OpenAPI schema (schemathesis).

Both generation modes: *positive* cases (data that fits the schema) must never answer 5xx;
*negative* cases (data that breaks the schema: wrong types, out-of-range numbers, missing or
extra fields, malformed strings) must never answer 5xx and must be refused with a 4xx
(schemathesis' ``negative_data_rejection`` check). Anonymous and with each role's token.
"""

import tempfile
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection
from webapp import make_app, populate

pytestmark = pytest.mark.integration

APP = make_app(Path(tempfile.mkdtemp(prefix="gridledger-schemathesis-")))
WORLD = populate(TestClient(APP))
TOKENS = {"anonymous": None, "prosumer": WORLD.alice["token"], "admin": WORLD.admin["token"],
          "edge_server": WORLD.server["token"]}
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


def _headers(case, who):
    token = TOKENS[who]
    if case.path == "/api/auth/logout" or token is None:
        return {}  # keep the shared sessions alive
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("who", list(TOKENS))
@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_invalid_data_refused(case, who):
    case.call_and_validate(checks=[not_a_server_error, negative_data_rejection], headers=_headers(case, who))
