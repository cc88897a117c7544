"""Our Newton-Raphson AC power flow against pandapower's runpp on the IEEE 14-bus case."""

import numpy as np
import pytest

from gridledger.grid.powerflow import (
    PROSUMER_BUSES,
    allocated_loss_factor,
    case14_loss_factors,
    case14_network,
    case14_reference,
    solve_ac,
)

pytestmark = pytest.mark.integration


def test_newton_raphson_matches_runpp_to_1e6():
    net, ref = case14_network(), case14_reference()
    sol = solve_ac(net)
    assert np.max(np.abs(np.abs(sol.v) - ref.res_bus.vm_pu.values)) < 1e-6
    assert np.max(np.abs(np.rad2deg(np.angle(sol.v)) - ref.res_bus.va_degree.values)) < 1e-6
    n_lines = len(ref.line)
    p_from = sol.s_from.real * net.base_mva
    assert np.max(np.abs(p_from[:n_lines] - ref.res_line.p_from_mw.values)) < 1e-6
    assert np.max(np.abs(p_from[n_lines:] - ref.res_trafo.p_hv_mw.values)) < 1e-6
    total_loss = ref.res_line.pl_mw.sum() + ref.res_trafo.pl_mw.sum()
    assert sol.branch_loss.sum() * net.base_mva == pytest.approx(total_loss, abs=1e-6)


def test_solver_follows_a_changed_injection():
    import copy

    import pandapower as pp

    net = case14_network()
    ref = copy.deepcopy(case14_reference())
    ref.load.loc[ref.load.bus == 8, "p_mw"] += 5.0  # bus 9 (index 8)
    pp.runpp(ref, numba=False)
    s = net.sbus.copy()
    s[8] -= 5.0 / net.base_mva
    sol = solve_ac(net, s)
    assert np.max(np.abs(np.abs(sol.v) - ref.res_bus.vm_pu.values)) < 1e-6


def test_flow_sensitivity_matches_a_finite_difference():
    from gridledger.grid.powerflow import transfer_flow_sensitivity

    net = case14_network()
    sol = solve_ac(net)
    dp, dq = transfer_flow_sensitivity(net, sol, 2, 13)
    eps = 1e-4
    s = net.sbus.copy()
    s[2] += eps
    s[13] -= eps
    moved = solve_ac(net, s)
    fd = (moved.s_from - sol.s_from) / eps
    assert dp == pytest.approx(fd.real, abs=1e-3)
    assert dq == pytest.approx(fd.imag, abs=1e-3)


def test_loss_factors_are_non_negative_and_in_a_plausible_range():
    f = case14_loss_factors()
    assert np.all(f >= 0) and np.all(np.diag(f) == 0)
    edc_to_prosumers = [f[0, b - 1] for b in PROSUMER_BUSES]
    assert min(edc_to_prosumers) > 0.005 and max(edc_to_prosumers) < 0.10


def test_transfer_with_the_prevailing_flow_is_charged_more_than_against_it():
    net = case14_network()
    sol = solve_ac(net)
    # Power flows from the slack (bus 1) towards the loads: sending from bus 1 to bus 14
    # adds to the flows, sending back relieves them.
    assert allocated_loss_factor(net, sol, 0, 13) > allocated_loss_factor(net, sol, 13, 0)
