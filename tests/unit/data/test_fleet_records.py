"""EV identity records: validation naming the field, schedules, presence, round trips, sources."""

import numpy as np
import pytest

from gridledger.data.fleet import (
    FLEET_SOURCES,
    CommutePattern,
    EVModel,
    EVProfile,
    PriceDays,
    fleet_from_mappings,
    sample_fleet_days,
    synthetic_fleet,
)
from gridledger.errors import ConfigError


@pytest.mark.parametrize(("build", "needle"), [
    (lambda: EVModel(battery_kwh=0), "battery_kwh: must be > 0"),
    (lambda: EVModel(charge_efficiency=1.5), "charge_efficiency: must be > 0 and <= 1"),
    (lambda: CommutePattern(arrival_range_h=(5, 3)), "arrival_range_h[1]"),
    (lambda: CommutePattern(distribution="lognormal"), "distribution: must be one of normal, uniform"),
    (lambda: CommutePattern(schedule_arrival_h=(8,), schedule_departure_h=(7,), schedule_soc=(0.5,)),
     "schedule_departure_h[0]"),
    (lambda: CommutePattern(schedule_arrival_h=(8, 9), schedule_departure_h=(17,), schedule_soc=(0.5,)),
     "same length"),
    (lambda: EVProfile(""), "ev_id"),
    (lambda: EVProfile("a", soc_required=2.0), "soc_required"),
    (lambda: PriceDays(np.ones((2, 23))), "grid_sell: must have shape (days, 24)"),
    (lambda: PriceDays(np.full((2, 24), np.nan)), "grid_sell: prices must be finite"),
    (lambda: PriceDays(np.ones((2, 24)), start_h=24), "start_h: must be an integer in [0, 23]"),
    (lambda: PriceDays(np.ones((2, 24)), dates=("2024-01-02",)), "dates: must give one date per row"),
    (lambda: synthetic_fleet(3, 4), "sites: must be an integer in [1, 3]"),
])
def test_bad_records_name_the_field(build, needle):
    with pytest.raises(ConfigError, match=None) as exc:
        build()
    assert needle in str(exc.value)


def test_negative_prices_are_real_prices():
    assert PriceDays(-np.ones((2, 24))).off_peak.tolist() == [-1.0, -1.0]  # wholesale prices go negative


@pytest.mark.seed_sensitive
def test_a_schedule_is_replayed_cyclically():
    p = CommutePattern(schedule_arrival_h=(8, 9, 7), schedule_departure_h=(17, 18, 16), schedule_soc=(0.3, 0.4, 0.5))
    ev = EVProfile("logged", pattern=p, source="charger log")
    days = sample_fleet_days((ev,), 7, np.random.default_rng(0))
    start = [(8, 9, 7).index(int(days.arrival_h[0, 0]))]
    for k in range(7):
        j = (start[0] + k) % 3
        assert (days.arrival_h[0, k], days.departure_h[0, k], days.soc0[0, k]) == (p.schedule[j][0], p.schedule[j][1],
                                                                                pytest.approx(p.schedule[j][2]))


@pytest.mark.seed_sensitive
def test_presence_leaves_days_empty():
    ev = EVProfile("sometimes", pattern=CommutePattern(presence=0.3))
    days = sample_fleet_days((ev,), 2000, np.random.default_rng(1))
    came = days.departure_h[0] > days.arrival_h[0]
    assert 0.25 < came.mean() < 0.35
    assert np.all(days.arrival_h[0, ~came] == 0) and np.all(days.departure_h[0, ~came] == 0)


@pytest.mark.seed_sensitive
def test_records_round_trip_through_mappings():
    fleet = synthetic_fleet(5, 2, np.random.default_rng(0), data="ud")
    fleet = (*fleet, EVProfile("x", EVModel("Real Car", 64.0, 11.0, 10.0, 0.9, 0.92),
                               CommutePattern(schedule_arrival_h=(8,), schedule_departure_h=(17,),
                                              schedule_soc=(0.35,)), site=1, soc_required=0.6, source="loader"))
    again = fleet_from_mappings([e.to_mapping() for e in fleet])
    assert again == fleet


@pytest.mark.seed_sensitive
def test_sources_are_registered_and_iid_has_no_identity():
    assert {"thesis", "iid"} <= set(FLEET_SOURCES)
    iid = FLEET_SOURCES["iid"](4, 1, np.random.default_rng(0))
    assert len({e.pattern.arrival_mean_h for e in iid}) == 1
    own = FLEET_SOURCES["thesis"](4, 1, np.random.default_rng(0))
    assert len({e.pattern.arrival_mean_h for e in own}) == 4
