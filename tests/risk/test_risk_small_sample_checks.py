"""Issue 17 item 19: Cornish-Fisher outside its valid range is said; an exact binomial p-value
stands beside Kupiec's asymptotic likelihood ratio."""

import numpy as np
import pytest
from scipy import stats

from autoport.risk.var import cornish_fisher_quantile, cornish_fisher_valid, parametric_var
from autoport.risk.var_backtest import exact_binomial_pvalue, kupiec_pof


def _increasing_everywhere(skew, exkurt):
    # the expansion written out in z (Cornish and Fisher 1937), on a wide grid
    z = np.linspace(-6, 6, 60001)
    q = z + (z**2 - 1) * skew / 6 + (z**3 - 3 * z) * exkurt / 24 - (2 * z**3 - 5 * z) * skew**2 / 36
    return bool(np.all(np.diff(q) > 0))


def test_the_library_expansion_is_the_written_one():
    z = stats.norm.ppf(0.01)
    s, k = -0.4, 5.0
    assert cornish_fisher_quantile(0.01, s, k) == pytest.approx(
        z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36
    )


@pytest.mark.parametrize(
    "skew,exkurt", [(0.0, 3.0), (0.0, 7.5), (0.0, 13.9), (0.0, -0.06), (0.0, -1.0), (-0.5, 4.0), (-1.5, 3.0),
     (0.3, 9.0), (-1.2, 12.0)]
)
def test_cornish_fisher_domain_matches_a_numerical_monotonicity_check(skew, exkurt):
    assert cornish_fisher_valid(skew, exkurt) == _increasing_everywhere(skew, exkurt)


def test_fat_tails_get_a_note_and_mild_ones_do_not():
    rng = np.random.default_rng(0)
    fat = rng.standard_t(2.5, size=(3000, 2)) * 0.01  # excess kurtosis far above 8
    assert stats.kurtosis(fat.mean(1)) > 8
    note = parametric_var(fat, [0.5, 0.5], confidence=0.99, distribution="cornish_fisher")
    assert "valid range" in note.details["note"]
    mild = rng.normal(size=(3000, 2)) * 0.01
    ok = parametric_var(mild, [0.5, 0.5], confidence=0.99, distribution="cornish_fisher")
    assert "note" not in ok.details


def test_zero_breaches_in_a_year_at_99_percent():
    # LR = -2 * 250 * ln(0.99) = 5.025 -> chi2(1) p = 0.025: rejects at 5%.
    lr = kupiec_pof(0, 250, 0.99)
    assert lr.statistic == pytest.approx(-500 * np.log(0.99))
    assert lr.pvalue == pytest.approx(0.0250, abs=5e-4)
    # Exact: P(X=0) = 0.99^250 = 0.0811; counts no likelier are 0 and >= 5 (pmf(5) = 0.0664 <
    # 0.0811 < pmf(4) = 0.1338), so p = 0.99^250 + P(X >= 5) = 0.189: does not reject.
    hand = 0.99**250 + stats.binom.sf(4, 250, 0.01)
    exact = exact_binomial_pvalue(0, 250, 0.99)
    assert exact == pytest.approx(hand, rel=1e-9)
    assert exact == pytest.approx(0.189, abs=1e-3)
    assert exact == pytest.approx(stats.binomtest(0, 250, 0.01).pvalue, rel=1e-9)


@pytest.mark.parametrize("x,t,conf", [(3, 250, 0.99), (12, 250, 0.95), (30, 500, 0.95), (1, 60, 0.975)])
def test_exact_pvalue_agrees_with_scipy_binomtest(x, t, conf):
    assert exact_binomial_pvalue(x, t, conf) == pytest.approx(
        stats.binomtest(x, t, 1 - conf).pvalue, rel=1e-9
    )
