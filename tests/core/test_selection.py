"""Deflated Sharpe ratio and PBO against hand calculations written out here."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from autoport.errors import DataError
from autoport.selection import backtest_overfitting, deflated_sharpe, sharpe_ratios


def dsr_by_hand(sr, n_obs, skew, kurtosis, n_trials, trial_sr_var):
    """Bailey & López de Prado (2014), eqs. for SR0 and DSR, per period, kurtosis not excess."""
    gamma = np.euler_gamma
    sr0 = np.sqrt(trial_sr_var) * (
        (1 - gamma) * stats.norm.ppf(1 - 1 / n_trials)
        + gamma * stats.norm.ppf(1 - 1 / (n_trials * np.e))
    )
    z = (sr - sr0) * np.sqrt(n_obs - 1) / np.sqrt(1 - skew * sr + (kurtosis - 1) / 4 * sr**2)
    return stats.norm.cdf(z), sr0


def test_the_hand_formula_reproduces_the_papers_example():
    # The paper's section 6: 100 trials, annualised SR 2.5 and variance of trial SRs 0.5 over
    # 250 days a year, 1,250 daily observations, skew -3, kurtosis 10: SR0 = 0.1132 a day
    # (1.7894 a year) and DSR = 0.9004.
    dsr, sr0 = dsr_by_hand(2.5 / np.sqrt(250), 1250, -3.0, 10.0, 100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    assert sr0 * np.sqrt(250) == pytest.approx(1.7894, abs=5e-5)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


def test_deflated_sharpe_equals_the_hand_calculation_on_a_skewed_series():
    rng = np.random.default_rng(7)
    winner = 0.0008 + 0.01 * (rng.standard_t(4, 750) - 0.3 * rng.exponential(1.0, 750))
    trials = np.concatenate([[winner.mean() / winner.std(ddof=1)], rng.normal(0.0, 0.02, 49)])
    got = deflated_sharpe(winner, trials)

    sr = winner.mean() / winner.std(ddof=1)
    skew = stats.skew(winner, bias=True)
    kurt = stats.kurtosis(winner, fisher=False, bias=True)
    want, sr0 = dsr_by_hand(sr, len(winner), skew, kurt, 50, trials.var(ddof=1))
    assert got.sharpe == pytest.approx(sr, rel=1e-12)
    assert got.benchmark_sharpe == pytest.approx(sr0, rel=1e-10)
    assert got.dsr == pytest.approx(want, rel=1e-9)
    psr, _ = dsr_by_hand(sr, len(winner), skew, kurt, 2, 0.0)  # SR0 = 0: no deflation
    assert got.psr == pytest.approx(psr, rel=1e-9)
    assert got.n_trials == 50 and got.n_observations == 750
    assert got.dsr < got.psr  # the search costs confidence


def test_one_trial_is_not_deflated_and_failed_trials_are_dropped():
    rng = np.random.default_rng(1)
    r = 0.001 + 0.01 * rng.standard_normal(500)
    alone = deflated_sharpe(r, [0.1])
    assert alone.benchmark_sharpe == 0.0
    assert alone.dsr == pytest.approx(alone.psr, rel=1e-12)
    with_failures = deflated_sharpe(r, [0.1, np.nan, 0.05, np.nan])
    assert with_failures.n_trials == 2
    with pytest.raises(DataError, match="all of them failed"):
        deflated_sharpe(r, [np.nan, np.nan])


def test_more_trials_deflate_more():
    rng = np.random.default_rng(3)
    r = 0.001 + 0.01 * rng.standard_normal(500)
    spread = rng.normal(0.0, 0.03, 1000)
    few, many = deflated_sharpe(r, spread[:10]), deflated_sharpe(r, spread)
    assert many.benchmark_sharpe > few.benchmark_sharpe
    assert many.dsr < few.dsr


# CSCV by hand: 4 blocks of 2 identical rows, 4 trials, ranked by the mean. Block means (x 1%):
#   A: [ 2,  2,  2,  2]   B: [ 6, -1, -1, -1]   C: [0, 0, 0, 1]   D: [1, 1, 1, 1]
# In-sample halves, winner, its out-of-sample mean and rank among 4 (ties averaged), logit of
# rank / 5:
#   {0,1}: B 2.5 beats A 2 -> OOS {2,3}: A 2, B -1, C .5, D 1 -> B rank 1 -> ln(.2/.8) = -1.3863
#   {0,2}: B 2.5           -> OOS {1,3}: A 2, B -1, C .5, D 1 -> rank 1 -> -1.3863
#   {0,3}: B 2.5           -> OOS {1,2}: A 2, B -1, C 0,  D 1 -> rank 1 -> -1.3863
#   {1,2}: A 2             -> OOS {0,3}: A 2, B 2.5, C .5, D 1 -> rank 3 -> ln(.6/.4) = +0.4055
#   {1,3}: A 2             -> OOS {0,2}: A 2, B 2.5, C 0,  D 1 -> rank 3 -> +0.4055
#   {2,3}: A 2             -> OOS {0,1}: A 2, B 2.5, C 0,  D 1 -> rank 3 -> +0.4055
# PBO = 3/6 = 0.5; the winner loses out of sample in 3 of 6 splits.
HAND_BLOCKS = np.array([[2, 6, 0, 1], [2, -1, 0, 1], [2, -1, 0, 1], [2, -1, 1, 1]]) / 100


def test_pbo_equals_the_hand_calculation():
    returns = np.repeat(HAND_BLOCKS, 2, axis=0)
    got = backtest_overfitting(returns, n_blocks=4, metric="mean")
    assert got.n_splits == 6
    np.testing.assert_allclose(
        got.logits, [np.log(0.25)] * 3 + [np.log(1.5)] * 3, rtol=1e-12
    )
    np.testing.assert_allclose(got.winner_in_sample, [0.025] * 3 + [0.02] * 3, rtol=1e-12)
    np.testing.assert_allclose(got.winner_out_of_sample, [-0.01] * 3 + [0.02] * 3, rtol=1e-12)
    assert got.pbo == 0.5
    assert got.prob_oos_loss == 0.5


def test_pbo_sharpe_per_split_equals_a_direct_computation():
    rng = np.random.default_rng(11)
    returns = 0.0003 * rng.standard_normal(8) + 0.01 * rng.standard_normal((103, 8))
    got = backtest_overfitting(returns, n_blocks=6)
    blocks = np.array_split(np.arange(103), 6)
    from itertools import combinations

    for c, half in enumerate(combinations(range(6), 3)):
        rows = np.concatenate([blocks[b] for b in half])
        rest = np.setdiff1d(np.arange(103), rows)
        is_sharpe, oos_sharpe = sharpe_ratios(returns[rows]), sharpe_ratios(returns[rest])
        w = int(np.argmax(is_sharpe))
        assert got.winner_in_sample[c] == pytest.approx(is_sharpe[w], rel=1e-9)
        assert got.winner_out_of_sample[c] == pytest.approx(oos_sharpe[w], rel=1e-9)
        rank = stats.rankdata(oos_sharpe)[w]
        assert got.logits[c] == pytest.approx(np.log(rank / (9 - rank)), rel=1e-12)


def test_pbo_is_zero_for_real_skill_and_near_half_for_pure_noise():
    rng = np.random.default_rng(5)
    noise = 0.01 * rng.standard_normal((1000, 40))
    skilled = noise.copy()
    skilled[:, 17] += 0.004  # one trial earns a large, steady edge
    assert backtest_overfitting(skilled, n_blocks=10).pbo == 0.0
    assert 0.3 < backtest_overfitting(noise, n_blocks=10).pbo < 0.7


@pytest.mark.parametrize(
    "returns, blocks, message",
    [
        (np.zeros((40, 1)), 4, "at least 2 trials"),
        (np.zeros((40, 3)), 5, "even number of blocks"),
        (np.zeros((10, 3)), 8, "at least 16 periods"),
        (np.full((40, 3), np.nan), 4, "NaN"),
    ],
)
def test_pbo_refuses_what_it_cannot_split(returns, blocks, message):
    with pytest.raises(DataError, match=message):
        backtest_overfitting(returns, n_blocks=blocks)
