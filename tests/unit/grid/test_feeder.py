"""Loss allocation on a low-voltage feeder: pandapower's AC power flow per slot and eqs. (3.1)-(3.2)
along each transaction's path, checked against a hand computation on a small radial feeder; a
meshed feeder through the adjoint; three phases."""

import copy

import numpy as np
import pandapower as pp
import pytest

from gridledger.errors import ConfigError
from gridledger.grid.feeders import feeder_loss_fractions, feeder_tree, load_buses

pytestmark = pytest.mark.integration


def small_feeder():
    """MV bus 0 (external grid) - transformer - LV bus 1 - line - bus 2, which feeds buses 3 and 4."""
    net = pp.create_empty_network()
    b = [pp.create_bus(net, 20.0, geodata=(0.0, 0.0)), pp.create_bus(net, 0.4, geodata=(0.0, 10.0))]
    b += [pp.create_bus(net, 0.4, geodata=(0.0, 110.0)), pp.create_bus(net, 0.4, geodata=(-80.0, 170.0)),
          pp.create_bus(net, 0.4, geodata=(90.0, 160.0))]
    pp.create_ext_grid(net, b[0])
    pp.create_transformer(net, b[0], b[1], "0.25 MVA 20/0.4 kV")
    for f, t, km in ((1, 2, 0.1), (2, 3, 0.1), (2, 4, 0.12)):
        pp.create_line(net, b[f], b[t], km, "NAYY 4x150 SE")
    for bus in (2, 3, 4):
        pp.create_load(net, b[bus], p_mw=0.002)
    return net


def _rates(net):
    """Loss per unit moved downstream on each branch, by hand from a solved net (eq. 3.1)."""
    out = {}
    for idx, row in net.res_line.iterrows():
        p, q, loss = row.p_from_mw, row.q_from_mvar, row.pl_mw
        r = loss * abs(p) / (p * p + q * q)
        out[(int(net.line.from_bus[idx]), int(net.line.to_bus[idx]))] = r if p > 0 else -r
    # The transformer's copper loss: vkr% x S_n at rated current, half in each winding (T model);
    # its no-load (iron) loss is not caused by the flows.
    row, t = net.res_trafo.iloc[0], net.trafo.iloc[0]
    i_hv_n, i_lv_n = t.sn_mva / (3 ** 0.5 * t.vn_hv_kv), t.sn_mva / (3 ** 0.5 * t.vn_lv_kv)
    loss = t.vkr_percent / 100 * t.sn_mva * ((row.i_hv_ka / i_hv_n) ** 2 + (row.i_lv_ka / i_lv_n) ** 2) / 2
    assert 0 < loss < row.pl_mw
    out[(0, 1)] = loss * abs(row.p_hv_mw) / (row.p_hv_mw ** 2 + row.q_hv_mvar ** 2)
    return out


def test_one_slot_matches_eq_3_1_by_hand():
    net = small_feeder()
    # A at bus 3 draws 6 kW; B at bus 4 exports 4 kW (7 kW of PV, 3 kW of load).
    gen = np.array([[0.0], [7.0]])
    cons = np.array([[6.0], [3.0]])
    fl = feeder_loss_fractions(net, np.array([3, 4]), gen, cons, slot_hours=1.0, power_factor=1.0)
    ref = copy.deepcopy(net)
    ref.load["in_service"] = False
    pp.create_load(ref, 3, p_mw=0.006)
    pp.create_load(ref, 4, p_mw=-0.004)
    pp.runpp(ref, numba=False)
    r = _rates(ref)
    f = fl.fractions  # index 0 = A, 1 = B, 2 = EDC
    # B -> A: up 4 -> 2 with the flow, down 2 -> 3 with the flow; the shared branches are not on the path.
    assert f[1, 0] == pytest.approx(-r[(2, 4)] + r[(2, 3)], rel=1e-6)
    # EDC -> A: down the transformer, 1 -> 2 and 2 -> 3.
    assert f[2, 0] == pytest.approx(r[(0, 1)] + r[(1, 2)] + r[(2, 3)], rel=1e-6)
    # A -> B runs against both flows: it relieves the feeder, and is charged 0, not credited.
    assert f[0, 1] == 0.0
    assert fl.physical_loss_kwh == pytest.approx((ref.res_line.pl_mw.sum() + ref.res_trafo.pl_mw.sum()) * 1000,
                                                 rel=1e-6)
    assert np.all(f >= 0) and np.all(np.diag(f) == 0)


def test_the_day_weights_each_senders_slots_by_its_exports():
    net = small_feeder()
    gen = np.array([[0.0, 0.0, 0.0], [2.0, 8.0, 0.0]])
    cons = np.array([[3.0, 3.0, 5.0], [1.0, 1.0, 4.0]])
    fl = feeder_loss_fractions(net, np.array([3, 4]), gen, cons, slot_hours=8.0)
    exports_b = np.clip(gen[1] - cons[1], 0, None)
    imports_a = np.clip(cons[0] - gen[0], 0, None)
    bus_a, bus_b = fl.bus_of
    expected_ba = (exports_b / exports_b.sum()) @ fl.slot_fractions[:, bus_b, bus_a]
    expected_edc_a = (imports_a / imports_a.sum()) @ fl.slot_fractions[:, -1, bus_a]
    assert fl.fractions[1, 0] == pytest.approx(expected_ba)
    assert fl.fractions[2, 0] == pytest.approx(expected_edc_a)


def test_the_input_net_is_not_modified_and_prosumers_share_buses():
    net = small_feeder()
    before = net.load.copy()
    gen = np.zeros((3, 2))
    cons = np.full((3, 2), 2.0)
    fl = feeder_loss_fractions(net, np.array([3, 3, 4]), gen, cons, slot_hours=12.0)
    assert net.load.equals(before) and len(net.load) == 3
    assert fl.fractions[0, 1] == 0.0 and fl.fractions[1, 0] == 0.0  # same bus: no branch between them
    assert list(fl.buses) == [3, 4]
    assert list(load_buses(net)) == [2, 3, 4]


def test_a_meshed_feeder_has_no_tree_and_is_allocated_by_the_adjoint():
    net = small_feeder()
    pp.create_line(net, 3, 4, 0.1, "NAYY 4x150 SE")
    with pytest.raises(ValueError, match="meshed"):
        feeder_tree(net)
    gen = np.array([[0.0], [7.0]])
    cons = np.array([[6.0], [3.0]])
    fl = feeder_loss_fractions(net, np.array([3, 4]), gen, cons, slot_hours=1.0, power_factor=1.0)
    assert fl.allocation == "adjoint"
    f = fl.fractions
    # B exports to A through both paths; the EDC supplies A's remaining 2 kW: both are charged.
    assert f[1, 0] > 0 and f[2, 0] > 0 and f[0, 1] == 0.0
    radial = feeder_loss_fractions(small_feeder(), np.array([3, 4]), gen, cons, slot_hours=1.0, power_factor=1.0)
    assert radial.allocation == "path" and f[1, 0] < radial.fractions[1, 0]  # the ring shortens B -> A
    # A three-phase flow needs the grid's zero-sequence data, which this feeder does not carry.
    with pytest.raises(ConfigError, match="no three-phase data"):
        feeder_loss_fractions(net, np.array([3, 4]), gen, cons, slot_hours=1.0, three_phase=True)


def test_tree_is_rooted_at_the_external_grid():
    tree = feeder_tree(small_feeder())
    assert tree.root == 0 and tree.lv_bus == 1
    assert tree.edge[1] == ("trafo", 0) and tree.parent[3] == 2 and tree.parent[4] == 2


@pytest.mark.slow
def test_three_phase_sends_a_transfer_between_phases_through_the_lv_busbar():
    import pandapower.networks as pn

    net = pn.ieee_european_lv_asymmetric("on_peak_566")
    bus = int(load_buses(net)[-1])
    gen = np.array([[3.0, 3.0], [0.0, 0.0], [0.0, 0.0]])
    cons = np.array([[0.5, 0.5], [2.0, 2.0], [2.0, 2.0]])
    fl = feeder_loss_fractions(net, np.array([bus, bus, bus]), gen, cons, slot_hours=12.0, three_phase=True,
                               phases=np.array([0, 0, 1]))
    f = fl.fractions
    assert f[0, 1] == 0.0            # same bus, same phase: no branch on the path
    assert f[0, 2] > 0.0             # same bus, other phase: up to the LV busbar and down again
    assert np.all(np.isfinite(f)) and np.all(f >= 0)


@pytest.mark.slow
def test_simbench_rural_feeder_runs_through_the_generic_path():
    import simbench

    from gridledger.scenarios.community.feeder import feeder_community_day
    from gridledger.scenarios.community.run import CommunityConfig, check_invariants, synthetic_input

    net = simbench.get_simbench_net("1-LV-rural1--0-sw")
    cfg = CommunityConfig(prosumers=13)
    rng = np.random.default_rng(0)
    fd = feeder_community_day(cfg, net, synthetic_input(cfg, rng), rng, slots=4)
    assert check_invariants(fd.day) == [] and fd.day.stability.stable
    assert fd.day.config.loss.model == "feeder"
    assert set(fd.prosumer_buses) == set(load_buses(net))
    data = fd.to_json()
    assert data["feeder"]["slots"] == 4 and "savings_pct" in data["distance_model"]
