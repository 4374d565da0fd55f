"""Speed of autoport's optimizer against PyPortfolioOpt, in one process, on the same inputs.

Run:  /work/venv/bin/python experiments/bench/bench_optimize.py [--quick]

Cases (issue 3):
  1. a 100-point long-only efficient frontier on the bundled 20 stocks (last 3 years);
  2. the same on 500 synthetic assets;
  3. max Sharpe with sector and position limits on 1000 synthetic assets.
PyPortfolioOpt's frontier is a loop of ``efficient_return`` calls on a deep copy of one
``EfficientFrontier`` per point (what ``pypfopt.plotting`` does), at autoport's own targets, so
both sides solve the same 100 problems; autoport's time includes its min-variance solve, the
max-return LP and the tangency portfolio. Objective values are compared point by point.
Times are the best of ``repeats`` runs (wall clock, ``time.perf_counter``).

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
from pypfopt.exceptions import OptimizationError as PeerError

from autoport import estimators as E
from autoport.data import bundled_prices
from autoport.optimize import Constraints, efficient_frontier, optimize

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


def frontier_case(name: str, mu: pd.Series, cov: pd.DataFrame, repeats: int, peer_solver):
    t_ours, front = best_of(lambda: efficient_frontier(mu, cov, n_points=100), repeats)
    targets = front.returns

    failed: list[float] = []
    shortfall: list[float] = []

    def peer_loop():
        failed.clear()
        shortfall.clear()
        base = EfficientFrontier(mu, cov, solver=peer_solver)
        vols = []
        for t in targets:
            ef = copy.deepcopy(base)
            try:
                ef.efficient_return(float(t))
            except ValueError:  # pypfopt's own max-return estimate sits a hair below the top
                ef = copy.deepcopy(base)
                try:
                    ef.efficient_return(float(t) - 1e-6 * abs(float(t)))
                except PeerError:
                    failed.append(float(t))
                vols.append(np.nan)
                continue
            except PeerError:  # the solver gave up on this point (e.g. OSQP iteration limit)
                failed.append(float(t))
                vols.append(np.nan)
                continue
            ret, vol, _ = ef.portfolio_performance()
            shortfall.append(max(float(t) - ret, 0.0))
            vols.append(vol)
        return np.array(vols)

    t_peer, vols_peer = best_of(peer_loop, 1 if len(mu) > 100 else repeats)
    same = np.isfinite(vols_peer)  # points both sides solved at the identical target
    rel = np.abs(front.volatilities[same] / vols_peer[same] - 1)
    better = np.max((front.volatilities[same] - vols_peer[same]) / vols_peer[same])
    label = peer_solver or "default"
    print(f"{name}: autoport {t_ours:.3f} s ({front.solver}), PyPortfolioOpt[{label}] loop "
          f"{t_peer:.3f} s -> {t_peer / t_ours:.1f}x faster; max |vol rel diff| {rel.max():.1e}"
          f" over {same.sum()} shared targets (autoport minus peer, worst: {better:+.1e})"
          + (f"; PyPortfolioOpt failed on {len(failed)} of 100 points" if failed else "")
          + f"; PyPortfolioOpt's worst return shortfall below target {max(shortfall):.1e}")
    return t_ours, t_peer


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
    parser.add_argument("--peer-solver", default="CLARABEL",
                        help="solver PyPortfolioOpt uses (CLARABEL, OSQP, or 'default')")
    args = parser.parse_args()
    peer_solver = None if args.peer_solver == "default" else args.peer_solver
    repeats = 1 if args.quick else 3
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"{platform.processor() or platform.machine()}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    try:
        from threadpoolctl import threadpool_info

        pools = [f"{p['internal_api']}x{p['num_threads']}" for p in threadpool_info()]
        print("BLAS thread pools loaded:", ", ".join(pools))
    except ImportError:
        pass
    prices = bundled_prices().iloc[-757:]
    mu, cov = E.mean_return(prices), E.ledoit_wolf_cov(prices)
    frontier_case("100-pt frontier, bundled 20 assets", mu, cov, repeats, peer_solver)
    big = synthetic_prices(500)
    frontier_case("100-pt frontier, 500 synthetic assets", E.mean_return(big),
                  E.ledoit_wolf_cov(big), repeats, peer_solver)
    max_sharpe_case(1000, repeats, peer_solver)


if __name__ == "__main__":
    main()
