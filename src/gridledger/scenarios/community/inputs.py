"""A community day's inputs from real data: measured homes (CityLearn 2022), simbench's standard
profiles on their own LV grid, on the IEEE 14-bus network of the thesis or on a distribution
feeder.

- :func:`homes_input`: the first N homes of a :class:`~gridledger.data.records.HomeSeries` on
  one day (daily totals, kWh). By default the day whose number of sellers (production >
  consumption) is closest to N/2: the thesis's walk-through has five sellers and five buyers
  (section 3.4.1), and a day of only sellers or only buyers has nothing to trade.
- Networks (``network``): "ieee14" (the thesis's grid: prosumers at random positions in the
  20 km x 20 km area, loss model as configured), "ieee-eu-lv" or a simbench LV code: prosumers
  on the feeder's load buses (round-robin when there are more prosumers than loads), distances
  from the buses' coordinates, and loss fractions from the feeder's AC power flow at the day's
  mean injections (``loss.model = "powerflow"``, :mod:`gridledger.grid.feeders`) or eq. (3.11)
  on the feeder's distances (``"distance"``; on a feeder of a few hundred metres every transfer
  then sits at the 1.8% floor).
- :func:`citylearn_input`, :func:`simbench_input`: the same from the named datasets (the shipped
  CityLearn subset unless a directory is given).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gridledger.data.records import HomeSeries
from gridledger.errors import ConfigError
from gridledger.grid.feeders import Feeder, feeder_community_grid, feeder_loss_fractions, place_prosumers
from gridledger.grid.losses import distance_loss_fractions
from gridledger.scenarios.community.run import CommunityConfig, CommunityInput

IEEE14 = "ieee14"


def balanced_day(production: np.ndarray, consumption: np.ndarray) -> int:
    """Index of the day whose number of sellers is closest to half the prosumers (earliest on ties)."""
    sellers = (production > consumption).sum(axis=0)
    return int(np.argmin(np.abs(sellers - production.shape[0] / 2)))


def feeder_input(config: CommunityConfig, feeder: Feeder, production: np.ndarray, consumption: np.ndarray,
                 labels: tuple[str, ...], source: str) -> CommunityInput:
    """Prosumers with these daily totals on the feeder's load buses."""
    buses = place_prosumers(feeder, len(production))
    grid = feeder_community_grid(feeder, buses)
    if config.loss.model == "powerflow":
        f = feeder_loss_fractions(feeder, buses, production, consumption)
    else:
        f = distance_loss_fractions(grid.dist_km, config.loss.c_per_km, config.loss.floor, config.loss.cap)
    return CommunityInput(production, consumption, grid.positions_km, labels,
                          f"{source}; network {feeder.name}", grid, f)


def homes_input(config: CommunityConfig, rng: np.random.Generator, homes: HomeSeries, day: int | None = None,
                network: str = IEEE14, feeder: Feeder | None = None) -> CommunityInput:
    """The first N homes' daily production and consumption on day ``day`` (index; default: the
    most balanced day), on ``network``."""
    n = config.prosumers
    if n > homes.n_homes:
        raise ConfigError("prosumers", f"the data has {homes.n_homes} homes (asked for {n})")
    prod, cons = homes.daily_totals()
    prod, cons = prod[:n], cons[:n]
    if day is None:
        day = balanced_day(prod, cons)
    if not 0 <= day < homes.n_days:
        raise ConfigError("day", f"must be in [0, {homes.n_days - 1}] (days in the data: {homes.dates[0]} to "
                          f"{homes.dates[-1]})")
    date = homes.dates[day]
    labels = tuple(f"{h}, {date}" for h in homes.homes[:n])
    kind = "measured" if homes.measured else ("SYNTHETIC" if homes.synthetic else "standard profiles")
    source = f"{homes.source} ({kind}), day {day} = {date}"
    p, c = prod[:, day].copy(), cons[:, day].copy()
    if network == IEEE14:
        pos = rng.uniform(0, config.loss.area_km, size=(n, 2))
        return CommunityInput(p, c, pos, labels, source)
    if feeder is None:
        from gridledger.data.networks import feeder_by_name

        feeder = feeder_by_name(network)
    return feeder_input(config, feeder, p, c, labels, source)


def citylearn_input(config: CommunityConfig, rng: np.random.Generator, data: str | Path | None = None,
                    day: int | None = None, network: str = IEEE14) -> CommunityInput:
    """CityLearn 2022 homes (``data``: a CityLearn directory; default ``$GRIDLEDGER_DATA`` or the
    shipped subset)."""
    from gridledger.data.citylearn import load_citylearn
    from gridledger.data.sources import CITYLEARN, locate

    loc = locate(CITYLEARN, data)
    homes = load_citylearn(loc.path).homes
    inputs = homes_input(config, rng, homes, day, network)
    label = " [shipped subset]" if loc.subset else ""
    return CommunityInput(inputs.production_kwh, inputs.consumption_kwh, inputs.positions_km, inputs.labels,
                          inputs.source + label, inputs.grid, inputs.loss_fractions)


def citylearn_day_price(data: str | Path | None, date: str) -> tuple[float, str]:
    """Mean of CityLearn's time-of-use tariff over a day (money per kWh, currency): the value of a
    kWh saved that day (``price_per_kwh``, eqs. 3.17 and 3.22) instead of the fixed default."""
    import datetime as dt

    from gridledger.data.citylearn import load_citylearn
    from gridledger.data.sources import CITYLEARN, locate

    tariff = load_citylearn(locate(CITYLEARN, data).path).tariff
    return float(np.mean(tariff.day_vector(dt.date.fromisoformat(date)))), tariff.currency


def simbench_input(config: CommunityConfig, rng: np.random.Generator, code: str = "1-LV-rural1--0-sw",
                   day: int | None = None) -> CommunityInput:
    """The loads of a simbench LV grid with their own standard profiles, on that grid."""
    from gridledger.data.networks import simbench_feeder, simbench_profiles

    feeder = simbench_feeder(code)
    return homes_input(config, rng, simbench_profiles(feeder), day, code, feeder)
