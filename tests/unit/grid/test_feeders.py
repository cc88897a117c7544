"""Distribution feeders: loss allocation by one adjoint solve, simbench and IEEE European LV grids,
prosumers on load buses, a community day on a feeder."""

from __future__ import annotations

import numpy as np
import pytest

from gridledger.grid.feeders import (
    bus_allocation_weights,
    feeder_community_grid,
    feeder_loss_fractions,
    operating_point,
    place_prosumers,
)
from gridledger.grid.powerflow import case14_loss_factors, case14_reference

pytestmark = pytest.mark.integration


def test_adjoint_weights_give_the_pairwise_allocation_of_case14():
    """g_a - g_b (one sparse solve) equals eqs. (3.1)-(3.2) solved pair by pair on the IEEE 14-bus case."""
    net = case14_reference()
    g, loss_mw = bus_allocation_weights(net)
    gv = np.array([g[b] for b in range(14)])
    mine = np.clip(gv[:, None] - gv[None, :], 0.0, None)
    np.fill_diagonal(mine, 0.0)
    np.testing.assert_allclose(mine, case14_loss_factors(), atol=1e-9)
    assert loss_mw.sum() == pytest.approx(net.res_line.pl_mw.sum() + net.res_trafo.pl_mw.sum(), rel=1e-9)


@pytest.fixture(scope="module")
def rural():
    from gridledger.data.networks import simbench_feeder

    return simbench_feeder("1-LV-rural1--0-sw")


def test_simbench_feeder_and_profiles(rural):
    from gridledger.data.networks import simbench_profiles

    assert rural.n_loads == 13 and rural.slack_bus == int(rural.net.ext_grid.bus.iloc[0])
    homes = simbench_profiles(rural)
    assert homes.consumption_kwh.shape == (13, 366, 96) and not homes.measured
    assert homes.dates[0].isoformat() == "2016-01-01"
    # kWh per quarter hour = MW x 250; PV only on the buses with generators.
    import simbench

    absolute = simbench.get_absolute_values(rural.net, profiles_instead_of_study_cases=True)
    load = absolute[("load", "p_mw")].to_numpy()
    assert homes.consumption_kwh[4, 0, 5] == pytest.approx(load[5, 4] * 250)
    with_pv = {int(b) for b in rural.net.sgen.bus}
    for i, b in enumerate(rural.load_buses):
        assert (homes.generation_kwh[i].sum() > 0) == (b in with_pv)


def test_prosumers_sit_on_load_buses(rural):
    buses = place_prosumers(rural, 15)
    assert list(buses[:13]) == list(rural.load_buses) and list(buses[13:]) == list(rural.load_buses[:2])
    grid = feeder_community_grid(rural, buses)
    assert grid.network == "1-LV-rural1--0-sw" and grid.dist_km.shape == (16, 16)
    assert 0.05 < grid.dist_km.max() < 5  # a rural LV feeder spans a few hundred metres
    assert grid.dist_km[0, 13] == 0.0  # prosumers 0 and 13 share a bus


def test_feeder_loss_fractions(rural):
    n = 13
    buses = place_prosumers(rural, n)
    cons = np.full(n, 24.0)  # 1 kW each
    prod = np.where(np.arange(n) % 3 == 0, 48.0, 0.0)
    f = feeder_loss_fractions(rural, buses, prod, cons)
    assert f.shape == (n + 1, n + 1) and np.all(f >= 0) and np.all(np.diag(f) == 0)
    assert f.max() < 0.05  # LV losses at a kW operating point are fractions of a percent
    assert f[:, n].sum() + f[n, :].sum() > 0  # the EDC is not free to reach
    # The series (I^2 R) loss the allocation splits is pandapower's loss on every line; the transformer's
    # no-load (iron) loss, which no transfer changes, is left out: its series loss is below its total loss.
    net = operating_point(rural, buses, cons / 24, prod / 24)
    _, loss_mw = bus_allocation_weights(net)
    start, end = net._pd2ppc_lookups["branch"]["line"]
    np.testing.assert_allclose(loss_mw[start:end], net.res_line.pl_mw.to_numpy(), rtol=1e-6, atol=1e-12)
    t0, t1 = net._pd2ppc_lookups["branch"]["trafo"]
    assert 0 < loss_mw[t0:t1].sum() < net.res_trafo.pl_mw.sum()


def test_ieee_european_lv_feeder():
    from gridledger.data.networks import ieee_eu_lv_feeder

    feeder = ieee_eu_lv_feeder()
    assert feeder.n_loads == 55 and len(feeder.bus_xy_km) == len(feeder.net.bus)
    buses = place_prosumers(feeder, 10)
    f = feeder_loss_fractions(feeder, buses, np.full(10, 10.0), np.full(10, 20.0))
    assert np.all(f >= 0) and f[:10, 10].max() == 0.0  # every prosumer imports: selling to the EDC relieves
    assert f[10, :10].min() > 0


def test_unknown_network_is_a_config_error():
    from gridledger.data.networks import feeder_by_name
    from gridledger.errors import ConfigError

    with pytest.raises(ConfigError, match="not a simbench LV grid code"):
        feeder_by_name("1-LV-nowhere")
