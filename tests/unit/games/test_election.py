import numpy as np
import pytest
from scipy.stats import chisquare

from gridledger.games.election import (
    NoEligibleMinerError,
    elect_with_penalties,
    selection_probabilities,
    weighted_random_selection,
)


def test_probabilities_follow_eq_3_16():
    assert selection_probabilities([1.0, 3.0, 0.0]) == pytest.approx([0.25, 0.75, 0.0])
    with pytest.raises(NoEligibleMinerError):
        selection_probabilities([0.0, 0.0])


def test_wrs_frequencies_match_probabilities():
    scores = np.array([7.68, 2.84, 1.07, 0.3])
    rng = np.random.default_rng(2024)
    draws = np.array([weighted_random_selection(scores, rng) for _ in range(20_000)])
    observed = np.bincount(draws, minlength=4)
    expected = selection_probabilities(scores) * len(draws)
    assert chisquare(observed, expected).pvalue > 0.001
    # A wrong law is detected by the same test.
    assert chisquare(observed, np.full(4, len(draws) / 4)).pvalue < 1e-6


def test_refusing_miner_is_slashed_and_replaced():
    scores = [10.0, 0.0001, 5.0]
    res = elect_with_penalties(scores, lambda k: k == 0, np.random.default_rng(0))
    assert res.miner in (1, 2)
    assert 0 in res.slashed
    assert all(a.candidate != 0 for a in res.attempts if not a.refused)
    # Every refusal in the record is from a slashed candidate.
    assert {a.candidate for a in res.attempts if a.refused} == set(res.slashed)


def test_all_refuse():
    res = elect_with_penalties([1.0, 2.0], lambda k: True, np.random.default_rng(0))
    assert res.miner is None and set(res.slashed) == {0, 1}
