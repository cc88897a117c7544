"""One electric vehicle's trading day as an MDP (thesis section 4.3, eqs. 4.10-4.16), and a
batched version stepping many EVs at once with the same semantics.

Day (Table 4.1, section 4.4.1): arrival t_a ~ N(7, 1) in [4, 10], departure t_d ~ N(18, 1) in
[8, 22] (whole hours, t_d > t_a), initial SOC ~ N(0.5, 0.1) in [0.4, 0.9]; time-of-use grid
prices sampled per period and day. Periods follow the Ontario schedule the thesis cites
(Table 4.1's "on-peak 1am-11am" is a typo): on-peak 7-11 and 17-19, mid-peak 11-17,
off-peak 19-7. The "ud" data variant draws the same quantities from uniform distributions
with the same means and standard deviations (section 4.4.6).

Prices: the sampled time-of-use price is the grid's selling price p_Gsell (what an EV pays the
grid); V2V trades clear at p_v2v = (1 - v2v_discount) p_Gsell and the grid buys at
p_Gbuy = (1 - grid_buy_discount) p_Gsell, so that p_Gsell > p_v2v > p_Gbuy (4.10).

Step (one hour): the action a in [-1, 1] asks for a P kWh (P = charger power; + charge,
- discharge); the energy actually applied A is clipped to the power limits (4.12) and to the
SOC limits, -(SOC - SOC_min) E <= A <= (SOC_max - SOC) E (4.13), E = 42 kWh.
Reward (4.14): -delta_t A (p_v2v + Omega_t), plus eta RA at departure with
RA = (SOC - SOC_max)^2 (4.15); eta < 0 (default -10) makes leaving with an emptier battery a
penalty (the thesis leaves the sign open). Omega_t = 0 for direct V2V, the assisted cost
otherwise (4.16). delta_t is the price factor of the hour's period, eqs. (4.3)-(4.4)
(delta_off = 0 by the same formula), capped below 1 as eq. (4.2) requires.
PoSOC proof score of the step (4.1): delta_t (D - C) = -delta_t A, plus SOC_max - SOC at
departure.

Real data (``fleet="real"``, :mod:`gridledger.data.fleet`): each EV-day comes from real EV
models, ElaadNL sessions and Dutch day-ahead prices (or CityLearn's EV schedules and tariff);
the day then carries its own battery and charger powers and an hourly grid price (p_Gsell of
each hour; delta from the means of the day's off-, mid- and on-peak hours). Rows of the batched
env belong to EVs (``evs``) so that an EV keeps its model from day to day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from gridledger.data.fleet import RealFleetConfig
from gridledger.params import check_choice, check_number

OFF, MID, ON = 0, 1, 2
PRICE_SCALES = {
    # (mean, sd) of off-, mid- and on-peak prices.
    "section-4.4.1": ((0.82, 0.1), (1.13, 0.1), (1.7, 0.1)),
    "table-4.1": ((6.8, 2.6), (10.0, 1.5), (12.9, 2.0)),
}
#: Observation scale of prices for real fleets (about the on-peak mean of the shipped data:
#: Dutch day-ahead 2024, 0.09 EUR/kWh; CityLearn's tariff, 0.31 USD/kWh).
REAL_PRICE_SCALE = {"elaad": 0.1, "citylearn": 0.3}
FLEETS = ("thesis", "real")


def tou_period(hour: NDArray[np.int64] | int) -> NDArray[np.int64]:
    """Ontario time-of-use period of each hour: on-peak 7-11 and 17-19, mid-peak 11-17, else off-peak."""
    h = np.asarray(hour) % 24
    on = ((h >= 7) & (h < 11)) | ((h >= 17) & (h < 19))
    mid = (h >= 11) & (h < 17)
    return np.where(on, ON, np.where(mid, MID, OFF))


@dataclass(frozen=True)
class V2VConfig:
    """Parameters of the V2V environment (thesis Table 4.1 and section 4.4.1)."""

    capacity_kwh: float = 42.0
    """Battery capacity E (Table 4.1: 42 kWh, a Toyota RAV4)."""
    soc_min: float = 0.2
    """Lowest recommended SOC (4.4.1: 0.2)."""
    soc_max: float = 0.8
    """Highest recommended SOC (4.4.1: 0.8)."""
    charge_kw: float = 7.2
    """E_max^ch, energy the charger can add in an hour (not given; a level-2 charger)."""
    discharge_kw: float = 7.2
    """E_max^dis, energy that can be taken in an hour (not given; same charger)."""
    data: str = "nd"
    """"nd" normal or "ud" uniform draws (section 4.4.6)."""
    price_scale: str = "section-4.4.1"
    """Prices N(0.82, 0.1), N(1.13, 0.1), N(1.7, 0.1) (section 4.4.1) or Table 4.1's cents."""
    v2v_discount: float = 0.10
    """p_v2v = (1 - v2v_discount) p_Gsell (not given; chosen)."""
    grid_buy_discount: float = 0.30
    """p_Gbuy = (1 - grid_buy_discount) p_Gsell (not given; chosen)."""
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
    extended_obs: bool = False
    """Add hour/24 and hours to departure/24 to the state (4.10) (an option; reported both ways)."""
    fleet: str = "thesis"
    """"thesis": days drawn per Table 4.1 / section 4.4.1 (``data``, ``price_scale``, ``capacity_kwh``,
    ``charge_kw``); "real": days from real data (``real``; battery, powers and prices per day)."""
    real: RealFleetConfig = field(default_factory=RealFleetConfig)
    """(fleet "real") where and how real EV-days are drawn (:mod:`gridledger.data.fleet`)."""

    def __post_init__(self) -> None:
        check_number("capacity_kwh", self.capacity_kwh, gt=0)
        check_number("soc_min", self.soc_min, ge=0, lt=1)
        check_number("soc_max", self.soc_max, gt=self.soc_min, le=1)
        check_number("charge_kw", self.charge_kw, gt=0)
        check_number("discharge_kw", self.discharge_kw, gt=0)
        check_choice("data", self.data, ("nd", "ud"))
        check_choice("price_scale", self.price_scale, tuple(PRICE_SCALES))
        check_number("v2v_discount", self.v2v_discount, ge=0, lt=1)
        check_number("grid_buy_discount", self.grid_buy_discount, gt=self.v2v_discount, lt=1)
        check_number("eta", self.eta)
        check_number("assisted_cost", self.assisted_cost, ge=0)
        check_number("delta_cap", self.delta_cap, gt=0, le=1)
        check_choice("fleet", self.fleet, FLEETS)

    @property
    def obs_dim(self) -> int:
        return 8 if self.extended_obs else 6

    @property
    def price_obs_scale(self) -> float:
        """Scale of the prices in observations: the on-peak mean of the price process."""
        if self.fleet == "real":
            return REAL_PRICE_SCALE[self.real.source]
        return PRICE_SCALES[self.price_scale][2][0]


@dataclass(frozen=True)
class Days:
    """k EV-days: whole-hour arrival and departure, initial SOC, prices per period; real days
    also carry their battery, powers and hourly prices (None: the config's values)."""

    arrival: NDArray[np.int64]
    departure: NDArray[np.int64]
    soc0: NDArray[np.float64]
    prices: NDArray[np.float64]  # (k, 3) off/mid/on grid selling price
    capacity_kwh: NDArray[np.float64] | None = None
    charge_kw: NDArray[np.float64] | None = None
    discharge_kw: NDArray[np.float64] | None = None
    hourly_prices: NDArray[np.float64] | None = None  # (k, 48) grid selling price per hour from midnight

    def __len__(self) -> int:
        return len(self.arrival)

    def pick(self, i: int) -> Days:
        def cut(a: NDArray[Any] | None) -> NDArray[Any] | None:
            return None if a is None else a[i:i + 1]

        return Days(self.arrival[i:i + 1], self.departure[i:i + 1], self.soc0[i:i + 1], self.prices[i:i + 1],
                    cut(self.capacity_kwh), cut(self.charge_kw), cut(self.discharge_kw), cut(self.hourly_prices))


def _draw(rng: np.random.Generator, mean: float, sd: float, k: int, uniform: bool) -> NDArray[np.float64]:
    if uniform:
        half = np.sqrt(3.0) * sd
        return rng.uniform(mean - half, mean + half, k)
    return rng.normal(mean, sd, k)


def real_days(rng: np.random.Generator, k: int, config: V2VConfig,
              ev_ids: NDArray[np.int64] | None = None) -> Days:
    """k EV-days from real data (:func:`gridledger.data.fleet.draw_days`); period prices are
    the means of the arrival day's hours in each time-of-use period."""
    from gridledger.data.fleet import draw_days

    d = draw_days(rng, k, config.real, config.soc_min, config.soc_max, ev_ids)
    period = tou_period(np.arange(24))
    day = d.hourly_price_per_kwh[:, :24]
    prices = np.stack([day[:, period == p].mean(axis=1) for p in (OFF, MID, ON)], axis=1)
    return Days(d.arrival_h, d.departure_h, d.soc0_frac, prices, d.capacity_kwh, d.charge_kw, d.discharge_kw,
                d.hourly_price_per_kwh)


def sample_days(rng: np.random.Generator, k: int, config: V2VConfig,
                ev_ids: NDArray[np.int64] | None = None) -> Days:
    """Draw k EV-days per Table 4.1 / section 4.4.1 (``config.data`` chooses normal or uniform),
    or from real data when ``config.fleet`` is "real" (``ev_ids``: the EV of each row)."""
    if config.fleet == "real":
        return real_days(rng, k, config, ev_ids)
    u = config.data == "ud"
    arrival = np.clip(np.rint(_draw(rng, 7.0, 1.0, k, u)), 4, 10).astype(np.int64)
    departure = np.clip(np.rint(_draw(rng, 18.0, 1.0, k, u)), 8, 22).astype(np.int64)
    departure = np.maximum(departure, arrival + 1)
    soc0 = np.clip(_draw(rng, 0.5, 0.1, k, u), 0.4, 0.9)
    scale = PRICE_SCALES[config.price_scale]
    prices = np.stack([np.maximum(_draw(rng, m, s, k, u), 0.05 * m) for m, s in scale], axis=1)
    return Days(arrival, departure, soc0, prices)


def price_factors(prices: NDArray[np.float64], config: V2VConfig) -> NDArray[np.float64]:
    """delta per period (k, 3): (lambda - lambda_off) / lambda_off, eqs. (4.3)-(4.4), in [0, cap]."""
    if not config.use_delta:
        return np.ones_like(prices)
    off = prices[:, OFF:OFF + 1]
    return np.clip((prices - off) / off, 0.0, config.delta_cap)


class V2VBatchEnv:
    """B EVs stepped together (numpy); each EV starts a new day when its day ends.

    ``step`` returns (obs, reward, done, info) arrays; ``info`` holds the applied energy,
    SOC after the step, delta, p_v2v, the departing flag and the step's proof score, so that
    rewards can be recomputed. Days come from ``sample_days`` with the env's generator;
    :meth:`reset` accepts given days (tests replay them in the single-EV env).
    """

    def __init__(self, n: int, config: V2VConfig | None = None, seed: int | None = None,
                 auto_reset: bool = True, evs: int | None = None) -> None:
        self.n = n
        self.config = config or V2VConfig()
        self.rng = np.random.default_rng(seed)
        self.auto_reset = auto_reset
        # Rows belong to ``evs`` EVs in equal consecutive blocks (each row its own EV by default);
        # real fleets keep an EV's model across its days.
        self.ev_of_row = np.arange(n) // max(1, n // evs) if evs else np.arange(n)
        self.days_seen: list[Days] = []
        self.reset()

    def _start(self, idx: NDArray[np.int64], days: Days) -> None:
        c = self.config
        self.arrival[idx] = days.arrival
        self.departure[idx] = days.departure
        self.soc[idx] = days.soc0
        self.prices[idx] = days.prices
        self.delta[idx] = price_factors(days.prices, self.config)
        self.hour[idx] = days.arrival
        self.capacity[idx] = c.capacity_kwh if days.capacity_kwh is None else days.capacity_kwh
        self.charge_kw[idx] = c.charge_kw if days.charge_kw is None else days.charge_kw
        self.discharge_kw[idx] = c.discharge_kw if days.discharge_kw is None else days.discharge_kw
        if days.hourly_prices is not None:
            self.hourly[idx] = days.hourly_prices

    def reset(self, days: Days | None = None) -> NDArray[np.float32]:
        n = self.n
        self.arrival = np.zeros(n, dtype=np.int64)
        self.departure = np.zeros(n, dtype=np.int64)
        self.hour = np.zeros(n, dtype=np.int64)
        self.soc = np.zeros(n)
        self.prices = np.zeros((n, 3))
        self.delta = np.zeros((n, 3))
        self.capacity = np.zeros(n)
        self.charge_kw = np.zeros(n)
        self.discharge_kw = np.zeros(n)
        self.hourly = np.zeros((n, 48)) if self.config.fleet == "real" else None
        d = days if days is not None else sample_days(self.rng, n, self.config, self.ev_of_row)
        self.days_seen = [d]
        self._start(np.arange(n), d)
        return self.observe()

    def current_prices(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
                                      NDArray[np.float64]]:
        """(delta_t, p_v2v, p_Gbuy, p_Gsell) of each EV's current hour."""
        c = self.config
        period = tou_period(self.hour)
        rows = np.arange(self.n)
        p_sell = self.prices[rows, period] if self.hourly is None else self.hourly[rows, np.minimum(self.hour, 47)]
        return (self.delta[rows, period], (1 - c.v2v_discount) * p_sell, (1 - c.grid_buy_discount) * p_sell,
                p_sell)

    def observe(self) -> NDArray[np.float32]:
        c = self.config
        delta, p_v2v, p_buy, p_sell = self.current_prices()
        omega = np.full(self.n, c.assisted_cost if c.assisted else 0.0)
        cols = [delta, self.soc, p_v2v, p_buy, p_sell, omega]
        if c.extended_obs:
            cols += [self.hour / 24.0, (self.departure - self.hour) / 24.0]
        return np.stack(cols, axis=1).astype(np.float32)

    def step(self, action: NDArray[np.float64]) -> tuple[NDArray[np.float32], NDArray[np.float64],
                                                          NDArray[np.bool_], dict[str, Any]]:
        c = self.config
        a = np.clip(np.asarray(action, dtype=float).reshape(self.n), -1.0, 1.0)
        asked = np.where(a >= 0, a * self.charge_kw, a * self.discharge_kw)
        lo = np.maximum(-(self.soc - c.soc_min) * self.capacity, -self.discharge_kw)
        hi = np.minimum((c.soc_max - self.soc) * self.capacity, self.charge_kw)
        hi = np.maximum(hi, lo)  # an SOC outside the limits forces the move back (4.13)
        energy = np.clip(asked, lo, hi)
        delta, p_v2v, p_buy, p_sell = self.current_prices()
        omega = c.assisted_cost if c.assisted else 0.0
        self.soc = self.soc + energy / self.capacity
        departing = self.hour + 1 >= self.departure
        reward = -delta * energy * (p_v2v + omega)                      # eq. (4.14)
        ra = (self.soc - c.soc_max) ** 2                                # eq. (4.15)
        reward = reward + np.where(departing, c.eta * ra, 0.0)
        score = -delta * energy + np.where(departing, c.soc_max - self.soc, 0.0)   # eq. (4.1)
        info = {"energy_kwh": energy, "soc": self.soc.copy(), "delta": delta, "p_v2v": p_v2v, "p_grid_buy": p_buy,
                "p_grid_sell": p_sell, "departing": departing, "proof_score": score, "hour": self.hour.copy()}
        self.hour = self.hour + 1
        done = departing
        if done.any() and self.auto_reset:
            idx = np.flatnonzero(done)
            days = sample_days(self.rng, len(idx), c, self.ev_of_row[idx])
            self.days_seen.append(days)
            self._start(idx, days)
        return self.observe(), reward, done, info


class V2VEnv(gym.Env):
    """``gridledger/V2V-v0``: one EV's day (Gymnasium API)."""

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(self, config: V2VConfig | None = None, **kwargs: Any) -> None:
        self.config = config or V2VConfig(**kwargs)
        high = [1.0, 1.0, 100.0, 100.0, 100.0, 10.0] + ([1.0, 1.0] if self.config.extended_obs else [])
        low = np.zeros(len(high), dtype=np.float32)
        if self.config.fleet == "real":
            low[2:5] = -100.0  # day-ahead prices can be negative
        self.observation_space = spaces.Box(low, np.array(high, dtype=np.float32), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self._batch = V2VBatchEnv(1, self.config, seed=0, auto_reset=False)
        self._done = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        days = (options or {}).get("day")
        obs = self._batch.reset(days if days is not None else sample_days(self.np_random, 1, self.config))
        self._done = False
        b = self._batch
        return obs[0], {"arrival": int(b.arrival[0]), "departure": int(b.departure[0]), "soc": float(b.soc[0])}

    def step(self, action):
        if self._done:
            raise RuntimeError("the day is over: call reset()")
        obs, reward, done, info = self._batch.step(np.asarray(action, dtype=float).reshape(1))
        self._done = bool(done[0])
        out: dict[str, Any] = {k: float(v[0]) for k, v in info.items() if k not in ("departing", "hour")}
        out["departing"] = bool(info["departing"][0])
        out["hour"] = int(info["hour"][0])
        return obs[0], float(reward[0]), self._done, False, out
