"""Community days on real data: measured CityLearn homes (shipped subset), on the IEEE 14-bus
network and on LV feeders; simbench's own profiles on their grid."""

from __future__ import annotations

import numpy as np
import pytest

from gridledger.data.citylearn import load_citylearn
from gridledger.data.sources import CITYLEARN, shipped
from gridledger.errors import ConfigError
from gridledger.params import from_mapping
from gridledger.scenarios.community.inputs import balanced_day, citylearn_input, simbench_input
from gridledger.scenarios.community.run import CommunityConfig, run_community_day


@pytest.fixture(scope="module")
def homes():
    return load_citylearn(shipped(CITYLEARN)).homes


def test_citylearn_day_is_the_homes_daily_totals(homes):
    cfg = CommunityConfig()
    inputs = citylearn_input(cfg, np.random.default_rng(0), day=5)
    prod, cons = homes.daily_totals()
    np.testing.assert_allclose(inputs.production_kwh, prod[:10, 5])
    np.testing.assert_allclose(inputs.consumption_kwh, cons[:10, 5])
    assert inputs.labels[0] == f"Building_1, {homes.dates[5]}"
    assert "CityLearn" in inputs.source and "measured" in inputs.source and "shipped subset" in inputs.source
    day = run_community_day(cfg, inputs, np.random.default_rng(0))
    assert day.to_json()["network"] == "ieee14" and day.to_json()["profiles_source"] == inputs.source


def test_default_day_balances_sellers_and_buyers(homes):
    prod, cons = homes.daily_totals()
    d = balanced_day(prod[:10], cons[:10])
    sellers = (prod[:10] > cons[:10]).sum(axis=0)
    assert abs(sellers[d] - 5) == np.abs(sellers - 5).min()
    inputs = citylearn_input(CommunityConfig(), np.random.default_rng(0))
    assert str(homes.dates[d]) in inputs.source


def test_bad_day_and_too_many_prosumers():
    with pytest.raises(ConfigError, match=r"day: must be in \[0, 41\]"):
        citylearn_input(CommunityConfig(), np.random.default_rng(0), day=42)
    with pytest.raises(ConfigError, match="the data has 10 homes"):
        citylearn_input(CommunityConfig(prosumers=11), np.random.default_rng(0))


@pytest.mark.integration
def test_measured_homes_on_a_simbench_feeder():
    cfg = from_mapping(CommunityConfig, {"loss": {"model": "powerflow"}})
    inputs = citylearn_input(cfg, np.random.default_rng(0), day=3, network="1-LV-rural1--0-sw")
    from gridledger.data.networks import simbench_feeder

    feeder = simbench_feeder("1-LV-rural1--0-sw")
    assert inputs.grid is not None and list(inputs.grid.buses) == list(feeder.load_buses[:10])
    assert inputs.loss_fractions is not None and inputs.loss_fractions.max() < 0.05
    day = run_community_day(cfg, inputs, np.random.default_rng(0))  # invariants are checked inside
    assert day.to_json()["network"] == "1-LV-rural1--0-sw"
    assert day.loss_coalition_kwh <= day.loss_alone_kwh + 1e-9


@pytest.mark.integration
def test_simbench_profiles_on_their_own_grid():
    cfg = from_mapping(CommunityConfig, {"prosumers": 13, "loss": {"model": "powerflow"}})
    inputs = simbench_input(cfg, np.random.default_rng(0), day=160)
    assert "standard profiles" in inputs.source and "2016-06-09" in inputs.source
    from gridledger.data.networks import simbench_feeder

    feeder = simbench_feeder("1-LV-rural1--0-sw")
    pv_buses = {int(b) for b in feeder.net.sgen.bus}
    for k, b in enumerate(feeder.load_buses):
        assert (inputs.production_kwh[k] > 0) == (b in pv_buses)
    day = run_community_day(cfg, inputs, np.random.default_rng(0))
    assert day.savings_pct >= 0
