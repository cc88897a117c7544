"""The EV fleet of the thesis (chapter 4), end to end: training, evaluation, settlement on chain, reports."""
