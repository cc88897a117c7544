"""Data: one loader per source, one record type per kind of data (:mod:`gridledger.data.records`).

- homes: CityLearn 2022 (:mod:`~gridledger.data.citylearn`, measured), simbench standard profiles
  (:mod:`~gridledger.data.networks`), Ausgrid-format files (:mod:`~gridledger.data.ausgrid`);
- prices: Dutch day-ahead (:mod:`~gridledger.data.ev_nl`), CityLearn's tariff;
- EVs: real models with Dutch registrations and ElaadNL session statistics
  (:mod:`~gridledger.data.ev_nl`), CityLearn's charger schedules; fleet draws in
  :mod:`~gridledger.data.fleet`;
- networks: simbench LV grids and the IEEE European LV feeder (:mod:`~gridledger.data.networks`);
- synthetic generators (:mod:`~gridledger.data.synthetic`), labelled as such.

Attributed subsets ship in ``samples/``; :mod:`~gridledger.data.sources` finds the full sets.
Provenance, licences and units: docs/data.md.
"""
