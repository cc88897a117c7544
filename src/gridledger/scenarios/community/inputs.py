"""A community day's inputs: where the prosumers' profiles come from, and the network they sit on.

Profiles (``profiles``), each a day of kWh per slot and prosumer (:class:`DayProfiles`):

- ``synthetic``: daily totals drawn from the configured distribution (thesis 3.4.4), spread
  over 48 half hours by the synthetic Ausgrid shapes where a feeder needs slots;
- ``ausgrid``: the first N customers of an Ausgrid-format file (the shipped synthetic sample by
  default), half-hourly;
- ``citylearn``: the first N measured CityLearn 2022 homes, hourly (the shipped subset unless a
  directory or ``$GRIDLEDGER_DATA`` is given);
- ``simbench``: the loads of a simbench LV grid with its standard profiles, quarter-hourly, on
  that grid;
- ``forecast``: the stacked LSTM's day-ahead forecasts (the thesis's flow, section 3.2, Fig.
  3.4), trained on the history before the first forecast day unless a model is given; the
  history is an Ausgrid-format file or a CityLearn directory (synthetic by default).

One day alone: by default the day whose number of sellers (production > consumption) is
closest to N/2 for homes (the thesis's walk-through has five sellers and five buyers, section
3.4.1; a day of only sellers or only buyers has nothing to trade), the day with the most
sellers for an Ausgrid file, the day after the history for forecasts. A series of days
(:func:`day_inputs`) takes consecutive days from ``day`` (default the first), forecasts each
day from the actual days before it, and keeps each prosumer where it is.

Networks (``network``): "ieee14", the thesis's grid (prosumers at random positions in the 20 km
x 20 km area, loss model as configured); "ieee-eu-lv" or a simbench LV code: prosumers on the
feeder's loads (:func:`gridledger.grid.feeders.place_prosumers`), distances from the buses'
coordinates, loss fractions from the feeder's AC power flow per slot (``powerflow`` or
``feeder``: :func:`gridledger.grid.feeders.feeder_loss_fractions`) or eq. (3.11) on the
feeder's distances (``distance``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gridledger.data.records import HomeSeries
from gridledger.errors import ConfigError
from gridledger.grid.feeders import (
    Feeder,
    feeder_community_grid,
    feeder_loss_fractions,
    place_prosumers,
    prosumer_phases,
)
from gridledger.grid.losses import loss_fractions
from gridledger.params import check_choice, check_int
from gridledger.progress import SILENT, Reporter
from gridledger.scenarios.community.run import CommunityConfig, CommunityInput, DayInputs, synthetic_input

IEEE14 = "ieee14"
SIMBENCH_DEFAULT = "1-LV-rural1--0-sw"
PROFILE_SOURCES = ("synthetic", "ausgrid", "citylearn", "simbench", "forecast")
SAMPLE = "ausgrid_synthetic_sample.csv"
FORECAST_HISTORY_DAYS = 120
"""Days of synthetic history the forecaster trains on when no data is given."""


def sample_path() -> Path:
    """The shipped synthetic sample in the Ausgrid format."""
    return Path(str(resources.files("gridledger.data").joinpath("samples").joinpath(SAMPLE)))


@dataclass(frozen=True)
class DayProfiles:
    """N prosumers' energy over one day, kWh per slot ((N, T) arrays; T equal slots from midnight)."""

    generation_kwh: NDArray[np.float64]
    consumption_kwh: NDArray[np.float64]
    labels: tuple[str, ...] = ()
    source: str = ""
    """One line naming the data ("" for synthetic draws)."""

    @property
    def slot_hours(self) -> float:
        return 24.0 / self.generation_kwh.shape[1]

    @property
    def production_kwh(self) -> NDArray[np.float64]:
        return self.generation_kwh.sum(axis=1)

    @property
    def demand_kwh(self) -> NDArray[np.float64]:
        return self.consumption_kwh.sum(axis=1)


def spread_over_slots(production_kwh: NDArray[np.float64], consumption_kwh: NDArray[np.float64], slots: int = 48,
                      day_of_year: int = 15, weekend: bool = False) -> tuple[NDArray[np.float64],
                                                                              NDArray[np.float64]]:
    """(generation_kw, consumption_kw) per slot from daily totals, shaped like the synthetic Ausgrid
    data (solar between 7:30 and 17:00, morning and evening consumption peaks)."""
    from gridledger.data.synthetic import _consumption_shape, _solar_shape

    if slots < 1 or 48 % slots:
        raise ConfigError("slots", f"must divide 48 (got {slots})")
    sol = _solar_shape(np.array([float(day_of_year)]))[0].reshape(slots, -1).sum(axis=1)
    con = _consumption_shape(np.array([weekend]))[0].reshape(slots, -1).sum(axis=1)
    hours = 24.0 / slots
    gen = np.asarray(production_kwh)[:, None] * (sol / sol.sum())[None, :] / hours
    cons = np.asarray(consumption_kwh)[:, None] * (con / con.sum())[None, :] / hours
    return gen, cons


def balanced_day(production: np.ndarray, consumption: np.ndarray) -> int:
    """Index of the day whose number of sellers is closest to half the prosumers (earliest on ties)."""
    sellers = (production > consumption).sum(axis=0)
    return int(np.argmin(np.abs(sellers - production.shape[0] / 2)))


def most_sellers_day(production: np.ndarray, consumption: np.ndarray) -> int:
    """Index of the day with the most sellers (earliest on ties)."""
    return int(np.argmax((production > consumption).sum(axis=0)))


# ---------------------------------------------------------------------------------------- networks


def feeder_input(config: CommunityConfig, feeder: Feeder, profiles: DayProfiles,
                 buses: NDArray[np.int64] | None = None, phases: NDArray[np.int64] | None = None,
                 three_phase: bool | None = None) -> CommunityInput:
    """Prosumers with these profiles on the feeder's loads (or at ``buses``, on ``phases``): loss
    fractions from the feeder's AC power flow per slot (models ``powerflow`` and ``feeder``) or
    eq. (3.11) on the feeder's distances (``distance``)."""
    n = len(profiles.generation_kwh)
    buses = place_prosumers(feeder, n) if buses is None else np.asarray(buses, dtype=np.int64)
    if len(buses) != n:
        raise ConfigError("prosumer_buses", f"must have {n} buses (got {len(buses)})")
    grid = feeder_community_grid(feeder, buses)
    losses = None
    if config.loss.model == "distance":
        f = loss_fractions(grid, config.loss)
    else:
        h = profiles.slot_hours
        losses = feeder_loss_fractions(feeder, buses, profiles.generation_kwh / h, profiles.consumption_kwh / h, h,
                                       three_phase=three_phase,
                                       phases=prosumer_phases(feeder, n) if phases is None else phases)
        f = losses.fractions
    source = f"{profiles.source or 'synthetic draws'}; network {feeder.name}"
    return CommunityInput(profiles.production_kwh, profiles.demand_kwh, grid.positions_km, profiles.labels, source,
                          grid, f, losses)


def on_network(config: CommunityConfig, profiles: DayProfiles, feeder: Feeder | None,
               positions_km: NDArray[np.float64]) -> CommunityInput:
    """The day on the IEEE 14-bus community (``feeder`` None: at ``positions_km``) or on a feeder."""
    if feeder is None:
        return CommunityInput(profiles.production_kwh, profiles.demand_kwh, positions_km, profiles.labels,
                              profiles.source)
    return feeder_input(config, feeder, profiles)


def _feeder(network: str) -> Feeder | None:
    if network == IEEE14:
        return None
    from gridledger.data.networks import feeder_by_name

    return feeder_by_name(network)


def _positions(config: CommunityConfig, rng: np.random.Generator) -> NDArray[np.float64]:
    return rng.uniform(0, config.loss.area_km, size=(config.prosumers, 2))


# ------------------------------------------------------------------------------------- data sources


@dataclass(frozen=True)
class _Days:
    """Days of per-slot data for the first N prosumers of a dataset."""

    generation_kwh: NDArray[np.float64]     # (N, D, T)
    consumption_kwh: NDArray[np.float64]
    dates: tuple[Any, ...]
    names: tuple[str, ...]
    source: str
    label: Any                              # (name, date) -> label

    def first_day(self, day: int | None, days: int, default: Any) -> int:
        n_days = len(self.dates)
        if days > n_days:
            raise ConfigError("days", f"the data has {n_days} days (asked for {days})")
        if day is None:
            day = default(self.generation_kwh.sum(axis=2), self.consumption_kwh.sum(axis=2)) if days == 1 else 0
        if not 0 <= day <= n_days - days:
            span = f" for {days} days" if days > 1 else ""
            raise ConfigError("day", f"must be in [0, {n_days - days}]{span} (days in the data: {self.dates[0]} to "
                              f"{self.dates[-1]})")
        return day

    def day(self, k: int) -> DayProfiles:
        date = self.dates[k]
        return DayProfiles(self.generation_kwh[:, k].copy(), self.consumption_kwh[:, k].copy(),
                           tuple(self.label(h, date) for h in self.names), f"{self.source}, day {k} = {date}")


def _homes_days(homes: HomeSeries, n: int) -> _Days:
    if n > homes.n_homes:
        raise ConfigError("prosumers", f"the data has {homes.n_homes} homes (asked for {n})")
    kind = "measured" if homes.measured else ("SYNTHETIC" if homes.synthetic else "standard profiles")
    return _Days(homes.generation_kwh[:n], homes.consumption_kwh[:n], homes.dates, homes.homes[:n],
                 f"{homes.source} ({kind})", lambda h, d: f"{h}, {d}")


def _ausgrid_days(path: str | Path | None, n: int) -> _Days:
    from gridledger.data.ausgrid import load_ausgrid

    data = load_ausgrid(path or sample_path())
    ids, dates, _, _ = data.daily_totals()
    if n > len(ids):
        raise ConfigError("prosumers", f"the file has {len(ids)} customers with common days (asked for {n})")
    if not dates:
        raise ConfigError("day", "the file has no day common to every customer")
    gen, cons = [], []
    for c in ids[:n]:
        cs = data.customers[c]
        pos = [cs.days.index(d) for d in dates]
        gen.append(cs.generation()[pos])
        cons.append(cs.consumption()[pos])
    return _Days(np.array(gen, dtype=float), np.array(cons, dtype=float), tuple(dates), tuple(str(c) for c in ids[:n]),
                 data.title, lambda c, d: f"customer {c}, {d:%d/%m/%Y}")


def _citylearn_days(data: str | Path | None, n: int) -> _Days:
    from gridledger.data.citylearn import load_citylearn
    from gridledger.data.sources import CITYLEARN, locate

    loc = locate(CITYLEARN, data)
    days = _homes_days(load_citylearn(loc.path).homes, n)
    return dataclasses.replace(days, source=days.source + (" [shipped subset]" if loc.subset else ""))


def _simbench(network: str) -> tuple[Feeder, HomeSeries]:
    from gridledger.data.networks import IEEE_EU_LV, simbench_feeder, simbench_profiles

    if network == IEEE_EU_LV:
        raise ConfigError("network", "the IEEE European LV feeder has no profiles; give a simbench LV code")
    feeder = simbench_feeder(SIMBENCH_DEFAULT if network == IEEE14 else network)
    return feeder, simbench_profiles(feeder)


def homes_input(config: CommunityConfig, rng: np.random.Generator, homes: HomeSeries, day: int | None = None,
                network: str = IEEE14, feeder: Feeder | None = None) -> CommunityInput:
    """The first N homes on day ``day`` (index; default: the most balanced day), on ``network``
    (``feeder``: that feeder, already loaded)."""
    days = _homes_days(homes, config.prosumers)
    profiles = days.day(days.first_day(day, 1, balanced_day))
    if feeder is None and network != IEEE14:
        feeder = _feeder(network)
    return on_network(config, profiles, feeder, _positions(config, rng))


def citylearn_input(config: CommunityConfig, rng: np.random.Generator, data: str | Path | None = None,
                    day: int | None = None, network: str = IEEE14) -> CommunityInput:
    """CityLearn 2022 homes (``data``: a CityLearn directory; default ``$GRIDLEDGER_DATA`` or the
    shipped subset)."""
    return day_inputs("citylearn", config, rng, 1, data, day, network=network)(0, rng)


def simbench_input(config: CommunityConfig, rng: np.random.Generator, code: str = SIMBENCH_DEFAULT,
                   day: int | None = None) -> CommunityInput:
    """The loads of a simbench LV grid with their own standard profiles, on that grid."""
    return day_inputs("simbench", config, rng, 1, None, day, network=code)(0, rng)


def ausgrid_input(config: CommunityConfig, rng: np.random.Generator, path: str | Path | None = None,
                  day_index: int | None = None) -> CommunityInput:
    """Daily production/consumption of the first N customers of an Ausgrid-format file on one
    day (the shipped synthetic sample by default; by default the day with the most sellers, as
    the thesis's walk-through has both sellers and buyers); positions drawn in the area."""
    return day_inputs("ausgrid", config, rng, 1, path, day_index)(0, rng)


def citylearn_day_price(data: str | Path | None, date: str) -> tuple[float, str]:
    """Mean of CityLearn's time-of-use tariff over a day (money per kWh, currency): the value of a
    kWh saved that day (``price_per_kwh``, eqs. 3.17 and 3.22) instead of the fixed default."""
    import datetime as dt

    from gridledger.data.citylearn import load_citylearn
    from gridledger.data.sources import CITYLEARN, locate

    tariff = load_citylearn(locate(CITYLEARN, data).path).tariff
    return float(np.mean(tariff.day_vector(dt.date.fromisoformat(date)))), tariff.currency


# ----------------------------------------------------------------------------------------- a series


def _forecast_days(config: CommunityConfig, rng: np.random.Generator, days: int, data: str | Path | None,
                   forecast_model: str | Path | None, reporter: Reporter) -> tuple[Any, int]:
    """Per-day forecasts: a function of the day index, and the index of the first forecast day."""
    from gridledger.data.synthetic import synthetic_ausgrid
    from gridledger.forecast.dataset import SeriesData, from_ausgrid
    from gridledger.forecast.model import ForecastConfig
    from gridledger.forecast.model import load as load_model
    from gridledger.scenarios.forecast import SYNTHETIC_START, forecast_days, load_series, train

    n = config.prosumers
    seed = int(rng.integers(2**31))
    if data is None:
        series = from_ausgrid(synthetic_ausgrid(n, FORECAST_HISTORY_DAYS + days - 1, np.random.default_rng(seed),
                                                start=SYNTHETIC_START))
    else:
        series = load_series(data)
    if n > len(series.customers):
        raise ConfigError("prosumers", f"the data has {len(series.customers)} customers (asked for {n})")
    first = series.n_days - days + 1          # the last forecast day is the day after the data
    if forecast_model is not None:
        path = Path(forecast_model)
        model = load_model(path / "model" if (path / "model" / "forecaster.json").exists() else path)
        if model.slots != series.slots:
            raise ConfigError("forecast_model", f"the model forecasts {model.slots} intervals a day; the data has "
                              f"{series.slots}")
    else:
        if first < 3:
            raise ConfigError("days", f"the history has {series.n_days} days: too few to train on before {days} "
                              "forecast days")
        past = SeriesData(series.values[:, :first], series.dates[:first], series.customers, series.synthetic,
                          series.source)
        model, _ = train(past, ForecastConfig(epochs=40, patience=8, lr=3e-3), seed, reporter=reporter)
    customers = list(series.customers[:n])
    kind = "SYNTHETIC " if series.synthetic else ""

    def forecast(t: int) -> DayProfiles:
        k = first + t
        fc, dates = forecast_days(model, series, k, 1, customers)
        day = np.clip(np.asarray(fc[:, 0], dtype=np.float64), 0.0, None)      # (N, slots, [consumption, generation])
        note = (f"day-ahead LSTM forecast for {dates[0]} from {kind}history {series.dates[0]}..{series.dates[k - 1]}"
                f" ({series.source or 'synthetic Ausgrid-format data'})")
        return DayProfiles(day[:, :, 1], day[:, :, 0], tuple(f"{c}, forecast for {dates[0]}" for c in customers),
                           note)

    return forecast, first


def day_inputs(profiles: str, config: CommunityConfig, rng: np.random.Generator, days: int = 1,
               data: str | Path | None = None, day: int | None = None, forecast_model: str | Path | None = None,
               network: str = IEEE14, reporter: Reporter = SILENT) -> DayInputs:
    """The inputs of day t (0, 1, ...) of a run of ``days`` days, as a function of t (and of a
    generator, for synthetic draws): see the module docstring for the sources and networks.

    Everything that does not change from day to day (the data, the feeder, the trained
    forecaster, the prosumers' positions) is loaded or drawn here, once; a user mistake (an
    unknown network, a day outside the data, too many prosumers) is reported here too.
    """
    check_choice("profiles", profiles, PROFILE_SOURCES)
    check_int("days", days, ge=1, le=3650)
    n = config.prosumers
    if profiles == "simbench":
        if data is not None:
            raise ConfigError("data", "--profiles simbench reads its grid from the simbench package (no --data)")
        feeder, homes = _simbench(network)
    else:
        feeder = _feeder(network)
    positions = _positions(config, rng)
    if profiles == "synthetic":
        def synthetic(t: int, r: np.random.Generator) -> CommunityInput:
            drawn = synthetic_input(config, r, positions)
            if feeder is None:
                return drawn
            gen_kw, cons_kw = spread_over_slots(drawn.production_kwh, drawn.consumption_kwh)
            return feeder_input(config, feeder, DayProfiles(gen_kw * 0.5, cons_kw * 0.5))

        return synthetic
    if profiles == "forecast":
        forecast, _ = _forecast_days(config, rng, days, data, forecast_model, reporter)
        return lambda t, r: on_network(config, forecast(t), feeder, positions)
    if profiles == "ausgrid":
        source, default = _ausgrid_days(data, n), most_sellers_day
    elif profiles == "citylearn":
        source, default = _citylearn_days(data, n), balanced_day
    else:
        source, default = _homes_days(homes, n), balanced_day
    first = source.first_day(day, days, default)
    return lambda t, r: on_network(config, source.day(first + t), feeder, positions)
