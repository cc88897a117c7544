import numpy as np
import pytest

from gridledger.games.mining import hash_shares, mining_utility, success_probability


def test_hash_shares_sum_to_one_and_keep_proportions():
    beta = hash_shares([1.0, 3.0])
    assert beta == pytest.approx([0.25, 0.75])
    assert beta.sum() == pytest.approx(1.0)


def test_success_probability_matches_paper_formula():
    # rho_j = beta_j exp(-lambda l s); paper defaults lambda = 0.01, l = 1, s = 200, one server.
    assert success_probability([5.0], 0.01, 1, 200)[0] == pytest.approx(np.exp(-2.0))


def test_mining_utility_eq1_with_paper_defaults():
    # U^m = (R_f + r s) beta e^{-lambda l s} = (200 + 600) e^{-2}
    assert mining_utility([1.0], 200, 3, 200, 0.01, 1)[0] == pytest.approx(800 * np.exp(-2.0))


def test_more_servers_and_bigger_blocks_lower_success():
    one = success_probability(np.ones(1), 0.01, 1, 200)[0]
    four = success_probability(np.ones(4), 0.01, 1, 200)[0]
    big = success_probability(np.ones(4), 0.01, 1, 400)[0]
    assert one > four > big


@pytest.mark.parametrize("alpha", [[], [0.0, 1.0], [-1.0], [np.inf]])
def test_invalid_hash_powers_are_refused(alpha):
    with pytest.raises(ValueError, match="alpha"):
        hash_shares(alpha)
