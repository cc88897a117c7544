"""Distribution networks: simbench's German LV benchmark grids (with their year of standard
load and PV profiles) and pandapower's IEEE European LV test feeder.

- :func:`simbench_feeder` loads a simbench grid by code (``1-LV-rural1--0-sw``; every LV code
  of ``simbench.collect_all_simbench_codes()``), offline, from the simbench package.
- :func:`simbench_profiles` turns the grid's loads into a :class:`HomeSeries`: one "home" per
  load, its consumption the load's absolute profile and its generation the PV generators on
  the same bus, 96 quarter hours per day over 2016. These are simbench's *representative
  standard profiles* (household H0, agricultural L1/L2, commercial G...), scaled to each load's
  rating, not measurements of those consumers.
- :func:`ieee_eu_lv_feeder`: the IEEE European LV test feeder (906 LV buses, 55 single-phase
  household loads) from ``pandapower.networks.ieee_european_lv_asymmetric``; its loads are
  folded into balanced three-phase loads (sum of the phases) for the balanced power flow.

Coordinates: simbench gives longitude/latitude (projected here on a local plane), the IEEE
feeder metres; both end up in km (:class:`gridledger.grid.feeders.Feeder`).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import warnings
from typing import Any

import numpy as np

from gridledger.data.records import HomeSeries
from gridledger.errors import ConfigError
from gridledger.grid.feeders import Feeder
from gridledger.grid.highs import stdout_to_stderr

IEEE_EU_LV = "ieee-eu-lv"
IEEE_EU_LV_SCENARIOS = ("on_peak_566", "off_peak_1", "off_peak_1440")
EARTH_RADIUS_KM = 6371.0
SIMBENCH_SOURCE = ("simbench {code} (German LV benchmark grid with a year of representative standard load and PV "
                   "profiles, 2016, 15-minute; simbench.de, ODbL)")


def _quiet() -> None:
    logging.getLogger("pandapower").setLevel(logging.ERROR)
    logging.getLogger("simbench").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="pandapower")
    warnings.filterwarnings("ignore", module="simbench")


# simbench's import makes a HiGHS object, whose banner goes to the C-level stdout: every call
# into simbench and pandapower here runs with stdout pointed at stderr (--json stays clean).


@functools.cache
def simbench_lv_codes() -> tuple[str, ...]:
    """The LV grid codes simbench ships (``1-LV-...``)."""
    _quiet()
    with stdout_to_stderr():
        import simbench

        return tuple(c for c in simbench.collect_all_simbench_codes() if c.startswith("1-LV-"))


def _geo_xy(net: Any) -> dict[int, tuple[float, float]]:
    """Bus coordinates in km on a local plane (lon/lat degrees projected equirectangularly;
    coordinates that are not degrees are taken as metres)."""
    raw: dict[int, tuple[float, float]] = {}
    col = net.bus["geo"] if "geo" in net.bus.columns else None
    if col is not None:
        for b, g in col.items():
            if isinstance(g, str) and g:
                try:
                    x, y = json.loads(g)["coordinates"][:2]
                except (ValueError, KeyError, TypeError):
                    continue
                raw[int(b)] = (float(x), float(y))
    if not raw:
        return {}
    arr = np.array(list(raw.values()))
    degrees = bool(np.all(np.abs(arr[:, 0]) <= 180) and np.all(np.abs(arr[:, 1]) <= 90))
    if degrees:
        lon0, lat0 = arr.mean(axis=0)
        kx = np.deg2rad(1.0) * EARTH_RADIUS_KM * np.cos(np.deg2rad(lat0))
        ky = np.deg2rad(1.0) * EARTH_RADIUS_KM
        return {b: ((x - lon0) * kx, (y - lat0) * ky) for b, (x, y) in raw.items()}
    return {b: (x / 1000.0, y / 1000.0) for b, (x, y) in raw.items()}


def check_simbench_code(code: str) -> str:
    if code not in simbench_lv_codes():
        raise ConfigError("network", f"{code!r} is not a simbench LV grid code (for example 1-LV-rural1--0-sw, "
                          "1-LV-semiurb4--0-sw, 1-LV-urban6--0-sw)")
    return code


@functools.cache
def _simbench_net(code: str) -> Any:
    _quiet()
    with stdout_to_stderr():
        import simbench

        return simbench.get_simbench_net(code)


def simbench_feeder(code: str = "1-LV-rural1--0-sw") -> Feeder:
    """A simbench LV grid as a :class:`Feeder` (loaded once per process)."""
    check_simbench_code(code)
    net = _simbench_net(code)
    slack = int(net.ext_grid.bus.iloc[0])
    return Feeder(name=code, source=SIMBENCH_SOURCE.format(code=code), net=net,
                  load_buses=tuple(int(b) for b in net.load.bus), bus_xy_km=_geo_xy(net), slack_bus=slack)


def simbench_profiles(feeder: Feeder) -> HomeSeries:
    """The feeder's loads with simbench's profiles: kWh per quarter hour over 2016.

    Consumption: the load's active-power profile (``get_absolute_values``, MW) x 250 (kWh in
    15 minutes). Generation: the PV generators on the load's bus, split equally between the
    loads on that bus.
    """
    _quiet()
    net = feeder.net
    if "profiles" not in net or "load" not in net.profiles:
        raise ConfigError("network", f"{feeder.name} has no profiles")
    with stdout_to_stderr():
        import simbench

        values = simbench.get_absolute_values(net, profiles_instead_of_study_cases=True)
    load_mw = np.asarray(values[("load", "p_mw")].to_numpy(), dtype=float)      # (T, loads)
    sgen_mw = np.asarray(values[("sgen", "p_mw")].to_numpy(), dtype=float)      # (T, sgens)
    t = load_mw.shape[0]
    days = t // 96
    load_kwh = load_mw[: days * 96].T.reshape(len(net.load), days, 96) * 250.0
    gen_kwh = np.zeros_like(load_kwh)
    pv_kw = np.zeros(len(net.load))
    buses = np.asarray(net.load.bus)
    for k, bus in enumerate(np.asarray(net.sgen.bus)):
        at = np.flatnonzero(buses == bus)
        if len(at) == 0:
            continue
        share = sgen_mw[: days * 96, k].reshape(days, 96) * 250.0 / len(at)
        for i in at:
            gen_kwh[i] += share
            pv_kw[i] += float(net.sgen.sn_mva.iloc[k]) * 1000.0 / len(at)
    start = _first_time(net)
    dates = tuple(start + dt.timedelta(days=d) for d in range(days))
    names = tuple(f"{n} ({p})" for n, p in zip(net.load.name, net.load.profile, strict=True))
    notes = (f"{len(net.load)} loads of {feeder.name} with simbench standard profiles; PV generators on a load's bus "
             "are shared equally by its loads; negative quarter-hour values of a profile are kept",)
    return HomeSeries(feeder.source, names, dates, load_kwh, gen_kwh, pv_kw, measured=False, notes=notes)


def _first_time(net: Any) -> dt.date:
    try:
        first = str(net.profiles["load"]["time"].iloc[0])
        return dt.datetime.strptime(first, "%d.%m.%Y %H:%M").date()
    except (KeyError, ValueError, IndexError):
        return dt.date(2016, 1, 1)


@functools.cache
def _ieee_net(scenario: str) -> Any:
    _quiet()
    with stdout_to_stderr():
        import pandapower as pp
        import pandapower.networks as pn

        net = pn.ieee_european_lv_asymmetric(scenario)
    # Balanced equivalent: each single-phase load becomes a three-phase load of the same total power.
    for _, row in net.asymmetric_load.iterrows():
        pp.create_load(net, int(row.bus), p_mw=float(row.p_a_mw + row.p_b_mw + row.p_c_mw),
                       q_mvar=float(row.q_a_mvar + row.q_b_mvar + row.q_c_mvar), name=str(row["name"]))
    net.asymmetric_load["in_service"] = False
    return net


def ieee_eu_lv_feeder(scenario: str = "on_peak_566") -> Feeder:
    """pandapower's IEEE European LV test feeder (55 household loads) as a :class:`Feeder`."""
    if scenario not in IEEE_EU_LV_SCENARIOS:
        raise ConfigError("scenario", f"must be one of {', '.join(IEEE_EU_LV_SCENARIOS)} (got {scenario!r})")
    net = _ieee_net(scenario)
    return Feeder(name=IEEE_EU_LV, source=("IEEE European LV test feeder (pandapower.networks."
                                            f"ieee_european_lv_asymmetric, scenario {scenario}; single-phase loads "
                                            "folded into balanced loads)"),
                  net=net, load_buses=tuple(int(b) for b in net.load.bus), bus_xy_km=_geo_xy(net),
                  slack_bus=int(net.ext_grid.bus.iloc[0]))


def feeder_by_name(name: str) -> Feeder:
    """``ieee-eu-lv`` or a simbench LV code."""
    if name == IEEE_EU_LV:
        return ieee_eu_lv_feeder()
    return simbench_feeder(name)
