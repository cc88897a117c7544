"""Pure economics: utilities, equilibria, proof scores, coalitions, Shapley values, miner election.

Functions here take frozen dataclasses and numpy arrays and return new values; no I/O, no
global state. Each cites the source equation it implements.
"""
