import json

import pytest
from typer.testing import CliRunner

from gridledger.cli import app

runner = CliRunner()


@pytest.mark.seed_sensitive
@pytest.mark.slow
def test_reproduce_fig3_smoke_writes_figure_results_and_report(tmp_path):
    res = runner.invoke(app, ["reproduce", "paper-fig3", "--out", str(tmp_path), "--smoke", "--set",
                              "dma_ubrl.max_episodes=100000"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "paper_fig3.png").stat().st_size > 10_000
    data = json.loads((tmp_path / "results.json").read_text())
    assert set(data["runs"]) == {"unified", "discriminated"}
    report = (tmp_path / "report.md").read_text()
    assert "the higher the unit elecoin price, the fewer the demands" in report


@pytest.mark.seed_sensitive
@pytest.mark.slow
def test_reproduce_fig4_smoke_draws_both_models_and_states_the_papers_trends(tmp_path):
    res = runner.invoke(app, ["reproduce", "paper-fig4", "--out", str(tmp_path), "--smoke", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    for name in ("paper_fig4ab.png", "paper_fig4cd.png", "paper_fig4e.png", "report.md", "results.json"):
        assert (tmp_path / name).exists()
    assert set(data["models"]) == {"paper", "supply"}
    paper, supply = data["models"]["paper"], data["models"]["supply"]
    assert paper["supply"] is None and supply["supply"] == 24.0 and supply["p_max"] >= 1000.0
    by_n = supply["by_n_prosumers"]
    # Intentions drawn per N, the same for both models.
    assert [len(w) for w in by_n["w"]] == by_n["n_prosumers"]
    assert by_n["w"] == paper["by_n_prosumers"]["w"]
    for model in (paper, supply):
        assert len(model["by_n_prosumers"]["dma-ubrl"]["converged"]) == len(by_n["n_prosumers"])
    report = (tmp_path / "report.md").read_text()
    assert report.count("| paper (section IV.B.2) | ours | verdict |") == 3
    assert "## Eqs. (2)-(7) as printed: utilities against the number of prosumers" in report
    assert "## Supply-limited: utilities against the number of prosumers" in report
    assert "Why (against N)" in report


def test_fig4_supply_model_binds_where_the_analytic_demand_exceeds_s():
    from gridledger.scenarios.elecoin.reports import _binding_from, fig4_models
    from gridledger.scenarios.elecoin.run import ElecoinConfig, market_with

    supply = fig4_models(ElecoinConfig())["supply"]
    n_values = [2, 4, 8, 16, 32]
    cfgs = [market_with(supply, n_prosumers=n) for n in n_values]
    # Default intentions: about 3 elecoins each at p* = 82, so S = 24 binds from N = 8 on.
    assert _binding_from(cfgs, n_values) == 8


@pytest.mark.seed_sensitive
def test_demo_writes_report(tmp_path):
    res = runner.invoke(app, ["demo", "--out", str(tmp_path), "--set", "n_prosumers=3", "--set",
                              "dma_ubrl.max_episodes=20000", "--set", "ga.generations=20"])
    assert res.exit_code == 0, res.output
    report = (tmp_path / "elecoin" / "report.md").read_text()
    assert report.count("| dma-ubrl |") == 2
    assert (tmp_path / "elecoin" / "elecoin_methods.png").exists()


def test_demo_with_bad_config_writes_nothing(tmp_path):
    res = runner.invoke(app, ["demo", "--out", str(tmp_path / "d"), "--set", "Q=0"])
    assert res.exit_code == 2
    assert not (tmp_path / "d").exists()
