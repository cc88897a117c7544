"""CLI behaviour: JSON keys other tools read, and user errors (exit 2, one line, nothing written)."""

import json

import pytest
from typer.testing import CliRunner

from gridledger.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, list(args))


def test_solve_json_has_the_documented_keys():
    res = invoke("elecoin", "solve", "--method", "analytic", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    for key in ("price", "demands", "server_utility", "prosumer_utilities", "seconds"):
        assert key in data
    assert isinstance(data["price"], float) and len(data["demands"]) == 8


@pytest.mark.seed_sensitive
def test_discriminated_price_is_a_list_and_learners_report_episodes():
    res = invoke("elecoin", "solve", "--method", "dma-ubrl", "--pricing", "discriminated", "--set", "n_prosumers=3",
                 "--set", "dma_ubrl.stages=2", "--seed", "3", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert isinstance(data["price"], list) and len(data["price"]) == 3
    assert data["episodes"] > 0


@pytest.mark.seed_sensitive
def test_same_seed_same_answer():
    args = ("elecoin", "solve", "--method", "random", "--seed", "9", "--json")
    a, b = json.loads(invoke(*args).stdout), json.loads(invoke(*args).stdout)
    a.pop("seconds"), b.pop("seconds")
    assert a == b


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--set", "theta=-3"], "theta: must be > 0"),
        (["--set", "bogus=1"], "bogus: unknown key"),
        (["--set", "w=[1, 2]"], "w: must have n_prosumers=8 values (got 2)"),
        (["--set", "p_max=5"], "p_max: must be > 20"),
        (["--set", "dma_ubrl.price_levels=1"], "dma_ubrl.price_levels"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(args, needle, tmp_path):
    out = tmp_path / "out"
    res = invoke("elecoin", "solve", *args, "--out", str(out))
    assert res.exit_code == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], res.stderr
    assert "Traceback" not in res.output
    assert not out.exists()


def test_malformed_config_file_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"theta": 1,,}')
    res = invoke("elecoin", "solve", "--config", str(bad))
    assert res.exit_code == 2
    assert "bad.json, line 1" in res.stderr


def test_unknown_method_is_a_usage_error():
    assert invoke("elecoin", "solve", "--method", "telepathy").exit_code == 2


def test_solve_writes_results_when_asked(tmp_path):
    res = invoke("elecoin", "solve", "--out", str(tmp_path / "o"))
    assert res.exit_code == 0
    data = json.loads((tmp_path / "o" / "results.json").read_text())
    assert data["solution"]["method"] == "analytic" and data["seed"] == 0 and "versions" in data
