import json

import pytest
from typer.testing import CliRunner

from gridledger.cli import app

runner = CliRunner()


@pytest.mark.seed_sensitive
@pytest.mark.slow
def test_reproduce_fig3_smoke_writes_figure_results_and_report(tmp_path):
    res = runner.invoke(app, ["reproduce", "paper-fig3", "--out", str(tmp_path), "--smoke", "--set",
                              "dma_ubrl.stages=6"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "paper_fig3.png").stat().st_size > 10_000
    data = json.loads((tmp_path / "results.json").read_text())
    assert set(data["runs"]) == {"unified", "discriminated"}
    report = (tmp_path / "report.md").read_text()
    assert "the higher the unit elecoin price, the fewer the demands" in report


@pytest.mark.seed_sensitive
@pytest.mark.slow
def test_reproduce_fig4_smoke_states_the_papers_trends(tmp_path):
    res = runner.invoke(app, ["reproduce", "paper-fig4", "--out", str(tmp_path), "--smoke", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    for name in ("paper_fig4ab.png", "paper_fig4cd.png", "paper_fig4e.png", "report.md", "results.json"):
        assert (tmp_path / name).exists()
    by_n = data["by_n_prosumers"]
    # One-sided GAs hurt the other side relative to DMA-UBRL (the paper's Fig. 4a-b claim).
    assert all(g < d for g, d in zip(by_n["ga-prosumers"]["server_utility"], by_n["dma-ubrl"]["server_utility"],
                                     strict=True))
    assert all(g < d for g, d in zip(by_n["ga-server"]["mean_prosumer_utility"],
                                     by_n["dma-ubrl"]["mean_prosumer_utility"], strict=True))
    report = (tmp_path / "report.md").read_text()
    assert "| paper (section IV.B.2) | ours | verdict |" in report


@pytest.mark.seed_sensitive
def test_demo_writes_report(tmp_path):
    res = runner.invoke(app, ["demo", "--out", str(tmp_path), "--set", "n_prosumers=3", "--set", "dma_ubrl.stages=3",
                              "--set", "ga.generations=20"])
    assert res.exit_code == 0, res.output
    report = (tmp_path / "elecoin" / "report.md").read_text()
    assert report.count("| dma-ubrl |") == 2
    assert (tmp_path / "elecoin" / "elecoin_methods.png").exists()


def test_demo_with_bad_config_writes_nothing(tmp_path):
    res = runner.invoke(app, ["demo", "--out", str(tmp_path / "d"), "--set", "Q=0"])
    assert res.exit_code == 2
    assert not (tmp_path / "d").exists()
