"""Speed of autoport's efficient frontier against three peers, in one process, on the same inputs.

Run:  .venv/bin/python experiments/bench/bench_optimize.py [--quick] [--sizes 20,200,500]

Cases (issues 3 and 13.7): a 100-point long-only efficient frontier on the bundled 20 stocks
(last 3 years) and on 200 and 500 synthetic assets (five-factor returns), each with annualised
CAGR means and a Ledoit-Wolf covariance; then max Sharpe with sector and position limits on
1000 synthetic assets. The frontier methods, all handed the same (μ, Σ):

- autoport ``efficient_frontier(n_points=100)``: one walk of the exact critical-line path, its
  minimum-variance and tangency points included (no conic solve);
- PyPortfolioOpt's loop: ``efficient_return`` on a deep copy of one ``EfficientFrontier`` per
  point (what ``pypfopt.plotting`` does), at autoport's targets, Clarabel;
- ``pypfopt.cla.CLA(...).efficient_frontier(points=100)`` (Markowitz's critical line, its own
  targets);
- skfolio ``MeanRisk(efficient_frontier_size=100)`` with an ``EmpiricalPrior`` whose mean and
  covariance estimators return the same (μ, Σ) (its own targets, Clarabel).

Objective agreement, defined: every method's points (weights ``w``) are evaluated with the one
(μ, Σ): return ``r = μᵀw`` and variance ``v = wᵀΣw``. At each such return the exact minimum
variance ``v*(r)`` is read off autoport's path (each point certified by its KKT conditions), and
the method's agreement is ``max |v − v*(r)| / v*(r)`` over its points whose return lies in
[min-variance return, highest return] (within 1e-9; the others are counted and left out).
"Agrees" means ≤ 1e-6. Also printed: each method's best Sharpe ratio (risk-free rate 0) over its
points next to the path's tangency portfolio (a finite frontier can only reach it from below).
CLA is an independent exact method, so its agreement with the path checks the reference too.

Times are the best of ``repeats`` runs (wall clock, ``time.perf_counter``); the slow peers on
200 and 500 assets run once. Ratios are peer time / autoport time.

BLAS threads: numpy, scipy and scs each bundle their own OpenBLAS. Once scipy.linalg is loaded
(PyPortfolioOpt and scikit-learn load it), two thread pools spin on the same cores and a dense
numpy factorisation can run 20x slower on 2 CPUs. The script prints the pools it sees; compare
a run with ``OPENBLAS_NUM_THREADS=1`` (set before Python starts).
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import time
import warnings

import numpy as np
import pandas as pd
from pypfopt import EfficientFrontier
from pypfopt.cla import CLA
from pypfopt.exceptions import OptimizationError as PeerError

from autoport import estimators as E
from autoport.data import bundled_prices
from autoport.optimize import Constraints, _homotopy, efficient_frontier, optimize
from autoport.optimize import objectives as O

warnings.filterwarnings("ignore")


def synthetic_prices(n_assets: int, n_days: int = 1260, seed: int = 7) -> pd.DataFrame:
    """Five-factor daily returns: priced factors, small alphas, idiosyncratic noise."""
    rng = np.random.default_rng(seed)
    loadings = rng.normal(0.6, 0.5, (n_assets, 5))
    premia = np.array([0.0003, 0.0001, 0.0001, 0.00005, 0.00005])
    factors = rng.normal(premia, [0.010, 0.005, 0.005, 0.004, 0.004], (n_days, 5))
    noise = rng.normal(0.0, 0.015, (n_days, n_assets)) * rng.uniform(0.6, 1.6, n_assets)
    alpha = rng.normal(0.0, 0.0001, n_assets)
    rets = factors @ loadings.T + noise + alpha
    levels = 100 * np.cumprod(1 + np.vstack([np.zeros(n_assets), rets]), axis=0)
    index = pd.bdate_range("2015-01-01", periods=n_days + 1)
    return pd.DataFrame(levels, index=index, columns=[f"S{i:04d}" for i in range(n_assets)])


def best_of(fn, repeats: int):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


class Reference:
    """The exact frontier of (μ, Σ), long-only: v*(r) and the tangency Sharpe ratio."""

    def __init__(self, mu: pd.Series, cov: pd.DataFrame) -> None:
        self.p = O.prepare(mu, cov, None)
        self.segments = _homotopy.trace(self.p.mu, self.p.cov, self.p.r)
        w_mv, _ = _homotopy.min_variance(self.p.mu, self.p.cov, self.p.r,
                                         segments=self.segments)
        self.r_min = float(self.p.mu @ w_mv)
        self.r_max = _homotopy._end_return(self.p.mu, self.segments[-1])
        w_tan, _ = _homotopy.max_sharpe(self.p.mu, self.p.cov, self.p.r, 0.0,
                                        segments=self.segments)
        self.tangency_sharpe = float(self.p.mu @ w_tan / np.sqrt(w_tan @ self.p.cov @ w_tan))

    def agreement(self, weights: np.ndarray) -> tuple[float, int, int, float]:
        """(max relative variance gap, points compared, points left out, best Sharpe)."""
        w = np.asarray(weights, dtype=float)
        if len(w) == 0:
            return np.nan, 0, 0, np.nan
        rets = w @ self.p.mu
        var = np.einsum("ij,jk,ik->i", w, self.p.cov, w)
        tol = 1e-9 * max(1.0, abs(self.r_max))
        inside = (rets >= self.r_min - tol) & (rets <= self.r_max + tol)
        r_in = np.clip(rets[inside], self.r_min, self.r_max - 1e-12 * max(1.0, self.r_max))
        order = np.argsort(r_in)
        exact = _homotopy.read_targets(self.p.mu, self.p.r, self.segments, r_in[order])
        v_star = np.empty(len(r_in))
        v_star[order] = np.einsum("ij,jk,ik->i", exact, self.p.cov, exact)
        gap = float(np.max(np.abs(var[inside] - v_star) / v_star)) if len(r_in) else np.nan
        sharpe = float(np.max(rets / np.sqrt(np.maximum(var, 1e-300))))
        return gap, int(inside.sum()), int((~inside).sum()), sharpe


def pypfopt_loop(mu, cov, targets, solver="CLARABEL") -> np.ndarray:
    """One ``efficient_return`` per target on a deep copy of one EfficientFrontier; NaN rows
    where PyPortfolioOpt refuses a target (its max-return estimate sits a hair below the top)
    or its solver gives up."""
    base = EfficientFrontier(mu, cov, solver=solver)
    out = np.full((len(targets), len(mu)), np.nan)
    for k, t in enumerate(targets):
        for target in (float(t), float(t) - 1e-6 * abs(float(t))):
            ef = copy.deepcopy(base)
            try:
                ef.efficient_return(target)
            except (ValueError, PeerError):
                continue
            out[k] = np.array(list(ef.clean_weights(cutoff=0, rounding=None).values()))
            break
    return out


def cla_frontier(mu, cov) -> tuple[np.ndarray, np.ndarray]:
    """CLA's 100-point frontier (linear interpolation between its turning points) and the
    turning points themselves."""
    cla = CLA(mu, cov, weight_bounds=(0, 1))
    _, _, weights = cla.efficient_frontier(points=100)
    n = len(mu)  # with more turning points than ``points`` CLA returns few or no points
    return (np.array([np.ravel(w) for w in weights]).reshape(-1, n),
            np.array([np.ravel(w) for w in cla.w]).reshape(-1, n))


def skfolio_frontier(mu, cov, returns: pd.DataFrame) -> np.ndarray:
    from skfolio.moments import BaseCovariance, BaseMu
    from skfolio.optimization import MeanRisk
    from skfolio.prior import EmpiricalPrior

    class GivenMu(BaseMu):
        def __init__(self, mu=None):
            self.mu = mu

        def fit(self, X, y=None):
            self.mu_ = np.asarray(self.mu, dtype=float)
            return self

    class GivenCov(BaseCovariance):
        def __init__(self, cov=None):
            super().__init__(nearest=False)
            self.cov = cov

        def fit(self, X, y=None):
            self._set_covariance(np.asarray(self.cov, dtype=float))
            return self

    model = MeanRisk(efficient_frontier_size=100, prior_estimator=EmpiricalPrior(
        mu_estimator=GivenMu(mu.to_numpy()), covariance_estimator=GivenCov(cov.to_numpy())))
    model.fit(returns)
    return np.asarray(model.weights_)


def frontier_case(name: str, prices: pd.DataFrame, repeats: int) -> None:
    mu, cov = E.mean_return(prices), E.ledoit_wolf_cov(prices)
    returns = prices.pct_change().iloc[1:]
    slow = 1 if len(mu) > 100 else repeats
    t_ours, front = best_of(lambda: efficient_frontier(mu, cov, n_points=100), repeats)
    ref = Reference(mu, cov)
    rows = [("autoport", t_ours, front.weights.to_numpy(), front.solver)]
    t, w = best_of(lambda: pypfopt_loop(mu, cov, front.returns), slow)
    rows.append(("PyPortfolioOpt loop", t, w, "Clarabel, autoport's targets"))
    t, (w, turning) = best_of(lambda: cla_frontier(mu, cov), slow)
    gap_turning, _, _, _ = ref.agreement(turning)
    rows.append(("pypfopt.cla.CLA", t, w, f"own targets; its {len(turning)} turning points "
                 f"alone: var gap {gap_turning:.1e} (path: {len(ref.segments)} segments)"))
    t, w = best_of(lambda: skfolio_frontier(mu, cov, returns), slow)
    rows.append(("skfolio MeanRisk", t, w, "Clarabel, own targets"))
    print(f"\n100-point frontier, {name} ({len(mu)} assets, long-only); tangency Sharpe "
          f"{ref.tangency_sharpe:.8f}")
    print(f"  {'method':<20} {'time':>9} {'ratio':>7}  {'var gap':>8} {'points':>9} "
          f"{'best Sharpe':>12}  notes")
    for label, t, w, note in rows:
        ok = np.isfinite(w).all(axis=1)
        gap, used, out, sharpe = ref.agreement(w[ok])
        failed = f", {int((~ok).sum())} failed" if (~ok).any() else ""
        print(f"  {label:<20} {t * 1e3:>7.1f}ms {t / t_ours:>6.1f}x  {gap:>8.1e} "
              f"{used:>4}/{len(w):<4} {sharpe:>12.8f}  {note}"
              + (f", {out} outside the return range" if out else "") + failed)


def max_sharpe_case(n: int, repeats: int, peer_solver):
    prices = synthetic_prices(n)
    mu, cov = E.mean_return(prices), E.ledoit_wolf_cov(prices)
    sectors = {t: f"sector{i % 10}" for i, t in enumerate(mu.index)}
    upper = {f"sector{k}": 0.15 for k in range(10)}
    lower = {"sector0": 0.05, "sector1": 0.05}
    cons = Constraints(max_position=0.02, groups=sectors, group_min=lower, group_max=upper)
    t_ours, res = best_of(lambda: optimize(mu, cov, "max_sharpe", cons, risk_free_rate=0.02),
                          repeats)

    def peer():
        ef = EfficientFrontier(mu, cov, weight_bounds=(0, 0.02), solver=peer_solver)
        ef.add_sector_constraints(sectors, lower, upper)
        ef.max_sharpe(risk_free_rate=0.02)
        return ef.portfolio_performance(risk_free_rate=0.02)[2]

    t_peer, sharpe_peer = best_of(peer, 1)
    label = peer_solver or "default"
    print(f"max Sharpe, {n} assets, 10 sectors + 2% cap: autoport {t_ours:.3f} s "
          f"({res.solver}), PyPortfolioOpt[{label}] {t_peer:.3f} s -> {t_peer / t_ours:.1f}x; "
          f"Sharpe {res.sharpe_ratio:.8f} vs {sharpe_peer:.8f} "
          f"(rel diff {res.sharpe_ratio / sharpe_peer - 1:+.1e})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--sizes", default="20,200,500", help="frontier cases (20 = bundled)")
    parser.add_argument("--no-max-sharpe", dest="max_sharpe", action="store_false",
                        help="skip the 1000-asset max Sharpe case")
    parser.add_argument("--peer-solver", default="CLARABEL",
                        help="solver PyPortfolioOpt uses (CLARABEL, OSQP, or 'default')")
    args = parser.parse_args()
    peer_solver = None if args.peer_solver == "default" else args.peer_solver
    repeats = 1 if args.quick else 7
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"{platform.processor() or platform.machine()}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    try:
        from threadpoolctl import threadpool_info

        pools = [f"{p['internal_api']}x{p['num_threads']}" for p in threadpool_info()]
        print("BLAS thread pools loaded:", ", ".join(pools))
    except ImportError:
        pass
    sizes = [int(x) for x in args.sizes.split(",")]
    for n in sizes:
        if n == 20:
            frontier_case("bundled 20 stocks, last 3 years", bundled_prices().iloc[-757:],
                          repeats)
        else:
            frontier_case(f"{n} synthetic assets", synthetic_prices(n), repeats)
    if args.max_sharpe:
        print()
        max_sharpe_case(1000, repeats, peer_solver)


if __name__ == "__main__":
    main()
