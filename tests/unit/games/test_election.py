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


# ---- the seeded draws of the on-chain election (ProofStaking.elect and pick)

@pytest.mark.seed_sensitive
def test_seeded_selection_frequencies_match_weights():
    from scipy import stats

    from gridledger.games.election import seeded_selection

    seed = bytes(range(32))
    w = [6, 0, 3, 1]
    counts = np.zeros(4)
    for a in range(3000):  # successive draws of one seed are independent
        counts[seeded_selection(w, seed, a)] += 1
    assert counts[1] == 0  # a zero weight is never drawn
    p = stats.chisquare(counts[[0, 2, 3]], 3000 * np.array([0.6, 0.3, 0.1])).pvalue
    assert p > 1e-6, counts
    assert stats.chisquare(counts[[0, 2, 3]], np.full(3, 1000.0)).pvalue < 1e-6  # a wrong law is rejected


def test_seeded_selection_is_a_function_of_seed_and_attempt():
    from gridledger.games.election import seeded_draw, seeded_selection

    seed = bytes(range(32))
    assert seeded_selection([1, 1, 1], seed, 3) == seeded_selection([1, 1, 1], seed, 3)
    assert len({seeded_draw(seed, a) for a in range(9)}) == 9
    assert seeded_selection([0, 0], seed) is None
    with pytest.raises(ValueError, match="non-negative"):
        seeded_selection([1, -1], seed)
    with pytest.raises(ValueError, match="32 bytes"):
        seeded_draw(b"short", 0)


def test_seeded_election_rejects_draws_of_excluded_validators():
    """Rejection sampling: an eligible validator wins with probability stake / eligible stake."""
    from scipy import stats

    from gridledger.games.election import seeded_election

    weights, owners = [4, 2, 3, 1], [0, 1, 0, 2]  # validator 0 holds two stakes
    counts = np.zeros(3)
    for k in range(2000):
        seed = k.to_bytes(32, "big")
        winner, nxt = seeded_election(weights, owners, lambda v: v != 1, seed)
        assert winner in (0, 2) and nxt >= 1
        counts[winner] += 1
    p = stats.chisquare(counts[[0, 2]], 2000 * np.array([7 / 8, 1 / 8])).pvalue
    assert p > 0.001, counts
    assert seeded_election(weights, owners, lambda v: v == 1, bytes(32))[0] == 1  # the only eligible one
    assert seeded_election([0, 5], [0, 1], lambda v: v == 0, bytes(32)) == (None, 0)  # no eligible stake
    with pytest.raises(ValueError, match="same length"):
        seeded_election([1], [0, 1], lambda v: True, bytes(32))


def test_election_entropy_ignores_the_order_of_reveals():
    from eth_utils import to_checksum_address

    from gridledger.games.election import election_entropy, election_seed

    a = (to_checksum_address("0x" + "11" * 20), bytes([1]) * 32)
    b = (to_checksum_address("0x" + "22" * 20), bytes([2]) * 32)
    assert election_entropy([a, b]) == election_entropy([b, a]) != election_entropy([a])
    assert election_entropy([]) == bytes(32)
    s1 = election_seed(election_entropy([a, b]), bytes(32), a[0], 1)
    assert s1 != election_seed(election_entropy([a, b]), bytes(32), a[0], 2)
