"""The prosumer community of the thesis (chapter 3), end to end: one day, on chain, reports and figures."""
