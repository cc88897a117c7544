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


# Frequency tests accept the right law unless p < 1e-6 (a false alarm for one seed in a million)
# and show in the same test that a wrong law is rejected at that level.

@pytest.mark.seed_sensitive
def test_wrs_frequencies_match_probabilities():
    scores = np.array([7.68, 2.84, 1.07, 0.3])
    rng = np.random.default_rng(2024)
    draws = np.array([weighted_random_selection(scores, rng) for _ in range(20_000)])
    observed = np.bincount(draws, minlength=4)
    expected = selection_probabilities(scores) * len(draws)
    assert chisquare(observed, expected).pvalue > 1e-6
    # A wrong law is detected by the same test.
    assert chisquare(observed, np.full(4, len(draws) / 4)).pvalue < 1e-6


class ScriptedDraws:
    """Stands in for the generator: draws the given candidates in turn, recording each law."""

    def __init__(self, *picks: int):
        self.picks = list(picks)
        self.laws: list[np.ndarray] = []

    def choice(self, n, p):
        assert len(p) == n
        self.laws.append(np.asarray(p, dtype=float))
        k = self.picks.pop(0)
        assert p[k] > 0, "a candidate without probability cannot be drawn"
        return k


def test_refusing_miner_is_slashed_and_replaced():
    # The draw is scripted (candidate 0 first, then 2), so the slashing path is always taken.
    scores = [10.0, 0.0001, 5.0]
    draws = ScriptedDraws(0, 2)
    res = elect_with_penalties(scores, lambda k: k == 0, draws)
    assert res.miner == 2 and res.slashed == (0,)
    assert [(a.candidate, a.refused) for a in res.attempts] == [(0, True), (2, False)]
    # eq. (3.24): the refusing candidate leaves the draw; the others' probabilities are renormalised.
    total = sum(scores)
    assert draws.laws[0] == pytest.approx([10.0 / total, 0.0001 / total, 5.0 / total])
    assert draws.laws[1] == pytest.approx([0.0, 0.0001 / 5.0001, 5.0 / 5.0001])
    assert [a.probability for a in res.attempts] == pytest.approx([10.0 / total, 5.0 / 5.0001])


@pytest.mark.seed_sensitive
@pytest.mark.parametrize("seed", range(20))
def test_refusing_candidate_never_mines_whatever_the_draw(seed):
    res = elect_with_penalties([10.0, 0.0001, 5.0], lambda k: k == 0, np.random.default_rng(seed))
    assert res.miner in (1, 2)
    assert set(res.slashed) <= {0}
    assert [a.candidate for a in res.attempts] == [*res.slashed, res.miner]
    assert [a.refused for a in res.attempts] == [True] * len(res.slashed) + [False]


@pytest.mark.seed_sensitive
def test_all_refuse():
    res = elect_with_penalties([1.0, 2.0], lambda k: True, np.random.default_rng(0))
    assert res.miner is None and set(res.slashed) == {0, 1}


# ---- the seeded draw of the on-chain election (ProofStaking.pick)

@pytest.mark.seed_sensitive
def test_seeded_selection_frequencies_match_weights():
    from scipy import stats

    from gridledger.games.election import seeded_selection

    rng = np.random.default_rng(5)
    w = [6, 0, 3, 1]
    counts = np.zeros(4)
    for _ in range(3000):
        counts[seeded_selection(w, rng.bytes(32), 1)] += 1
    assert counts[1] == 0  # a zero weight is never drawn
    p = stats.chisquare(counts[[0, 2, 3]], 3000 * np.array([0.6, 0.3, 0.1])).pvalue
    assert p > 1e-6, counts
    assert stats.chisquare(counts[[0, 2, 3]], np.full(3, 1000.0)).pvalue < 1e-6  # a wrong law is rejected


def test_seeded_selection_is_a_function_of_seed_round_and_attempt():
    from gridledger.games.election import seeded_draw, seeded_selection

    seed = bytes(range(32))
    assert seeded_selection([1, 1, 1], seed, 3, 0) == seeded_selection([1, 1, 1], seed, 3, 0)
    assert len({seeded_draw(seed, r, a) for r in range(3) for a in range(3)}) == 9
    assert seeded_selection([0, 0], seed, 1) is None
    with pytest.raises(ValueError, match="non-negative"):
        seeded_selection([1, -1], seed, 1)
    with pytest.raises(ValueError, match="32 bytes"):
        seeded_draw(b"short", 1, 0)


def test_seeded_election_excludes_refusers_in_order():
    from gridledger.games.election import elect_with_penalties_seeded

    seed = bytes(32)
    res = elect_with_penalties_seeded([5, 5, 5], lambda k: k != 2, seed, 1)
    assert res.miner == 2
    assert list(res.slashed) == [a.candidate for a in res.attempts if a.refused]
    assert [a.candidate for a in res.attempts][-1] == 2
    assert all(a.refused for a in res.attempts[:-1]) and not res.attempts[-1].refused
    assert len({a.candidate for a in res.attempts}) == len(res.attempts)  # no one drawn twice
    none = elect_with_penalties_seeded([5, 0, 5], lambda k: True, seed, 1)
    assert none.miner is None and sorted(none.slashed) == [0, 2]
