"""EVs with identities and their days: the record types every fleet source produces, and the
synthetic source consistent with thesis Table 4.1 / section 4.4.1.

A fleet is a tuple of :class:`EVProfile` records. Each EV keeps, from day to day,

- its **model** (:class:`EVModel`): usable battery ``battery_kwh`` and the AC power it can
  charge (``charge_kw``) and discharge (``discharge_kw``) at, with optional efficiencies;
- its **commuting pattern** (:class:`CommutePattern`): the distributions of its arrival hour,
  departure hour and arrival SOC at the site, or a fixed cyclic ``schedule`` of days (what a
  charger log such as CityLearn's gives), and the probability that it comes on a given day;
- its **site** (the parking facility it trades at) and the SOC it needs when it leaves
  (``soc_required``; range-anxiety violations are departures below it).

A source is any function ``(n, sites, rng, **options) -> tuple[EVProfile, ...]`` registered in
:data:`FLEET_SOURCES`; a loader of real EV models and charging statistics only has to build
these records (plain numbers, no arrays). :func:`sample_fleet_days` draws the days of a fleet
(arrival, departure, SOC per EV and day) and :func:`tou_price_days` the grid's prices; a loader
of day-ahead prices builds a :class:`PriceDays` with one row of 24 hourly prices per day.

Units: kWh, kW (energy per hour: a step is one hour), hours of the day 0-24, SOC as a fraction
of ``battery_kwh``, prices in currency per kWh.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gridledger.errors import ConfigError
from gridledger.params import check_choice, check_int, check_number

OFF, MID, ON = 0, 1, 2
PRICE_SCALES: dict[str, tuple[tuple[float, float], ...]] = {
    # (mean, sd) of the off-, mid- and on-peak grid price.
    "section-4.4.1": ((0.82, 0.1), (1.13, 0.1), (1.7, 0.1)),
    "table-4.1": ((6.8, 2.6), (10.0, 1.5), (12.9, 2.0)),
}


def tou_period(hour: NDArray[np.int64] | int) -> NDArray[np.int64]:
    """Ontario time-of-use period of each hour: on-peak 7-11 and 17-19, mid-peak 11-17, else off-peak.

    Table 4.1 prints on-peak as "1am - 11am", which overlaps off-peak; this is the schedule the
    thesis cites (docs/decisions.md).
    """
    h = np.asarray(hour) % 24
    on = ((h >= 7) & (h < 11)) | ((h >= 17) & (h < 19))
    mid = (h >= 11) & (h < 17)
    return np.where(on, ON, np.where(mid, MID, OFF))


@dataclass(frozen=True)
class EVModel:
    """A vehicle model: battery and AC charger limits."""

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
    """When an EV is at its site, and how full it arrives.

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

    ``off_peak`` is the day's reference price lambda_off of eqs. (4.3)-(4.4) (mean over the
    off-peak hours); the price factor of hour t is delta_t = (p_t - lambda_off) / lambda_off.
    """

    grid_sell: NDArray[np.float64]

    def __post_init__(self) -> None:
        if self.grid_sell.ndim != 2 or self.grid_sell.shape[1] != 24:
            raise ConfigError("grid_sell", f"must have shape (days, 24) (got {self.grid_sell.shape})")
        if not np.all(np.isfinite(self.grid_sell)) or np.any(self.grid_sell <= 0):
            raise ConfigError("grid_sell", "prices must be finite and > 0")

    @property
    def off_peak(self) -> NDArray[np.float64]:
        return self.grid_sell[:, tou_period(np.arange(24)) == OFF].mean(axis=1)

    @property
    def on_peak(self) -> NDArray[np.float64]:
        return self.grid_sell[:, tou_period(np.arange(24)) == ON].mean(axis=1)

    def rows(self, idx: NDArray[np.int64] | slice) -> PriceDays:
        return PriceDays(self.grid_sell[idx])


def _draw(rng: np.random.Generator, mean: NDArray[np.float64] | float, sd: NDArray[np.float64] | float,
          shape: tuple[int, ...], uniform: bool) -> NDArray[np.float64]:
    if uniform:
        half = np.sqrt(3.0) * np.asarray(sd)
        return rng.uniform(np.asarray(mean) - half, np.asarray(mean) + half, shape)
    return rng.normal(mean, sd, shape)


def sample_fleet_days(fleet: tuple[EVProfile, ...], days: int, rng: np.random.Generator) -> FleetDays:
    """Draw ``days`` days for every EV from its own pattern (Table 4.1's constraints kept).

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


def synthetic_fleet(n: int, sites: int = 1, rng: np.random.Generator | None = None, data: str = "nd",
                    between_share: float = 0.64, soc_required: float = 0.5) -> tuple[EVProfile, ...]:
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
              soc_required: float = 0.5) -> tuple[EVProfile, ...]:
    """``n`` interchangeable EVs, every day drawn from Table 4.1's distributions (no identity)."""
    return synthetic_fleet(n, sites, rng, data, between_share=0.0, soc_required=soc_required)


FleetSource = Callable[..., tuple[EVProfile, ...]]
FLEET_SOURCES: dict[str, FleetSource] = {"synthetic": synthetic_fleet, "iid": iid_fleet}
"""Name -> fleet source ``(n, sites, rng, data=..., soc_required=...)``; loaders of real data add theirs."""


def tou_price_days(days: int, rng: np.random.Generator, scale: str = "section-4.4.1", data: str = "nd",
                   hourly: bool = False) -> PriceDays:
    """Time-of-use grid prices (section 4.4.1 / Table 4.1): one draw per period and day, or per hour.

    Prices are floored at 5% of their period's mean (a normal draw can be negative).
    """
    check_choice("price_scale", scale, tuple(PRICE_SCALES))
    u = data == "ud"
    period = tou_period(np.arange(24))
    out = np.zeros((days, 24))
    for k, (m, s) in enumerate(PRICE_SCALES[scale]):
        cols = period == k
        if hourly:
            out[:, cols] = np.maximum(_draw(rng, m, s, (days, int(cols.sum())), u), 0.05 * m)
        else:
            out[:, cols] = np.maximum(_draw(rng, m, s, (days,), u), 0.05 * m)[:, None]
    return PriceDays(out)


PriceSource = Callable[..., PriceDays]
PRICE_SOURCES: dict[str, PriceSource] = {"tou": tou_price_days}
"""Name -> grid price source ``(days, rng, scale, data, hourly) -> PriceDays``; loaders of real
prices (e.g. day-ahead series) add theirs and may ignore the time-of-use arguments."""
