"""EVs with identities, their days and the grid's prices: the record types every fleet source
produces, and the sources (thesis Table 4.1 / section 4.4.1, real Dutch EVs, CityLearn 2022).

A fleet is a tuple of :class:`EVProfile` records. Each EV keeps, from day to day,

- its **model** (:class:`EVModel`): usable battery ``battery_kwh`` and the AC power it can
  charge (``charge_kw``) and discharge (``discharge_kw``) at, with optional efficiencies;
- its **commuting pattern** (:class:`CommutePattern`): the distributions of its arrival hour,
  departure hour and arrival SOC at the site, or a fixed cyclic ``schedule`` of days (what a
  charger log such as CityLearn's gives), and the probability that it comes on a given day;
- its **site** (the parking facility it trades at) and the SOC it needs when it leaves
  (``soc_required``; range-anxiety violations are departures below it).

Fleet sources (:data:`FLEET_SOURCES`, ``federation.fleet``, ``v2v train --fleet``):

- ``thesis``: every EV the thesis's 42 kWh RAV4, with its own pattern drawn so that pooled over
  EVs and days Table 4.1 / section 4.4.1 holds (generated); ``iid``: the same without identities;
- ``real``: real bidirectional-capable models drawn by their Dutch registrations, each EV with
  its own habitual session drawn from ElaadNL's statistics (:func:`real_fleet`);
- ``citylearn``: CityLearn 2022's EVs, each replaying its own (generated) charger schedule with
  its charger's powers and the dataset's required departure SOC (:func:`citylearn_fleet`).

A source is a function ``(n, sites, rng, **options) -> tuple[EVProfile, ...]``; the options are
``data``, ``soc_min``, ``soc_max``, ``soc_required``, ``day_start_h`` and ``real``
(:class:`RealDataConfig`); a source ignores those it does not use. :func:`sample_fleet_days`
draws the days of a fleet (arrival, departure, SOC per EV and day).

Grid price sources (:data:`PRICE_SOURCES`, ``env.price_source``) give a :class:`PriceDays`, one
row of 24 hourly selling prices per day: ``tou`` (Table 4.1 / section 4.4.1 time-of-use
draws), ``day-ahead`` (the Dutch day-ahead market of a drawn weekday, EUR/kWh) and ``citylearn``
(CityLearn's tariff of a drawn day, USD/kWh).

A site's day covers 24 hours from ``day_start_h`` (0: midnight, the thesis's daytime parking
lot; 12: noon, for home charging whose stays cross midnight). Hours in patterns, days and price
rows count from that start; the time-of-use period of an hour is that of its clock hour.

Units: kWh, kW (energy per hour: a step is one hour), hours 0-24, SOC as a fraction of
``battery_kwh``, prices in currency per kWh.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gridledger.data.records import SITES, ChargingStats, EVModels, EVSchedules, PriceSeries
from gridledger.data.sources import CITYLEARN, EV_NL, locate
from gridledger.errors import ConfigError
from gridledger.params import check_choice, check_int, check_number

OFF, MID, ON = 0, 1, 2
PRICE_SCALES: dict[str, tuple[tuple[float, float], ...]] = {
    # (mean, sd) of the off-, mid- and on-peak grid price.
    "section-4.4.1": ((0.82, 0.1), (1.13, 0.1), (1.7, 0.1)),
    "table-4.1": ((6.8, 2.6), (10.0, 1.5), (12.9, 2.0)),
}


def tou_period(hour: NDArray[np.int64] | int) -> NDArray[np.int64]:
    """Ontario time-of-use period of each clock hour: on-peak 7-11 and 17-19, mid-peak 11-17, else off-peak.

    Table 4.1 prints on-peak as "1am - 11am", which overlaps off-peak; this is the schedule the
    thesis cites (docs/decisions.md).
    """
    h = np.asarray(hour) % 24
    on = ((h >= 7) & (h < 11)) | ((h >= 17) & (h < 19))
    mid = (h >= 11) & (h < 17)
    return np.where(on, ON, np.where(mid, MID, OFF))


@dataclass(frozen=True)
class EVModel:
    """A vehicle model as the fleet uses it: battery and AC charger limits."""

    name: str = "Toyota RAV4 (thesis Table 4.1)"
    battery_kwh: float = 42.0
    """Usable battery capacity E (Table 4.1: 42 kWh)."""
    charge_kw: float = 7.2
    """E_max^ch: grid-side energy the EV can take in an hour (not in the thesis; a level-2 charger)."""
    discharge_kw: float = 7.2
    """E_max^dis: grid-side energy the EV can give in an hour."""
    charge_efficiency: float = 1.0
    """Battery energy gained per kWh taken from the charger (the thesis is lossless)."""
    discharge_efficiency: float = 1.0
    """kWh delivered per kWh taken from the battery."""

    def __post_init__(self) -> None:
        check_number("battery_kwh", self.battery_kwh, gt=0, le=1000)
        check_number("charge_kw", self.charge_kw, gt=0, le=1000)
        check_number("discharge_kw", self.discharge_kw, gt=0, le=1000)
        check_number("charge_efficiency", self.charge_efficiency, gt=0, le=1)
        check_number("discharge_efficiency", self.discharge_efficiency, gt=0, le=1)


@dataclass(frozen=True)
class CommutePattern:
    """When an EV is at its site, and how full it arrives (hours from the start of the site's day).

    Drawn per day: arrival ~ N(arrival_mean_h, arrival_sd_h) rounded to the hour and clipped to
    ``arrival_range_h``; departure likewise; arrival SOC ~ N(soc_mean, soc_sd) clipped to
    ``soc_range``. ``distribution = "uniform"`` draws uniforms with the same means and standard
    deviations (the thesis's UD data, section 4.4.6). A non-empty schedule (three equally long
    tuples ``schedule_arrival_h``, ``schedule_departure_h``, ``schedule_soc``: one entry per
    logged day) replaces the draws and is used cyclically.
    """

    arrival_mean_h: float = 7.0
    arrival_sd_h: float = 1.0
    departure_mean_h: float = 18.0
    departure_sd_h: float = 1.0
    soc_mean: float = 0.5
    soc_sd: float = 0.1
    arrival_range_h: tuple[int, int] = (4, 10)
    """Table 4.1: 4 <= t_a <= 10."""
    departure_range_h: tuple[int, int] = (8, 22)
    """Table 4.1: 8 <= t_d <= 22."""
    soc_range: tuple[float, float] = (0.4, 0.9)
    """Table 4.1: 0.4 <= SOC <= 0.9."""
    distribution: str = "normal"
    presence: float = 1.0
    """Probability that the EV comes to its site on a given day."""
    schedule_arrival_h: tuple[int, ...] = ()
    schedule_departure_h: tuple[int, ...] = ()
    schedule_soc: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        check_number("arrival_mean_h", self.arrival_mean_h, ge=0, le=24)
        check_number("arrival_sd_h", self.arrival_sd_h, ge=0, le=24)
        check_number("departure_mean_h", self.departure_mean_h, ge=0, le=24)
        check_number("departure_sd_h", self.departure_sd_h, ge=0, le=24)
        check_number("soc_mean", self.soc_mean, ge=0, le=1)
        check_number("soc_sd", self.soc_sd, ge=0, le=1)
        lo, hi = self.arrival_range_h
        check_int("arrival_range_h[0]", lo, ge=0, le=23)
        check_int("arrival_range_h[1]", hi, ge=lo, le=23)
        lo, hi = self.departure_range_h
        check_int("departure_range_h[0]", lo, ge=1, le=24)
        check_int("departure_range_h[1]", hi, ge=lo, le=24)
        check_number("soc_range[0]", self.soc_range[0], ge=0, le=1)
        check_number("soc_range[1]", self.soc_range[1], ge=self.soc_range[0], le=1)
        check_choice("distribution", self.distribution, ("normal", "uniform"))
        check_number("presence", self.presence, ge=0, le=1)
        k = len(self.schedule_arrival_h)
        if len(self.schedule_departure_h) != k or len(self.schedule_soc) != k:
            raise ConfigError("schedule_departure_h", "schedule_arrival_h, schedule_departure_h and schedule_soc "
                              "must have the same length")
        for j, (a, d, s) in enumerate(self.schedule):
            check_int(f"schedule_arrival_h[{j}]", a, ge=0, le=23)
            check_int(f"schedule_departure_h[{j}]", d, ge=a + 1, le=24)
            check_number(f"schedule_soc[{j}]", s, ge=0, le=1)

    @property
    def schedule(self) -> list[tuple[int, int, float]]:
        return list(zip(self.schedule_arrival_h, self.schedule_departure_h, self.schedule_soc, strict=True))


@dataclass(frozen=True)
class EVProfile:
    """One EV's identity: model, commuting pattern, site, required departure SOC."""

    ev_id: str
    model: EVModel = field(default_factory=EVModel)
    pattern: CommutePattern = field(default_factory=CommutePattern)
    site: int = 0
    """Index of the parking facility (EVs at the same site in the same hour trade with each other)."""
    soc_required: float = 0.5
    """SOC the driver needs at departure; leaving below it is a range-anxiety violation (our choice)."""
    source: str = "synthetic"
    """Where the record comes from (``synthetic``, or the name of a data set)."""

    def __post_init__(self) -> None:
        if not self.ev_id:
            raise ConfigError("ev_id", "must be a non-empty string")
        check_int("site", self.site, ge=0, le=1_000_000)
        check_number("soc_required", self.soc_required, ge=0, le=1)

    def to_mapping(self) -> dict[str, Any]:
        from gridledger.params import to_mapping

        return to_mapping(self)


def fleet_from_mappings(items: list[dict[str, Any]]) -> tuple[EVProfile, ...]:
    """Rebuild a fleet from :meth:`EVProfile.to_mapping` dicts (as saved with a model)."""
    from gridledger.params import from_mapping

    return tuple(from_mapping(EVProfile, m, prefix=f"fleet[{i}].") for i, m in enumerate(items))


@dataclass(frozen=True)
class FleetDays:
    """Days of a fleet: arrays of shape (evs, days). An EV absent on a day has arrival = departure = 0."""

    arrival_h: NDArray[np.int64]
    departure_h: NDArray[np.int64]
    soc0: NDArray[np.float64]

    @property
    def shape(self) -> tuple[int, int]:
        return self.arrival_h.shape  # type: ignore[return-value]

    def columns(self, idx: NDArray[np.int64] | slice) -> FleetDays:
        return FleetDays(self.arrival_h[:, idx], self.departure_h[:, idx], self.soc0[:, idx])


@dataclass(frozen=True)
class PriceDays:
    """The grid's selling price p_Gsell per day and hour, shape (days, 24), currency per kWh.

    Column k is the hour ``start_h + k`` of the day (clock hour modulo 24). ``off_peak`` is the
    day's reference price lambda_off of eqs. (4.3)-(4.4) (mean over the off-peak hours); the
    price factor of hour t is delta_t = (p_t - lambda_off) / lambda_off. Real prices carry the
    ``dates`` of their rows (ISO), the ``currency`` and the ``source``; wholesale prices can be
    negative.
    """

    grid_sell: NDArray[np.float64]
    start_h: int = 0
    dates: tuple[str, ...] = ()
    currency: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if self.grid_sell.ndim != 2 or self.grid_sell.shape[1] != 24:
            raise ConfigError("grid_sell", f"must have shape (days, 24) (got {self.grid_sell.shape})")
        if not np.all(np.isfinite(self.grid_sell)):
            raise ConfigError("grid_sell", "prices must be finite")
        check_int("start_h", self.start_h, ge=0, le=23)
        if self.dates and len(self.dates) != self.grid_sell.shape[0]:
            raise ConfigError("dates", f"must give one date per row ({self.grid_sell.shape[0]}, got {len(self.dates)})")

    @property
    def periods(self) -> NDArray[np.int64]:
        """Time-of-use period of each column."""
        return tou_period(np.arange(24) + self.start_h)

    @property
    def off_peak(self) -> NDArray[np.float64]:
        return self.grid_sell[:, self.periods == OFF].mean(axis=1)

    @property
    def on_peak(self) -> NDArray[np.float64]:
        return self.grid_sell[:, self.periods == ON].mean(axis=1)

    def rows(self, idx: NDArray[np.int64] | slice) -> PriceDays:
        dates = tuple(np.asarray(self.dates, dtype=object)[idx]) if self.dates else ()
        return PriceDays(self.grid_sell[idx], self.start_h, dates, self.currency, self.source)


def _draw(rng: np.random.Generator, mean: NDArray[np.float64] | float, sd: NDArray[np.float64] | float,
          shape: tuple[int, ...], uniform: bool) -> NDArray[np.float64]:
    if uniform:
        half = np.sqrt(3.0) * np.asarray(sd)
        return rng.uniform(np.asarray(mean) - half, np.asarray(mean) + half, shape)
    return rng.normal(mean, sd, shape)


def sample_fleet_days(fleet: tuple[EVProfile, ...], days: int, rng: np.random.Generator) -> FleetDays:
    """Draw ``days`` days for every EV from its own pattern (each pattern's ranges kept).

    EVs with drawn patterns are sampled together (vectorised); EVs with a schedule replay it from
    a random starting day.
    """
    n = len(fleet)
    arr = np.zeros((n, days), dtype=np.int64)
    dep = np.zeros((n, days), dtype=np.int64)
    soc = np.zeros((n, days))
    pats = [ev.pattern for ev in fleet]
    drawn = np.array([not p.schedule_arrival_h for p in pats], dtype=bool)
    for uniform in (False, True):
        idx = np.flatnonzero(drawn & np.array([(p.distribution == "uniform") == uniform for p in pats], dtype=bool))
        if len(idx) == 0:
            continue
        col = lambda f, idx=idx: np.array([f(pats[i]) for i in idx], dtype=float)[:, None]  # noqa: E731
        a = np.rint(_draw(rng, col(lambda p: p.arrival_mean_h), col(lambda p: p.arrival_sd_h), (len(idx), days),
                          uniform))
        a = np.clip(a, col(lambda p: p.arrival_range_h[0]), col(lambda p: p.arrival_range_h[1])).astype(np.int64)
        d = np.rint(_draw(rng, col(lambda p: p.departure_mean_h), col(lambda p: p.departure_sd_h),
                          (len(idx), days), uniform))
        d = np.clip(d, col(lambda p: p.departure_range_h[0]), col(lambda p: p.departure_range_h[1])).astype(np.int64)
        arr[idx] = a
        dep[idx] = np.minimum(np.maximum(d, a + 1), 24)
        soc[idx] = np.clip(_draw(rng, col(lambda p: p.soc_mean), col(lambda p: p.soc_sd), (len(idx), days), uniform),
                           col(lambda p: p.soc_range[0]), col(lambda p: p.soc_range[1]))
    for i in np.flatnonzero(~drawn):
        sched = pats[i].schedule
        start = int(rng.integers(len(sched)))
        rows = [sched[(start + k) % len(sched)] for k in range(days)]
        arr[i] = [r[0] for r in rows]
        dep[i] = [r[1] for r in rows]
        soc[i] = [r[2] for r in rows]
    presence = np.array([p.presence for p in pats])
    if np.any(presence < 1.0):
        away = rng.random((n, days)) >= presence[:, None]
        arr[away] = 0
        dep[away] = 0
    return FleetDays(arr, dep, soc)


# -- the thesis's fleet (generated) ---------------------------------------------------------------
def _thesis_clock(day_start_h: int) -> None:
    if day_start_h != 0:
        raise ConfigError("day_start_h", f"must be 0 for the thesis's fleet (Table 4.1 gives clock hours of a "
                          f"daytime parking lot; got {day_start_h})")


def synthetic_fleet(n: int, sites: int = 1, rng: np.random.Generator | None = None, data: str = "nd",
                    between_share: float = 0.64, soc_required: float = 0.5, day_start_h: int = 0,
                    **_: Any) -> tuple[EVProfile, ...]:
    """``n`` EVs with their own commuting patterns, consistent with Table 4.1 / section 4.4.1.

    Every EV is the thesis's 42 kWh RAV4. Each EV's mean arrival, departure and arrival SOC are
    drawn around Table 4.1's means so that, pooled over EVs and days, the draws keep Table 4.1's
    means and standard deviations: a share ``between_share`` of each variance lies between EVs
    (their identities), the rest varies from day to day. EVs go to ``sites`` sites in turn.
    ``data = "ud"`` uses uniform draws with the same moments (section 4.4.6).
    """
    check_int("evs", n, ge=1, le=10_000_000)
    check_int("sites", sites, ge=1, le=n)
    check_choice("data", data, ("nd", "ud"))
    check_number("between_share", between_share, ge=0, le=1)
    _thesis_clock(day_start_h)
    rng = rng if rng is not None else np.random.default_rng(0)
    u = data == "ud"
    b, w = np.sqrt(between_share), np.sqrt(1.0 - between_share)
    arr_m = np.clip(_draw(rng, 7.0, 1.0 * b, (n,), u), 4.0, 10.0)
    dep_m = np.clip(_draw(rng, 18.0, 1.0 * b, (n,), u), 8.0, 22.0)
    soc_m = np.clip(_draw(rng, 0.5, 0.1 * b, (n,), u), 0.4, 0.9)
    dist = "uniform" if u else "normal"
    return tuple(
        EVProfile(ev_id=f"ev{i}", site=i % sites, soc_required=soc_required,
                  pattern=CommutePattern(arrival_mean_h=float(arr_m[i]), arrival_sd_h=1.0 * w,
                                         departure_mean_h=float(dep_m[i]), departure_sd_h=1.0 * w,
                                         soc_mean=float(soc_m[i]), soc_sd=0.1 * w, distribution=dist))
        for i in range(n))


def iid_fleet(n: int, sites: int = 1, rng: np.random.Generator | None = None, data: str = "nd",
              soc_required: float = 0.5, day_start_h: int = 0, **_: Any) -> tuple[EVProfile, ...]:
    """``n`` interchangeable EVs, every day drawn from Table 4.1's distributions (no identity)."""
    return synthetic_fleet(n, sites, rng, data, between_share=0.0, soc_required=soc_required,
                           day_start_h=day_start_h)


# -- real data ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RealDataConfig:
    """Where the real data is and how fleets and prices are drawn from it (table ``env.real``)."""

    site: str = "workplace"
    """ElaadNL site type of the ``real`` fleet: "workplace" (the thesis's parking lot: morning
    arrivals), "private" (home: evening arrivals, overnight; use ``day_start_h = 12``) or "public"."""
    data_dir: str = ""
    """Directory of the dataset (or a root holding ev_nl/ and citylearn_2022/); "" =
    $GRIDLEDGER_DATA or the shipped subset."""
    first_day: str = ""
    """First local date (YYYY-MM-DD) day-ahead price days are drawn from; "" = the first of the data."""
    last_day: str = ""
    """Last local date; "" = the last of the data."""
    max_stay_h: int = 24
    """Longest connection in hours (ElaadNL's tail reaches 72 h; a day at the site is 24)."""
    charger_kw: float = 0.0
    """Cap on charge and discharge power, kW (0: the EV model's AC powers, or CityLearn's charger)."""

    def __post_init__(self) -> None:
        check_choice("site", self.site, SITES)
        check_int("max_stay_h", self.max_stay_h, ge=1, le=24)
        check_number("charger_kw", self.charger_kw, ge=0)
        for name in ("first_day", "last_day"):
            value = getattr(self, name)
            if value:
                try:
                    dt.date.fromisoformat(value)
                except ValueError:
                    raise ConfigError(name, f"must be a date YYYY-MM-DD or empty (got {value!r})") from None


@dataclass(frozen=True)
class _EVData:
    models: EVModels
    stats: ChargingStats
    label: str


@functools.cache
def _ev_data(data_dir: str) -> _EVData:
    from gridledger.data.csvio import find_file
    from gridledger.data.ev_nl import EV_SPECS_V2G, load_charging_stats, load_ev_models

    loc = locate(EV_NL, data_dir or None)
    models = load_ev_models(find_file(loc.path, EV_SPECS_V2G)).bidirectional()
    if not models.models:
        raise ConfigError("data_dir", f"{loc.path} lists no EV model with AC discharge power")
    return _EVData(models, load_charging_stats(loc.path), loc.label)


@dataclass(frozen=True)
class _Prices:
    prices: PriceSeries
    days: tuple[dt.date, ...]
    label: str
    cache: dict[tuple[dt.date, int], NDArray[np.float64]]

    def row(self, day: dt.date, start_h: int) -> NDArray[np.float64]:
        """The 24 hourly prices from ``start_h`` on ``day`` (into the next day when start_h > 0)."""
        if (day, start_h) not in self.cache:
            self.cache[day, start_h] = self.prices.day_vector(day, 48)[start_h:start_h + 24]
        return self.cache[day, start_h]


@functools.cache
def _day_ahead(data_dir: str, first_day: str, last_day: str) -> _Prices:
    from gridledger.data.ev_nl import day_ahead_file, load_day_ahead

    loc = locate(EV_NL, data_dir or None)
    start = dt.date.fromisoformat(first_day) if first_day else None
    end = dt.date.fromisoformat(last_day) if last_day else None
    prices = load_day_ahead(day_ahead_file(loc.path), start, end)
    weekdays = tuple(d for d in prices.days() if d.weekday() < 5)
    if not weekdays:
        raise ConfigError("first_day", f"no weekday with prices between {first_day or 'start'} and {last_day or 'end'}")
    return _Prices(prices, weekdays, loc.label, {})


@dataclass(frozen=True)
class _CityLearn:
    schedules: EVSchedules
    tariff: _Prices
    label: str


@functools.cache
def _citylearn(data_dir: str) -> _CityLearn:
    from gridledger.data.citylearn import load_citylearn, load_citylearn_evs

    loc = locate(CITYLEARN, data_dir or None)
    homes = load_citylearn(loc.path)
    days = tuple(homes.tariff.days()[:-1])  # a day's row may reach into the next day: keep it inside the data
    return _CityLearn(load_citylearn_evs(loc.path, homes.first_time), _Prices(homes.tariff, days, loc.label, {}),
                      loc.label)


def _quantile(table: NDArray[np.float64], u: NDArray[np.float64]) -> NDArray[np.float64]:
    """Value exceeded by u% of sessions (table rows p = 0..100)."""
    return np.interp(u, np.arange(101), table)


def elaad_sessions(rng: np.random.Generator, k: int, stats: ChargingStats, site: str, max_stay_h: int
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """k weekday charging sessions drawn from ElaadNL's statistics at ``site``: (arrival clock time
    h, connection time h, energy kWh).

    The arrival quarter hour is drawn from the weekday arrival shares; the arrival time is its
    midpoint (days drawn around it are rounded to whole hours: the env steps in hours). One
    uniform draw u picks the session's percentile in both percentile tables (a long session is
    also a large one); each value is then scaled by the ratio of ElaadNL's mean for the arrival half hour to the table's
    overall mean (where no mean is published for that half hour, the table's value stands); the
    connection time is kept within [1, max_stay_h].
    """
    s = SITES.index(site)
    p = np.nan_to_num(stats.arrival_weekday_pct[:, s])
    slot = rng.choice(96, size=k, p=p / p.sum())
    arrival = (slot + 0.5) / 4.0
    half = slot // 2
    u = rng.uniform(0.0, 100.0, size=k)
    conn = _quantile(stats.connection_time_h[:, s], u)
    energy = _quantile(stats.energy_kwh[:, s], u)
    conn_mean = float(np.trapezoid(stats.connection_time_h[:, s], dx=0.01))
    energy_mean = float(np.trapezoid(stats.energy_kwh[:, s], dx=0.01))
    m_conn = stats.mean_session_by_arrival_h[half, s]
    m_energy = stats.mean_energy_by_arrival_kwh[half, s]
    conn = np.where(np.isnan(m_conn), conn, conn * m_conn / conn_mean)
    energy = np.where(np.isnan(m_energy), energy, energy * m_energy / energy_mean)
    return arrival, np.clip(conn, 1.0, max_stay_h), energy


def _elaad_habits(rng: np.random.Generator, k: int, src: _EVData, real: RealDataConfig, battery: NDArray[np.float64],
                  soc_min: float, soc_max: float, day_start_h: int) -> NDArray[np.float64]:
    """(k, 3) sessions as (arrival, departure) hours from the day's start and SOC at arrival."""
    a, stay, energy = elaad_sessions(rng, k, src.stats, real.site, real.max_stay_h)
    rel = (a - day_start_h) % 24
    return np.stack([rel, rel + stay, np.clip(soc_max - energy / battery, soc_min, soc_max)], axis=1)


@functools.lru_cache(maxsize=64)
def _elaad_moments(real: RealDataConfig, soc_min: float, soc_max: float,
                   day_start_h: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Pooled means and standard deviations of (arrival, departure, SOC) over ElaadNL sessions with
    models drawn by registrations: 20,000 draws from a fixed stream (a property of the data)."""
    src = _ev_data(real.data_dir)
    rng = np.random.default_rng(0)
    models = src.models
    idx = rng.choice(len(models.models), size=20_000, p=models.shares())
    battery = np.array([models.models[j].battery_kwh for j in idx])
    x = _elaad_habits(rng, 20_000, src, real, battery, soc_min, soc_max, day_start_h)
    return x.mean(axis=0), x.std(axis=0)


def real_fleet(n: int, sites: int = 1, rng: np.random.Generator | None = None, data: str = "nd",
               between_share: float = 0.64, soc_required: float = 0.5, day_start_h: int = 0,
               real: RealDataConfig | None = None, soc_min: float = 0.2, soc_max: float = 0.8,
               **_: Any) -> tuple[EVProfile, ...]:
    """``n`` real EVs: models by Dutch registrations, habits from ElaadNL's statistics.

    Each EV is a real bidirectional-capable model drawn in proportion to its registrations
    (``ev_specs_v2g_enabled2024.json``) and charges and discharges at its AC powers (capped by
    ``real.charger_kw`` when set). Its commuting pattern: one session drawn from ElaadNL's weekday
    statistics at ``real.site`` (:func:`elaad_sessions`; SOC at arrival = SOC_max - energy /
    battery) is the EV's habit, pulled towards the pooled mean so that, as in
    :func:`synthetic_fleet`, a share ``between_share`` of each variance lies between EVs and the
    rest varies from day to day (normal, or uniform for ``data = "ud"``, with the pooled standard
    deviations): pooled over EVs and days the draws keep ElaadNL's means and standard deviations.
    Stays end with the site's day (24 hours from ``day_start_h``).
    """
    check_int("evs", n, ge=1, le=10_000_000)
    check_int("sites", sites, ge=1, le=n)
    check_choice("data", data, ("nd", "ud"))
    check_number("between_share", between_share, ge=0, le=1)
    real = real or RealDataConfig()
    rng = rng if rng is not None else np.random.default_rng(0)
    src = _ev_data(real.data_dir)
    models = src.models
    idx = rng.choice(len(models.models), size=n, p=models.shares())
    battery = np.array([models.models[j].battery_kwh for j in idx])
    mean, sd = _elaad_moments(real, soc_min, soc_max, day_start_h)
    x = _elaad_habits(rng, n, src, real, battery, soc_min, soc_max, day_start_h)
    habit = mean + np.sqrt(between_share) * (x - mean)
    spread = np.sqrt(1.0 - between_share) * sd
    cap = real.charger_kw or np.inf
    source = f"{models.source}; {src.stats.source} ({src.label})"
    out = []
    for i, j in enumerate(idx):
        m = models.models[j]
        pattern = CommutePattern(
            arrival_mean_h=float(np.clip(habit[i, 0], 0, 23)), arrival_sd_h=float(spread[0]),
            departure_mean_h=float(np.clip(habit[i, 1], 1, 24)), departure_sd_h=float(spread[1]),
            soc_mean=float(habit[i, 2]), soc_sd=float(spread[2]), arrival_range_h=(0, 23), departure_range_h=(1, 24),
            soc_range=(soc_min, soc_max), distribution="uniform" if data == "ud" else "normal")
        out.append(EVProfile(f"ev{i}", EVModel(m.name, m.battery_kwh, float(min(m.ac_charge_kw, cap)),
                                               float(min(m.ac_discharge_kw, cap))),
                             pattern, site=i % sites, soc_required=soc_required, source=source))
    return tuple(out)


def citylearn_fleet(n: int, sites: int = 1, rng: np.random.Generator | None = None, soc_required: float = 0.5,
                    day_start_h: int = 0, real: RealDataConfig | None = None, soc_min: float = 0.2,
                    soc_max: float = 0.8, **_: Any) -> tuple[EVProfile, ...]:
    """``n`` EVs replaying CityLearn 2022's EV schedules (generated by the dataset's authors).

    EV i is the dataset's EV i (modulo their number) with its battery and its charger's powers.
    Its pattern is its own schedule: one entry per site day (24 hours from ``day_start_h``) with
    a plug-in (the first, if several; not one under way at the data's first row): arrival hour,
    departure (the stay ends with the site's day and after ``real.max_stay_h``), SOC at arrival
    within [SOC_min, SOC_max]; replayed cyclically, and present on the share of the data's days
    that have a plug-in. Its required SOC is the mean of the schedule's required departure SOC
    (within [SOC_min, SOC_max]), or ``soc_required`` if the files leave it blank.
    """
    check_int("evs", n, ge=1, le=10_000_000)
    check_int("sites", sites, ge=1, le=n)
    real = real or RealDataConfig()
    src = _citylearn(real.data_dir)
    sch = src.schedules
    names = sch.evs()
    shift = dt.timedelta(hours=day_start_h)
    site_day = {s: (sch.start + dt.timedelta(hours=s.arrival_step) - shift).date() for s in sch.sessions}
    span = (max(site_day.values()) - min(site_day.values())).days + 1
    cap = real.charger_kw or np.inf
    profiles: dict[str, tuple[EVModel, CommutePattern, float]] = {}
    for ev in names:
        # A plug-in under way at the first row has no arrival in the data: left out.
        own = sorted((s for s in sch.sessions if s.ev == ev), key=lambda s: s.arrival_step)
        sessions = [s for s in own if s.arrival_step > 0] or own
        rows: dict[dt.date, tuple[int, int, float]] = {}
        for s in sessions:
            rel = ((sch.start + dt.timedelta(hours=s.arrival_step)).hour - day_start_h) % 24
            stay = max(1, min(s.departure_step - s.arrival_step, real.max_stay_h, 24 - rel))
            rows.setdefault(site_day[s], (rel, rel + stay, float(np.clip(s.soc_arrival_frac, soc_min, soc_max))))
        charger = Counter(s.charger for s in sessions).most_common(1)[0][0]
        ch, dis = sch.charger_kw[charger]
        req = np.array([s.soc_departure_frac for s in sessions])
        need = float(np.clip(np.nanmean(req), soc_min, soc_max)) if np.any(np.isfinite(req)) else soc_required
        ordered = [rows[d] for d in sorted(rows)]
        pattern = CommutePattern(schedule_arrival_h=tuple(r[0] for r in ordered),
                                 schedule_departure_h=tuple(r[1] for r in ordered),
                                 schedule_soc=tuple(r[2] for r in ordered), presence=min(1.0, len(rows) / span))
        profiles[ev] = (EVModel(f"{ev} (CityLearn 2022, {charger})", sch.capacity_kwh[ev], float(min(ch, cap)),
                                float(min(dis, cap))), pattern, need)
    source = f"{sch.source} ({src.label})"
    return tuple(EVProfile(f"ev{i}", *profiles[names[i % len(names)]][:2], site=i % sites,
                           soc_required=profiles[names[i % len(names)]][2], source=source) for i in range(n))


FleetSource = Callable[..., tuple[EVProfile, ...]]
FLEET_SOURCES: dict[str, FleetSource] = {"thesis": synthetic_fleet, "iid": iid_fleet, "real": real_fleet,
                                         "citylearn": citylearn_fleet}
"""Name -> fleet source ``(n, sites, rng, **options)`` (module docstring)."""


# -- prices ---------------------------------------------------------------------------------------
def tou_price_days(days: int, rng: np.random.Generator, scale: str = "section-4.4.1", data: str = "nd",
                   hourly: bool = False, day_start_h: int = 0, **_: Any) -> PriceDays:
    """Time-of-use grid prices (section 4.4.1 / Table 4.1): one draw per period and day, or per hour.

    Prices are floored at 5% of their period's mean (a normal draw can be negative).
    """
    check_choice("price_scale", scale, tuple(PRICE_SCALES))
    u = data == "ud"
    period = tou_period(np.arange(24) + day_start_h)
    out = np.zeros((days, 24))
    for k, (m, s) in enumerate(PRICE_SCALES[scale]):
        cols = period == k
        if hourly:
            out[:, cols] = np.maximum(_draw(rng, m, s, (days, int(cols.sum())), u), 0.05 * m)
        else:
            out[:, cols] = np.maximum(_draw(rng, m, s, (days,), u), 0.05 * m)[:, None]
    return PriceDays(out, day_start_h)


def _data_price_days(src: _Prices, days: int, rng: np.random.Generator, day_start_h: int) -> PriceDays:
    dates = [src.days[i] for i in rng.integers(0, len(src.days), size=days)]
    rows = np.stack([src.row(d, day_start_h) for d in dates]) if days else np.zeros((0, 24))
    return PriceDays(rows, day_start_h, tuple(d.isoformat() for d in dates), src.prices.currency,
                     f"{src.prices.source} ({src.label})")


def day_ahead_price_days(days: int, rng: np.random.Generator, real: RealDataConfig | None = None,
                         day_start_h: int = 0, **_: Any) -> PriceDays:
    """The Dutch day-ahead prices (EUR/kWh, negative hours included) of ``days`` weekdays drawn
    uniformly from ``real.first_day``..``real.last_day`` (weekdays: ElaadNL's workplace arrivals
    are weekday statistics, and the real fleet's habits come from the weekday tables)."""
    real = real or RealDataConfig()
    return _data_price_days(_day_ahead(real.data_dir, real.first_day, real.last_day), days, rng, day_start_h)


def citylearn_price_days(days: int, rng: np.random.Generator, real: RealDataConfig | None = None,
                         day_start_h: int = 0, **_: Any) -> PriceDays:
    """CityLearn 2022's time-of-use tariff (USD/kWh) of ``days`` days drawn uniformly from the data."""
    real = real or RealDataConfig()
    return _data_price_days(_citylearn(real.data_dir).tariff, days, rng, day_start_h)


PriceSource = Callable[..., PriceDays]
PRICE_SOURCES: dict[str, PriceSource] = {"tou": tou_price_days, "day-ahead": day_ahead_price_days,
                                         "citylearn": citylearn_price_days}
"""Name -> grid price source ``(days, rng, scale=, data=, hourly=, day_start_h=, real=) -> PriceDays``."""
PRICE_UNITS: dict[str, float] = {"day-ahead": 0.1, "citylearn": 0.3}
"""Default scale of the networks' price inputs (about the on-peak mean of the shipped data: Dutch
day-ahead 2024 0.09 EUR/kWh, CityLearn's tariff 0.31 USD/kWh); ``tou`` uses its price scale's."""


def describe(fleet: tuple[EVProfile, ...], price_source: str, real: RealDataConfig | None = None) -> str:
    """One paragraph for reports: where a fleet's EVs, patterns and prices come from."""
    real = real or RealDataConfig()
    sources = sorted({e.source for e in fleet})
    models = Counter(e.model.name for e in fleet)
    model_text = ", ".join(f"{name} x{k}" if k > 1 else name for name, k in models.most_common())
    if sources == ["synthetic"]:
        evs = (f"{len(fleet)} EVs with their own patterns drawn per the thesis's Table 4.1 / section 4.4.1 "
               f"(generated, not measured; {model_text})")
    else:
        evs = f"{len(fleet)} EVs ({model_text}); identities from {'; '.join(sources)}"
    if price_source == "tou":
        prices = "time-of-use grid prices drawn per section 4.4.1 / Table 4.1 (generated)"
    elif price_source == "day-ahead":
        p = _day_ahead(real.data_dir, real.first_day, real.last_day)
        prices = (f"Dutch day-ahead prices (ENTSO-E, EUR/kWh) of weekdays {p.days[0]} to {p.days[-1]} "
                  f"({p.label})")
    else:
        p = _citylearn(real.data_dir).tariff
        prices = f"CityLearn 2022's time-of-use tariff (USD/kWh, {p.label})"
    return f"Data: {evs}; {prices}. See docs/data.md."
