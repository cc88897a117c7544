"""The elecoin market of the paper, end to end: solve, settle on chain, reports and figures."""
