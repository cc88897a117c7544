"""EVs trading at their sites, hour by hour, as an MDP (thesis section 4.3, eqs. 4.10-4.16).

:class:`FleetMarketEnv` (torch, batched) steps a fleet of EVs with identities
(:mod:`gridledger.data.fleet`) through ``worlds`` independent days at once: each world is the
whole fleet on one day. Every hour each present EV acts, the site market clears
(:func:`gridledger.learn.fleet.market.clear`), and rewards come from the cleared quantities and
prices. :class:`V2VSiteParallelEnv` is one site of one world as a PettingZoo ParallelEnv, and
:class:`V2VEnv` one EV as a Gymnasium env, the other EVs at its site acting by the rule policy
(for the learner the market is then an exogenous price process).

The fleet's days, and the grid's prices, come from the sources of :mod:`gridledger.data.fleet`
(the thesis's Table 4.1 draws, real Dutch EVs with ElaadNL habits and day-ahead prices, or
CityLearn 2022's schedules and tariff). A day covers 24 hours from the clock hour
``day_start_h`` (0 by default); hours (``hour``, arrivals, departures, price columns) count from
that start, and the clock hour of ``hour`` is (day_start_h + hour) mod 24.

State (eq. 4.10, plus two documented additions): delta_t, SOC_t, p_v2v, p_Gbuy, p_Gsell,
Omega_t, then the clock hour/24 and hours to departure/24 (``state = "extended"``, the default;
the thesis's Algorithm 4 line 1 gives the EV its departure time). ``state = "thesis"`` keeps the six.

Action (eqs. 4.12-4.13): a in [-1, 1] asks for a x charge_kw (a >= 0) or a x discharge_kw of
grid-side energy in the hour, clipped so that SOC stays within [SOC_min, SOC_max]; an EV that
arrives outside the band is moved back towards it as fast as its charger allows.

Prices: p_Gsell is the grid's time-of-use price of the hour (what an EV pays the grid);
p_v2v = p_Gsell - v2v_discount |p_Gsell|, p_Gbuy = p_Gsell - grid_buy_discount |p_Gsell| (for
positive prices (1 - discount) p_Gsell), so that p_Gsell > p_v2v > p_Gbuy (4.10) also when a
wholesale price is negative. delta_t = (p_t - lambda_off) / lambda_off (eqs. 4.3-4.4, with
lambda_off the day's off-peak price, at least MIN_REFERENCE_PRICE: wholesale prices can be near
zero or negative), clipped to [0, delta_cap] (eq. 4.2 wants delta < 1).

Rewards (both computed every step; ``reward`` picks the one a learner gets):

- ``"delta"``, the thesis's eq. (4.14) with the cleared prices: delta_t x cash_t, plus
  eta (SOC - SOC_max)^2 at departure (eq. 4.15; eta < 0 is a penalty). With every kWh at p_v2v
  this is exactly -delta_t A_t (p_v2v + Omega).
- ``"money"``: cash_t, plus at departure the value of the energy the EV leaves with beyond what
  it came with, at the day's off-peak grid price (what refilling at home overnight costs), minus
  shortfall_price_factor x the day's on-peak price per kWh short of the EV's required SOC.

PoSOC proof score of a step (eq. 4.1 / Algorithm 4 lines 11-21): delta_t (D - C) with the
grid-side energies, plus SOC_max - SOC at departure.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv

from gridledger.data.fleet import (
    FLEET_SOURCES,
    OFF,
    ON,
    PRICE_SCALES,
    PRICE_SOURCES,
    PRICE_UNITS,
    EVProfile,
    FleetDays,
    PriceDays,
    RealDataConfig,
    sample_fleet_days,
    tou_period,
)
from gridledger.learn.fleet.market import MARKETS, Clearing, clear
from gridledger.params import check_choice, check_int, check_number

DTYPE = torch.float64
OBS_NAMES = ("delta", "soc", "p_v2v", "p_grid_buy", "p_grid_sell", "omega", "hour", "hours_to_departure")
MIN_REFERENCE_PRICE = 1e-3
"""Floor of a day's reference prices, currency/kWh: lambda_off in eqs. (4.3)-(4.4) (a day whose
off-peak hours average zero or less has every higher hour at the cap) and the on-peak price of
the shortfall cost (a shortfall never pays)."""


@dataclass(frozen=True)
class V2VConfig:
    """The site market and the reward (the EVs' own parameters are in their profiles)."""

    soc_min: float = 0.2
    """Lowest recommended SOC (4.4.1: 0.2)."""
    soc_max: float = 0.8
    """Highest recommended SOC (4.4.1: 0.8)."""
    data: str = "nd"
    """"nd" normal or "ud" uniform draws of prices (section 4.4.6); the fleet has its own."""
    price_scale: str = "section-4.4.1"
    """Prices N(0.82, 0.1), N(1.13, 0.1), N(1.7, 0.1) (section 4.4.1) or Table 4.1's cents."""
    price_source: str = "tou"
    """Grid price process (``gridledger.data.fleet.PRICE_SOURCES``): "tou" (Table 4.1 / 4.4.1 draws),
    "day-ahead" (Dutch day-ahead prices of real weekdays) or "citylearn" (CityLearn 2022's tariff)."""
    price_unit_per_kwh: float = 0.0
    """Scale of the price inputs of the networks; 0: the price source's (``tou``: the on-peak mean
    of ``price_scale``; ``day-ahead`` 0.1 EUR/kWh; ``citylearn`` 0.3 USD/kWh)."""
    day_start_h: int = 0
    """Clock hour the site's day starts (0: the thesis's daytime parking lot; 12 for home charging,
    whose stays cross midnight)."""
    real: RealDataConfig = field(default_factory=RealDataConfig)
    """Real data: where it is, the ElaadNL site type, the day-ahead dates (table ``env.real``)."""
    hourly_prices: bool = False
    """Draw the time-of-use price per hour instead of once per period and day."""
    v2v_discount: float = 0.10
    """p_v2v = (1 - v2v_discount) p_Gsell (not given; chosen)."""
    grid_buy_discount: float = 0.30
    """p_Gbuy = (1 - grid_buy_discount) p_Gsell (not given; chosen)."""
    market: str = "site"
    """"site" (EVs at a site trade with each other), "grid" (no V2V) or "pool" (eq. 4.14 as printed)."""
    v2b_kwh: float = 0.0
    """Energy a building at each site takes from discharging EVs per hour at p_v2v (V2B; 0 = none)."""
    eta: float = -10.0
    """Range-anxiety coefficient in eq. (4.14); negative: a penalty for leaving below SOC_max."""
    assisted: bool = False
    """Assisted V2V (via the building), Omega_t = assisted_cost; direct V2V otherwise (4.16)."""
    assisted_cost: float = 0.05
    """Omega_t per kWh for assisted V2V (not given; chosen)."""
    use_delta: bool = True
    """Weight rewards and proof scores by the price factor delta (False: the thesis's baseline2)."""
    delta_cap: float = 0.999
    """Upper bound of delta (eq. 4.2 requires delta < 1; the 4.4.1 prices give delta_on = 1.07)."""
    state: str = "extended"
    """"extended": eq. (4.10) + hour and hours to departure; "thesis": eq. (4.10) only."""
    reward: str = "delta"
    """"delta" (eq. 4.14 with cleared prices) or "money" (cash + energy value - shortfall cost)."""
    shortfall_price_factor: float = 2.0
    """Money reward: cost per kWh short of the required SOC, in multiples of the day's on-peak price."""

    def __post_init__(self) -> None:
        check_number("soc_min", self.soc_min, ge=0, lt=1)
        check_number("soc_max", self.soc_max, gt=self.soc_min, le=1)
        check_choice("data", self.data, ("nd", "ud"))
        check_choice("price_scale", self.price_scale, tuple(PRICE_SCALES))
        check_choice("price_source", self.price_source, tuple(PRICE_SOURCES))
        check_number("price_unit_per_kwh", self.price_unit_per_kwh, ge=0)
        check_int("day_start_h", self.day_start_h, ge=0, le=23)
        check_number("v2v_discount", self.v2v_discount, ge=0, lt=1)
        check_number("grid_buy_discount", self.grid_buy_discount, gt=self.v2v_discount, lt=1)
        check_choice("market", self.market, MARKETS)
        check_number("v2b_kwh", self.v2b_kwh, ge=0)
        check_number("eta", self.eta)
        check_number("assisted_cost", self.assisted_cost, ge=0)
        check_number("delta_cap", self.delta_cap, gt=0, le=1)
        check_choice("state", self.state, ("extended", "thesis"))
        check_choice("reward", self.reward, ("delta", "money"))
        check_number("shortfall_price_factor", self.shortfall_price_factor, ge=0)

    @property
    def obs_dim(self) -> int:
        return 8 if self.state == "extended" else 6

    @property
    def omega(self) -> float:
        return self.assisted_cost if self.assisted else 0.0

    def shortfall_prices(self, prices: PriceDays) -> np.ndarray:
        """Cost per kWh short of the required SOC on each day: shortfall_price_factor x the day's
        on-peak price (at least MIN_REFERENCE_PRICE)."""
        return self.shortfall_price_factor * np.maximum(prices.on_peak, MIN_REFERENCE_PRICE)

    @property
    def price_unit(self) -> float:
        """Scale of the price inputs of the networks (by default the price source's)."""
        return self.price_unit_per_kwh or PRICE_UNITS.get(self.price_source) or PRICE_SCALES[self.price_scale][2][0]


def market_prices(p_sell: Any, config: V2VConfig) -> tuple[Any, Any]:
    """(p_v2v, p_Gbuy) from the grid's selling price (arrays or tensors): the discounts apply to
    the price's magnitude, so that p_Gsell > p_v2v > p_Gbuy (4.10) whatever its sign."""
    mag = abs(p_sell)
    return p_sell - config.v2v_discount * mag, p_sell - config.grid_buy_discount * mag


def draw_prices(config: V2VConfig, days: int, rng: np.random.Generator) -> PriceDays:
    """``days`` days of grid prices from the configured price source."""
    c = config
    return PRICE_SOURCES[c.price_source](days, rng, scale=c.price_scale, data=c.data, hourly=c.hourly_prices,
                                         day_start_h=c.day_start_h, real=c.real)


def make_fleet(source: str, evs: int, sites: int, rng: np.random.Generator,
               config: V2VConfig) -> tuple[EVProfile, ...]:
    """``evs`` EVs with identities from the fleet source ``source`` (:data:`FLEET_SOURCES`)."""
    check_choice("fleet", source, tuple(FLEET_SOURCES))
    c = config
    return FLEET_SOURCES[source](evs, sites, rng, data=c.data, soc_min=c.soc_min, soc_max=c.soc_max,
                                 day_start_h=c.day_start_h, real=c.real)


def price_factors(prices: PriceDays | np.ndarray, config: V2VConfig) -> np.ndarray:
    """delta per day and hour (days, 24): (p - lambda_off) / lambda_off, eqs. (4.3)-(4.4), in [0, cap]."""
    if not isinstance(prices, PriceDays):
        prices = PriceDays(np.asarray(prices, dtype=float), config.day_start_h)
    grid_sell = prices.grid_sell
    if not config.use_delta:
        return np.ones_like(grid_sell)
    off = np.maximum(prices.off_peak[:, None], MIN_REFERENCE_PRICE)
    return np.clip((grid_sell - off) / off, 0.0, config.delta_cap)


def obs_scale(config: V2VConfig) -> torch.Tensor:
    """Fixed input scaling of the networks: prices by ``price_unit``."""
    s = config.price_unit
    return torch.tensor([1.0, 1.0, s, s, s, s, 1.0, 1.0][:config.obs_dim])


@dataclass(frozen=True)
class StepResult:
    """One hour of every EV in every world; tensors of shape (evs, worlds) unless noted."""

    hour: int
    present: torch.Tensor
    energy_kwh: torch.Tensor
    """Grid-side energy applied (+ charge, - discharge)."""
    clearing: Clearing
    soc: torch.Tensor
    """SOC after the step."""
    departing: torch.Tensor
    delta: torch.Tensor
    reward_delta: torch.Tensor
    reward_money: torch.Tensor
    reward: torch.Tensor
    proof_score: torch.Tensor
    energy_value: torch.Tensor
    """At departure: (energy left - energy brought) x the day's off-peak price."""
    shortfall_kwh: torch.Tensor
    """At departure: kWh below the required SOC."""
    p_v2v: torch.Tensor
    p_grid_buy: torch.Tensor
    p_grid_sell: torch.Tensor


class FleetMarketEnv:
    """A fleet at its sites, ``worlds`` days at once (torch, float64).

    ``controlled`` marks the EVs whose actions are given to :meth:`step`; the others act by
    :meth:`rule_actions` (the background of :class:`V2VEnv`).
    """

    def __init__(self, fleet: tuple[EVProfile, ...], config: V2VConfig | None = None, worlds: int = 1,
                 seed: int | np.random.Generator | None = None, controlled: np.ndarray | None = None) -> None:
        check_int("worlds", worlds, ge=1, le=10_000_000)
        if not fleet:
            raise ValueError("a fleet needs at least one EV")
        self.fleet = tuple(fleet)
        self.config = config or V2VConfig()
        self.n = len(self.fleet)
        self.worlds = worlds
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        col = lambda xs: torch.tensor(xs, dtype=DTYPE).reshape(-1, 1)  # noqa: E731
        self.capacity = col([e.model.battery_kwh for e in self.fleet])
        self.charge_kw = col([e.model.charge_kw for e in self.fleet])
        self.discharge_kw = col([e.model.discharge_kw for e in self.fleet])
        self.eff_ch = col([e.model.charge_efficiency for e in self.fleet])
        self.eff_dis = col([e.model.discharge_efficiency for e in self.fleet])
        self.soc_required = col([e.soc_required for e in self.fleet])
        self.lossless = bool(torch.all(self.eff_ch == 1.0) and torch.all(self.eff_dis == 1.0))
        sites = np.array([e.site for e in self.fleet], dtype=np.int64)
        self.site_ids, site_idx = np.unique(sites, return_inverse=True)
        self.sites = len(self.site_ids)
        self.site_index = torch.from_numpy(site_idx.astype(np.int64))
        self.group = (torch.arange(worlds).reshape(1, -1) * self.sites + self.site_index.reshape(-1, 1))
        self.groups = worlds * self.sites
        ctrl = np.ones(self.n, dtype=bool) if controlled is None else np.asarray(controlled, dtype=bool)
        self.controlled = torch.from_numpy(ctrl).reshape(-1, 1)
        self.hour = 0
        self.end = 0
        self.day_index = np.arange(worlds)
        """Which day each world plays (set by callers that replay given days)."""
        self.days: FleetDays | None = None
        self.prices: PriceDays | None = None

    # -- days -----------------------------------------------------------------------------
    def start_day(self, days: FleetDays | None = None, prices: PriceDays | None = None) -> None:
        """Begin a day in every world (drawn from the EVs' patterns and the price process if not given)."""
        c = self.config
        w = self.worlds
        if days is None:
            days = sample_fleet_days(self.fleet, w, self.rng)
        if prices is None:
            prices = draw_prices(c, w, self.rng)
        if days.shape != (self.n, w) or prices.grid_sell.shape[0] != w:
            raise ValueError(f"days must have shape ({self.n}, {w}) and prices {w} rows")
        if prices.start_h != c.day_start_h:
            raise ValueError(f"prices start at hour {prices.start_h}, the site's day at {c.day_start_h}")
        self.days, self.prices = days, prices
        self.arrival = torch.from_numpy(days.arrival_h.astype(np.int64))
        self.departure = torch.from_numpy(days.departure_h.astype(np.int64))
        self.kwh = torch.from_numpy(days.soc0.astype(np.float64)) * self.capacity
        self.kwh_arrival = self.kwh.clone()
        p = torch.from_numpy(prices.grid_sell.astype(np.float64))             # (W, 24)
        self.p_sell = p
        self.p_v2v, self.p_buy = market_prices(p, c)
        self.delta_tab = torch.from_numpy(price_factors(prices, c))
        self.value_price = torch.from_numpy(prices.off_peak).reshape(1, -1)   # (1, W)
        self.shortfall_price = torch.from_numpy(c.shortfall_prices(prices)).reshape(1, -1)
        here = self.departure > self.arrival
        if bool(here.any()):
            self.hour = int(self.arrival[here].min())
            self.end = int(self.departure[here].max())
        else:
            self.hour = self.end = 0

    @property
    def day_over(self) -> bool:
        return self.hour >= self.end

    @property
    def present(self) -> torch.Tensor:
        return (self.arrival <= self.hour) & (self.hour < self.departure)

    @property
    def soc(self) -> torch.Tensor:
        return self.kwh / self.capacity

    @property
    def clock_hour(self) -> int:
        """Clock hour (0-23) of the current hour."""
        return (self.config.day_start_h + self.hour) % 24

    def observe(self) -> torch.Tensor:
        """State of every EV (evs, worlds, obs_dim), float32; absent EVs see their site's prices."""
        c = self.config
        h = min(self.hour, 23)
        shape = (self.n, self.worlds)
        cols = [self.delta_tab[:, h].expand(shape), self.soc, self.p_v2v[:, h].expand(shape),
                self.p_buy[:, h].expand(shape), self.p_sell[:, h].expand(shape),
                torch.full(shape, c.omega, dtype=DTYPE)]
        if c.state == "extended":
            cols += [torch.full(shape, self.clock_hour / 24.0, dtype=DTYPE),
                     torch.clamp(self.departure - self.hour, min=0).to(DTYPE) / 24.0]
        return torch.stack(cols, dim=-1).to(torch.float32)

    # -- dynamics -------------------------------------------------------------------------
    def _to_grid(self, battery_kwh: torch.Tensor) -> torch.Tensor:
        if self.lossless:
            return battery_kwh
        return torch.where(battery_kwh > 0, battery_kwh / self.eff_ch, battery_kwh * self.eff_dis)

    def _to_battery(self, grid_kwh: torch.Tensor) -> torch.Tensor:
        if self.lossless:
            return grid_kwh
        return torch.where(grid_kwh > 0, grid_kwh * self.eff_ch, grid_kwh / self.eff_dis)

    def feasible(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Bounds [lo, hi] of the grid-side energy each EV may apply this hour (eqs. 4.12-4.13)."""
        c = self.config
        lo_soc = self._to_grid(c.soc_min * self.capacity - self.kwh)
        hi_soc = self._to_grid(c.soc_max * self.capacity - self.kwh)
        lo = torch.minimum(torch.maximum(lo_soc, -self.discharge_kw), self.charge_kw)
        hi = torch.maximum(torch.minimum(hi_soc, self.charge_kw), -self.discharge_kw)
        return lo, torch.maximum(hi, lo)

    def rule_actions(self) -> torch.Tensor:
        """The rule-based policy: sell on-peak down to the required SOC, charge off-peak, top up to the
        required SOC in mid-peak, and charge whenever only just enough hours are left to reach it."""
        h = self.hour
        period = int(tou_period(self.clock_hour))
        hours_left = (self.departure - h).to(DTYPE)
        need_kwh = torch.clamp(self.soc_required * self.capacity - self.kwh, min=0.0) / self.eff_ch
        spare_kwh = torch.clamp(self.kwh - self.soc_required * self.capacity, min=0.0) * self.eff_dis
        top_up = torch.clamp(need_kwh / self.charge_kw, max=1.0)
        urgent = (need_kwh > 1e-9) & (need_kwh / self.charge_kw >= hours_left - 1)
        if period == ON:
            base = -torch.clamp(spare_kwh / self.discharge_kw, max=1.0)
        elif period == OFF:
            base = torch.ones_like(top_up)
        else:
            base = top_up
        return torch.where(urgent, torch.ones_like(base), base)

    def step(self, action: torch.Tensor | np.ndarray) -> StepResult:
        """Apply every controlled EV's action (evs, worlds) for the current hour; clear; advance."""
        if self.day_over:
            raise RuntimeError("the day is over: call start_day()")
        c = self.config
        h = self.hour
        a = torch.as_tensor(action, dtype=DTYPE).reshape(self.n, self.worlds)
        if not bool(self.controlled.all()):
            a = torch.where(self.controlled, a, self.rule_actions())
        a = torch.clamp(a, -1.0, 1.0)
        present = self.present
        asked = torch.where(a >= 0, a * self.charge_kw, a * self.discharge_kw)
        lo, hi = self.feasible()
        energy = torch.where(present, torch.minimum(torch.maximum(asked, lo), hi), torch.zeros_like(asked))
        shape = energy.shape
        p_v2v = self.p_v2v[:, h].expand(shape)
        p_buy = self.p_buy[:, h].expand(shape)
        p_sell = self.p_sell[:, h].expand(shape)
        cl = clear(energy, self.group, self.groups, p_v2v, p_buy, p_sell, c.omega, c.market, c.v2b_kwh)
        self.kwh = self.kwh + self._to_battery(energy)
        soc = self.soc
        departing = present & (self.departure == h + 1)
        delta = self.delta_tab[:, h].expand(shape)
        ra = (soc - c.soc_max) ** 2                                                    # eq. (4.15)
        reward_delta = delta * cl.cash + torch.where(departing, c.eta * ra, 0.0)       # eq. (4.14)
        value = torch.where(departing, (self.kwh - self.kwh_arrival) * self.value_price, 0.0)
        short = torch.where(departing, torch.clamp(self.soc_required * self.capacity - self.kwh, min=0.0), 0.0)
        reward_money = cl.cash + value - short * self.shortfall_price
        sold = cl.sold_v2v + cl.sold_v2b + cl.grid_export
        bought = cl.bought_v2v + cl.grid_import
        score = delta * (sold - bought) + torch.where(departing, c.soc_max - soc, 0.0)  # eq. (4.1)
        out = StepResult(h, present, energy, cl, soc, departing, delta, reward_delta, reward_money,
                         reward_delta if c.reward == "delta" else reward_money, score, value, short,
                         p_v2v, p_buy, p_sell)
        self.hour = h + 1
        while self.hour < self.end and not bool(self.present.any()):
            self.hour += 1  # nobody at any site this hour: nothing to decide
        return out


# -- Gymnasium: one EV, the others at its site acting by the rule -------------------------------
def observation_space(config: V2VConfig) -> spaces.Box:
    """The state's box: delta and SOC in [0, 1], prices in [-1e4, 1e4] (wholesale prices can be
    negative), Omega in [0, 1e3], hour and hours to departure in [0, 1]."""
    d = config.obs_dim
    low = np.array([0.0, 0.0, -1e4, -1e4, -1e4, 0.0, 0.0, 0.0][:d], dtype=np.float32)
    high = np.array([1.0, 1.0, 1e4, 1e4, 1e4, 1e3, 1.0, 1.0][:d], dtype=np.float32)
    return spaces.Box(low, high, dtype=np.float32)


class V2VEnv(gym.Env):
    """``gridledger/V2VSite-v0``: one EV's day at its site (Gymnasium API).

    The EV (index ``ev`` of ``fleet``; by default a 10-EV site of the fleet source
    ``fleet_source`` drawn with ``fleet_seed``, so the EV keeps its identity across resets)
    trades at its site with the other EVs there, which follow the rule policy: for the learner
    the cleared prices are an exogenous process. ``reset(options={"days": FleetDays, "prices":
    PriceDays})`` replays given days.
    """

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(self, config: V2VConfig | None = None, fleet: tuple[EVProfile, ...] | None = None, ev: int = 0,
                 site_evs: int = 10, fleet_seed: int = 0, fleet_source: str = "thesis", **kwargs: Any) -> None:
        self.config = config or V2VConfig(**kwargs)
        if fleet is None:
            fleet = make_fleet(fleet_source, site_evs, 1, np.random.default_rng(fleet_seed), self.config)
        me = fleet[ev]
        self.fleet = tuple(e for e in fleet if e.site == me.site)
        self.ev = self.fleet.index(me)
        self.observation_space = observation_space(self.config)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        ctrl = np.zeros(len(self.fleet), dtype=bool)
        ctrl[self.ev] = True
        self._env = FleetMarketEnv(self.fleet, self.config, 1, seed=0, controlled=ctrl)
        self._done = True

    def _obs(self) -> np.ndarray:
        return self._env.observe()[self.ev, 0].numpy()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        opts = options or {}
        env = self._env
        env.rng = self.np_random
        while True:
            env.start_day(opts.get("days"), opts.get("prices"))
            if bool(env.departure[self.ev, 0] > env.arrival[self.ev, 0]) or "days" in opts:
                break
        while not env.day_over and not bool(env.present[self.ev, 0]):
            env.step(torch.zeros(env.n, 1, dtype=DTYPE))
        if not bool(env.present[self.ev, 0]):
            raise ValueError("the given day has the EV absent")
        self._done = False
        return self._obs(), {"arrival": int(env.arrival[self.ev, 0]), "departure": int(env.departure[self.ev, 0]),
                             "soc": float(env.soc[self.ev, 0])}

    def step(self, action):
        if self._done:
            raise RuntimeError("the day is over: call reset()")
        env = self._env
        a = torch.zeros(env.n, 1, dtype=DTYPE)
        a[self.ev, 0] = float(np.asarray(action, dtype=np.float64).reshape(-1)[0])
        r = env.step(a)
        i = self.ev
        self._done = bool(r.departing[i, 0])
        cl = r.clearing
        info = {"hour": r.hour, "energy_kwh": float(r.energy_kwh[i, 0]), "soc": float(r.soc[i, 0]),
                "delta": float(r.delta[i, 0]), "p_v2v": float(r.p_v2v[i, 0]),
                "p_grid_buy": float(r.p_grid_buy[i, 0]), "p_grid_sell": float(r.p_grid_sell[i, 0]),
                "sold_v2v_kwh": float(cl.sold_v2v[i, 0]), "bought_v2v_kwh": float(cl.bought_v2v[i, 0]),
                "grid_export_kwh": float(cl.grid_export[i, 0]), "grid_import_kwh": float(cl.grid_import[i, 0]),
                "cash": float(cl.cash[i, 0]), "reward_delta": float(r.reward_delta[i, 0]),
                "reward_money": float(r.reward_money[i, 0]), "proof_score": float(r.proof_score[i, 0]),
                "departing": self._done}
        obs = self._obs() if not self._done else np.clip(self._obs(), self.observation_space.low,
                                                         self.observation_space.high)
        return obs, float(r.reward[i, 0]), self._done, False, info


class ThesisV2VEnv(V2VEnv):
    """``gridledger/V2V-v0``: the thesis's MDP as printed: state (4.10) only, every kWh traded at
    p_v2v with an unlimited pool (eq. 4.14), no site market."""

    def __init__(self, config: V2VConfig | None = None, **kwargs: Any) -> None:
        if config is None:
            config = V2VConfig(**{"state": "thesis", "market": "pool", **kwargs})
            kwargs = {}
        super().__init__(config, site_evs=1, **kwargs)


# -- PettingZoo: one site, its EVs as agents ------------------------------------------------------
class V2VSiteParallelEnv(ParallelEnv):
    """One site's day as a PettingZoo ParallelEnv: agents are the site's EVs present in the hour.

    An EV joins the agents when it arrives and leaves (terminated) at its departure. Rewards are
    those of :class:`FleetMarketEnv` (``config.reward``); ``infos`` carry the cleared quantities.
    Hours in which no EV is present are skipped. The EVs are those of ``fleet`` at ``site``, by
    default ``evs`` EVs of the fleet source ``fleet_source`` drawn with ``fleet_seed``.
    """

    metadata = {"name": "gridledger_v2v_site_v0", "render_modes": [], "is_parallelizable": True}  # noqa: RUF012

    def __init__(self, config: V2VConfig | None = None, fleet: tuple[EVProfile, ...] | None = None, site: int = 0,
                 evs: int = 10, fleet_seed: int = 0, fleet_source: str = "thesis", **kwargs: Any) -> None:
        self.config = config or V2VConfig(**kwargs)
        if fleet is None:
            fleet = make_fleet(fleet_source, evs, 1, np.random.default_rng(fleet_seed), self.config)
        self.fleet = tuple(e for e in fleet if e.site == site)
        if not self.fleet:
            raise ValueError(f"no EV at site {site}")
        self.possible_agents = [e.ev_id for e in self.fleet]
        self._index = {a: k for k, a in enumerate(self.possible_agents)}
        self.agents: list[str] = []
        self._env = FleetMarketEnv(self.fleet, self.config, 1, seed=0)
        self.render_mode = None

    @functools.cache  # noqa: B019  (PettingZoo requires the same space object per agent)
    def observation_space(self, agent: str) -> spaces.Box:
        return observation_space(self.config)

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)

    def _live(self) -> list[str]:
        env = self._env
        if env.day_over:
            return []
        here = env.present[:, 0]
        return [a for a in self.possible_agents if bool(here[self._index[a]])]

    def _obs(self, agents: list[str]) -> dict[str, np.ndarray]:
        o = self._env.observe()[:, 0].numpy()
        space = observation_space(self.config)
        return {a: np.clip(o[self._index[a]], space.low, space.high) for a in agents}

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._env.rng = np.random.default_rng(seed)
            for k, a in enumerate(self.possible_agents):
                self.action_space(a).seed(seed + k)
        opts = options or {}
        self._env.start_day(opts.get("days"), opts.get("prices"))
        self.agents = self._live()
        return self._obs(self.agents), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        env = self._env
        a = torch.zeros(env.n, 1, dtype=DTYPE)
        for agent, act in actions.items():
            a[self._index[agent], 0] = float(np.asarray(act, dtype=np.float64).reshape(-1)[0])
        acting = list(self.agents)
        r = env.step(a)
        cl = r.clearing
        rewards, terms, truncs, infos = {}, {}, {}, {}
        for agent in acting:
            i = self._index[agent]
            rewards[agent] = float(r.reward[i, 0])
            terms[agent] = bool(r.departing[i, 0])
            truncs[agent] = False
            infos[agent] = {"hour": r.hour, "energy_kwh": float(r.energy_kwh[i, 0]), "soc": float(r.soc[i, 0]),
                            "sold_v2v_kwh": float(cl.sold_v2v[i, 0]), "bought_v2v_kwh": float(cl.bought_v2v[i, 0]),
                            "grid_export_kwh": float(cl.grid_export[i, 0]),
                            "grid_import_kwh": float(cl.grid_import[i, 0]), "cash": float(cl.cash[i, 0]),
                            "proof_score": float(r.proof_score[i, 0])}
        live = self._live()
        arrived = [x for x in live if x not in acting]
        for agent in arrived:
            rewards[agent], terms[agent], truncs[agent], infos[agent] = 0.0, False, False, {}
        self.agents = live
        obs = self._obs(acting + arrived)
        return obs, rewards, terms, truncs, infos

    def state(self) -> np.ndarray:
        return self._env.observe()[:, 0].numpy().reshape(-1)

    def close(self) -> None:
        pass

    def render(self) -> None:
        return None
