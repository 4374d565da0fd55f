"""VaR/ES estimators against closed forms, numpy quantiles, skfolio's measures and each other."""

from __future__ import annotations

import empyrical
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from scipy import integrate, stats

from autoport.errors import ConfigError, DataError
from autoport.risk import var as V
from autoport.risk import var_montecarlo as MC


def normal_panel(n_obs=3000, seed=1, n=4):
    rng = np.random.default_rng(seed)
    mu = np.linspace(-0.0005, 0.001, n)
    sd = np.linspace(0.01, 0.025, n)
    corr = np.full((n, n), 0.4) + 0.6 * np.eye(n)
    cov = corr * np.outer(sd, sd)
    return rng.multivariate_normal(mu, cov, size=n_obs), mu, cov


W4 = np.array([0.4, 0.3, 0.2, 0.1])


# ---------------------------------------------------------------- closed forms


def test_normal_var_es_closed_form():
    var, es = V.normal_var_es(0.001, 0.02, 0.95)
    assert var == pytest.approx(0.001 - 1.6448536269514722 * 0.02, rel=1e-12)
    # ES = mu - sigma * phi(1.6449) / 0.05 = mu - 2.0627128 sigma
    assert es == pytest.approx(0.001 - 2.0627128075074 * 0.02, rel=1e-9)
    # ES is the average of the quantiles below 5%
    integral, _ = integrate.quad(lambda p: stats.norm.ppf(p, 0.001, 0.02), 0, 0.05)
    assert es == pytest.approx(integral / 0.05, rel=1e-7)


def test_student_t_es_matches_quantile_integral():
    nu, mu, sigma = 4.0, 0.0005, 0.015
    var, es = V.student_t_var_es(mu, sigma, nu, 0.99)
    scale = sigma * np.sqrt((nu - 2) / nu)
    assert var == pytest.approx(mu + scale * stats.t.ppf(0.01, nu), rel=1e-12)
    integral, _ = integrate.quad(lambda p: stats.t.ppf(p, nu, mu, scale), 0, 0.01, limit=200)
    assert es == pytest.approx(integral / 0.01, rel=1e-6)


def test_cornish_fisher_reduces_to_normal_without_skew_or_kurtosis():
    assert V.cornish_fisher_var_es(0.0, 0.01, 0.0, 0.0, 0.99) == pytest.approx(
        V.normal_var_es(0.0, 0.01, 0.99), rel=1e-7
    )
    # negative skew pushes the VaR further into the loss tail
    assert (
        V.cornish_fisher_var_es(0.0, 0.01, -0.8, 0.0, 0.99)[0] < V.normal_var_es(0, 0.01, 0.99)[0]
    )


def test_parametric_var_is_mu_plus_z_sigma_of_the_portfolio():
    x, _, _ = normal_panel()
    rp = x @ W4
    mu, sd = rp.mean(), rp.std(ddof=1)
    for h in (1, 5, 10):
        r = V.parametric_var(x, W4, confidence=0.99, horizon=h)
        assert r.var == pytest.approx(h * mu + stats.norm.ppf(0.01) * np.sqrt(h) * sd, rel=1e-10)
        assert r.expected_shortfall < r.var < 0


# ---------------------------------------------------------------- historical


def test_historical_var_is_the_discrete_tail_rule():
    """The one tail rule of autoport.measures (the optimizer's Rockafellar-Uryasev CVaR)."""
    skm = pytest.importorskip("skfolio.measures")
    x, _, _ = normal_panel(n_obs=1234, seed=3)
    rp = x @ W4
    srt = np.sort(rp)
    for c in (0.9, 0.95, 0.99):
        r = V.historical_var(x, W4, confidence=c)
        # by hand: tail mass m = 1234 (1 - c) scenarios (123.4, 61.7, 12.34): VaR is the
        # ceil(m)-th lowest return; ES averages the floor(m) lowest and m - floor(m) of the next
        m = rp.size * (1 - c)
        k = int(np.ceil(m))
        assert r.var == srt[k - 1] == np.quantile(rp, 1 - c, method="inverted_cdf")
        es = (srt[: k - 1].sum() + (m - (k - 1)) * srt[k - 1]) / m
        assert r.expected_shortfall == pytest.approx(es, rel=1e-12)
        # the peer: skfolio's measures use the same rule
        assert r.var == pytest.approx(-skm.value_at_risk(rp, beta=c), rel=1e-12)
        assert r.expected_shortfall == pytest.approx(-skm.cvar(rp, beta=c), rel=1e-12)
        # and it is the LP's value: min over α of α + E[(−r − α)⁺] / (1 − c), at α = −VaR
        ru = -r.var + np.maximum(-rp + r.var, 0).mean() / (1 - c)
        assert -r.expected_shortfall == pytest.approx(ru, rel=1e-12)
        # empyrical (linear quantile, floor((n - 1) a) + 1 lowest) differs only in the tail's
        # last scenario: by less than the gap between neighbouring order statistics
        assert abs(r.expected_shortfall - empyrical.conditional_value_at_risk(rp, 1 - c)) < (
            (srt[k] - srt[0]) / m
        )


def test_historical_multi_day_compounds_overlapping_windows():
    x, _, _ = normal_panel(n_obs=300, seed=4)
    h = 5
    pnl = [(np.prod(1 + x[t : t + h], axis=0) - 1) @ W4 for t in range(x.shape[0] - h + 1)]
    r = V.historical_var(x, W4, horizon=h)
    assert r.n_scenarios == 296
    assert r.var == pytest.approx(np.quantile(pnl, 0.05, method="inverted_cdf"), rel=1e-10)


def test_age_weighted_historical_by_hand():
    # five one-asset returns, decay 0.5: probabilities oldest..newest = [1, 2, 4, 8, 16] / 31
    r = np.array([-0.10, -0.02, 0.01, -0.05, 0.03])[:, None]
    lam = 0.5
    p = lam ** np.arange(5)[::-1]
    p /= p.sum()
    # sorted: -0.10 (1/31), -0.05 (8/31, cumulative 0.29 >= 0.2): the quantile is -0.05
    res = V.historical_var(r, [1.0], confidence=0.8, decay=lam)
    assert res.var == pytest.approx(-0.05)
    es = (p[0] * -0.10 + (0.2 - p[0]) * -0.05) / 0.2
    assert res.expected_shortfall == pytest.approx(es, rel=1e-12)


# ---------------------------------------------------------------- Monte Carlo


def test_mc_normal_converges_to_parametric_within_reported_error():
    x, _, _ = normal_panel()
    model = V.fit_market_model(x)
    rp_mu, rp_sd = model.mean_ @ W4, np.sqrt(W4 @ model.cov_ @ W4)
    var, es = V.normal_var_es(rp_mu, rp_sd, 0.99)
    for sampler in ("antithetic", "plain", "sobol"):
        r = V.monte_carlo_var(model, W4, confidence=0.99, n_paths=200_000, seed=7, sampler=sampler)
        assert 0 < r.mc_error < 0.05 * abs(var)
        assert abs(r.var - var) < 4 * r.mc_error, sampler
        assert abs(r.expected_shortfall - es) < 4 * r.es_mc_error, sampler


def test_mc_student_t_matches_closed_form_t():
    x, _, _ = normal_panel()
    model = V.fit_market_model(x)
    mu, sd = model.mean_ @ W4, np.sqrt(W4 @ model.cov_ @ W4)
    var, es = V.student_t_var_es(mu, sd, 4.0, 0.99)
    r = V.monte_carlo_var(
        model, W4, confidence=0.99, distribution="student_t", dof=4.0, n_paths=200_000, seed=3
    )
    assert abs(r.var - var) < 4 * r.mc_error
    assert abs(r.expected_shortfall - es) < 4 * r.es_mc_error


def test_mc_is_seeded_and_reproducible():
    x, _, _ = normal_panel(n_obs=500)
    a = V.monte_carlo_var(x, W4, n_paths=5000, seed=11)
    b = V.monte_carlo_var(x, W4, n_paths=5000, seed=11)
    c = V.monte_carlo_var(x, W4, n_paths=5000, seed=12)
    assert a.var == b.var and a.expected_shortfall == b.expected_shortfall
    assert a.var != c.var


@pytest.mark.parametrize(
    ("distribution", "horizon", "sampler"),
    [
        ("normal", 1, "antithetic"),
        ("student_t", 5, "plain"),
        ("copula", 1, "antithetic"),
        ("normal", 2, "sobol"),
    ],
)
def test_mc_does_not_depend_on_thread_count(distribution, horizon, sampler):
    x, _, _ = normal_panel(n_obs=500)
    runs = [
        V.monte_carlo_var(
            x,
            W4,
            distribution=distribution,
            horizon=horizon,
            sampler=sampler,
            n_paths=10_000,
            seed=5,
            dof=5.0,
            n_threads=t,
        )
        for t in (1, 2)
    ]
    assert runs[0].var == runs[1].var
    assert runs[0].expected_shortfall == runs[1].expected_shortfall
    np.testing.assert_array_equal(runs[0].asset_tail_mean, runs[1].asset_tail_mean)


def test_mc_multi_day_paths_and_copula_agree_with_normal_on_normal_data():
    x, _, _ = normal_panel(n_obs=5000, seed=9)
    model = V.fit_market_model(x)
    mu, sd = model.mean_ @ W4, np.sqrt(W4 @ model.cov_ @ W4)
    # 10 compounded daily steps: close to the normal with 10 mu, sqrt(10) sigma (not exact:
    # compounding), within 3% of the figure
    var10, _ = V.normal_var_es(10 * mu, np.sqrt(10) * sd, 0.95)
    r10 = V.monte_carlo_var(model, W4, horizon=10, n_paths=40_000, seed=1)
    assert r10.var == pytest.approx(var10, rel=0.03)
    cop = V.monte_carlo_var(x, W4, distribution="copula", n_paths=100_000, seed=2)
    var1, _ = V.normal_var_es(mu, sd, 0.95)
    assert cop.var == pytest.approx(var1, rel=0.03)


# ---------------------------------------------------------------- invariants and bad input


@settings(max_examples=40, deadline=None)
@given(
    mu=hst.floats(-0.01, 0.0),
    sigma=hst.floats(0.002, 0.05),
    conf=hst.sampled_from([0.9, 0.95, 0.975, 0.99]),
    seed=hst.integers(0, 10_000),
    method=hst.sampled_from([m.value for m in V.VaRMethod]),
)
def test_es_below_var_below_zero_for_loss_making_distributions(mu, sigma, conf, seed, method):
    rng = np.random.default_rng(seed)
    x = mu + sigma * rng.standard_t(5, size=(400, 3)) * np.sqrt(3 / 5)
    r = V.compute_var(
        method, x, np.array([0.5, 0.3, 0.2]), confidence=conf, n_paths=2000, seed=seed
    )
    assert r.expected_shortfall <= r.var < 0


@settings(max_examples=60, deadline=None)
@given(
    hst.lists(hst.floats(-0.5, 0.5), min_size=5, max_size=200), hst.sampled_from([0.9, 0.95, 0.99])
)
def test_historical_es_never_above_var(values, conf):
    r = V.historical_var(np.array(values), [1.0], confidence=conf)
    assert r.expected_shortfall <= r.var + 1e-15


def test_bad_inputs_raise_named_errors():
    x, _, _ = normal_panel(n_obs=50)
    with pytest.raises(ConfigError, match="confidence"):
        V.parametric_var(x, W4, confidence=1.2)
    with pytest.raises(ConfigError, match="horizon"):
        V.historical_var(x, W4, horizon=0)
    with pytest.raises(DataError, match="weights"):
        V.parametric_var(x, W4[:3])
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        V.historical_var(bad, W4)
    with pytest.raises(ConfigError, match="unknown VaR method"):
        V.compute_var("garch", x, W4)


@pytest.mark.parametrize("conf", [0.9, 0.95, 0.99])
def test_age_weighted_matches_skfolio_weighted_var_and_cvar(conf):
    # skfolio's measures take losses positive and sample weights; same definitions otherwise
    skm = pytest.importorskip("skfolio.measures")
    x, _, _ = normal_panel(n_obs=750, seed=8)
    rp = x @ W4
    lam = 0.98
    p = lam ** np.arange(rp.size)[::-1]
    r = V.historical_var(x, W4, confidence=conf, decay=lam)
    assert r.var == pytest.approx(-skm.value_at_risk(rp, beta=conf, sample_weight=p), rel=1e-12)
    es = -skm.cvar(rp, beta=conf, sample_weight=p)
    assert r.expected_shortfall == pytest.approx(es, rel=1e-9)


def test_short_form_on_a_return_series_and_an_equal_weight_table():
    x, _, _ = normal_panel(n_obs=800, seed=12)
    rp = x.mean(axis=1)
    one = V.value_at_risk(rp, confidence=0.99)
    assert one.var == pytest.approx(np.quantile(rp, 0.01, method="inverted_cdf"), rel=1e-12)
    table = V.value_at_risk(x, method="parametric", confidence=0.99)
    assert table.var == pytest.approx(rp.mean() + stats.norm.ppf(0.01) * rp.std(ddof=1))
    assert table.expected_shortfall < table.var < 0


def test_empirical_quantiles_match_numpy_per_column():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((57, 4))
    u = rng.uniform(size=(200, 4))
    u[0] = 0.0
    u[1] = 1.0
    got = V.empirical_quantiles(np.sort(x, axis=0), u)
    for j in range(4):
        np.testing.assert_allclose(got[:, j], np.quantile(x[:, j], u[:, j]), atol=1e-12)


@pytest.mark.parametrize("n_paths", [1000, 1001, 4000])
def test_small_runs_at_99_keep_their_tail_rows(n_paths, monkeypatch):
    x, _, _ = normal_panel(n_obs=400)

    def no_fallback(*args, **kwargs):
        raise AssertionError("the one-day fast path fell back to full simulation")

    monkeypatch.setattr(MC, "simulate_asset_returns", no_fallback)
    r = V.monte_carlo_var(x, W4, confidence=0.99, n_paths=n_paths, seed=2)
    rp_tail = W4 @ r.asset_tail_mean
    assert rp_tail == pytest.approx(r.expected_shortfall, rel=1e-9)
    assert W4 @ r.asset_var_mean == pytest.approx(r.var, rel=1e-9)


def test_fallback_when_the_fast_path_missed_a_row(monkeypatch):
    x, _, _ = normal_panel(n_obs=400)
    orig = MC._one_day_projected

    def missing_rows(*args, **kwargs):
        pnl, _ = orig(*args, **kwargs)

        def rows(idx):
            raise MC._RowsNotKept

        return pnl, rows

    monkeypatch.setattr(MC, "_one_day_projected", missing_rows)
    r = V.monte_carlo_var(x, W4, confidence=0.95, n_paths=20_000, seed=4)
    full = V.simulate_asset_returns(V.fit_market_model(x), 20_000, seed=4) @ W4
    assert r.var == pytest.approx(np.quantile(full, 0.05, method="inverted_cdf"), rel=1e-12)
    assert W4 @ r.asset_tail_mean == pytest.approx(r.expected_shortfall, rel=1e-9)


# ---------------------------------------------------------------- choices and draws


def test_choices_are_str_enums_and_unknown_values_name_the_choices():
    x, _, _ = normal_panel(n_obs=300)
    by_name = V.monte_carlo_var(x, W4, distribution="student_t", sampler="sobol", n_paths=4000)
    by_enum = V.monte_carlo_var(x, W4, distribution=V.Distribution.STUDENT_T,
                                sampler=V.Sampler.SOBOL, n_paths=4000)
    assert (by_name.var, by_name.expected_shortfall) == (by_enum.var, by_enum.expected_shortfall)
    assert by_name.as_dict()["sampler"] == "sobol" and V.Sampler("plain") == "plain"
    assert V.SAMPLERS == ("antithetic", "sobol", "plain")
    with pytest.raises(ConfigError, match="^unknown sampler 'halton'; choose one of antithetic, "
                                          "sobol, plain$"):
        V.monte_carlo_var(x, W4, sampler="halton", n_paths=4000)
    with pytest.raises(ConfigError, match="^unknown Monte Carlo distribution 'cornish_fisher'; "
                                          "choose one of normal, student_t, copula$"):
        V.monte_carlo_var(x, W4, distribution="cornish_fisher", n_paths=4000)
    with pytest.raises(ConfigError, match="^unknown parametric distribution 'copula'; choose "
                                          "one of normal, student_t, cornish_fisher$"):
        V.parametric_var(x, W4, distribution="copula")
    with pytest.raises(ConfigError, match="^unknown VaR method 'garch'; choose one of "
                                          "parametric, historical, monte_carlo, all, "
                                          "parametric_student_t, "):
        V.methods_for("garch")
    assert V.methods_for("historical") == (V.VaRMethod.HISTORICAL,
                                           V.VaRMethod.HISTORICAL_AGE_WEIGHTED)


def test_draws_antithetic_pairs_and_sobol_chunks_are_pieces_of_one_sequence():
    z = MC.standard_normals(7, 3, rng=np.random.default_rng(1), sampler="antithetic", seed=0)
    np.testing.assert_array_equal(z[0::2][:3], -z[1::2])
    assert z.shape == (7, 3)
    whole = MC.sobol_normals(5, 96, seed=4)
    parts = [MC.sobol_normals(5, 32, seed=4, start=s) for s in (0, 32, 64)]
    np.testing.assert_array_equal(np.vstack(parts), whole)
    # the dimension limit is checked in one place, whichever path draws
    model = V.fit_market_model(normal_panel(n_obs=300)[0])
    with pytest.raises(ConfigError, match="at most 21201 dimensions .* not 21204"):
        V.monte_carlo_var(model, W4, horizon=5301, sampler="sobol", n_paths=1000)
    with pytest.raises(ConfigError, match="not 21202"):
        MC.standard_normals(2, 21202, rng=np.random.default_rng(0), sampler="sobol", seed=0)
