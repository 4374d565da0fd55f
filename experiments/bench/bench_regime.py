"""Regime filter speed: the forward pass against hmmlearn's own, and batch against incremental.

Run: ``python experiments/bench/bench_regime.py [--repeat N]``. On the bundled prices with the
bundled detector settings it prints

1. the forward filter (:func:`autoport.regime.hmm.forward_filter`, filtered probabilities of
   every row) beside hmmlearn's own forward pass (``GaussianHMM.score``: densities plus the
   compiled ``forward_log``, no posteriors) and beside the written-out Python recursion the
   filter replaced (scipy densities, one loop step per row), same model and rows, best of N,
   and splits their difference into the densities' (conditioning) and the recursion's;
2. :class:`autoport.regime.online.OnlineRegimeFilter` as one batch run over every row, as
   monthly ``sync`` calls on a growing history (what a backtest does) and row by row, each on a
   fresh filter (no cached answer is timed), and checks the three give the same numbers;
3. the jump model's fit (:func:`autoport.regime.jump.coordinate_descent`: ``jumpmodels``'
   algorithm with hmmlearn's compiled Viterbi pass for each state assignment) beside
   ``jumpmodels.JumpModel.fit`` itself (its Python dynamic programme) on the same standardized
   feature rows, settings and seed, best of N, and checks labels, centres and objective agree.
"""

from __future__ import annotations

import argparse
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402


def scipy_log_densities(model, x: np.ndarray) -> np.ndarray:
    from scipy.stats import multivariate_normal

    return np.column_stack([multivariate_normal(model.means_[i], model.covars_[i]).logpdf(x)
                            .reshape(-1) for i in range(model.n_components)])


def written_out_filter(model, x: np.ndarray, log_b: np.ndarray | None = None) -> np.ndarray:
    """The recursion before the compiled pass: scipy densities (or ``log_b``) and a Python loop."""
    log_b = scipy_log_densities(model, x) if log_b is None else log_b
    b = np.exp(log_b - log_b.max(axis=1, keepdims=True))
    out = np.empty_like(b)
    alpha = model.startprob_ * b[0]
    out[0] = alpha / alpha.sum()
    for t in range(1, len(b)):
        alpha = (out[t - 1] @ model.transmat_) * b[t]
        out[t] = alpha / alpha.sum()
    return out


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from autoport import data
    from autoport.regime.config import load_config
    from autoport.regime.features import build_features
    from autoport.regime.hmm import fit_hmm, forward_filter
    from autoport.regime.online import OnlineRegimeFilter

    prices = data.bundled_prices()
    det = load_config().detector
    feats = build_features(prices, **det.feature_kwargs())
    print(f"bundled prices: {len(prices)} sessions x {prices.shape[1]} assets; features "
          f"{list(feats.columns)}; detector min_train {det.min_train}, refit_every "
          f"{det.refit_every}, n_restarts {det.n_restarts}, refit_restarts {det.refit_restarts}")

    # 1. one forward pass over every row, same model
    fit = fit_hmm(feats.iloc[: det.min_train], n_restarts=1, seed=det.seed)
    x = fit.scaler.transform(feats)
    t_ours, ours = best(lambda: forward_filter(fit.model, x), args.repeat)
    t_hmm, _ = best(lambda: fit.model.score(x), args.repeat)
    t_old, old = best(lambda: written_out_filter(fit.model, x), max(1, args.repeat // 2))
    gap = float(np.abs(ours - old).max())
    # where a gap comes from: the densities (scipy's eigendecomposition against our Cholesky
    # factor, both exact to about cond(Σ) × 2.2e-16) or the recursion (same densities fed to both)
    from autoport.regime.hmm import log_densities

    ours_log_b = log_densities(fit.model, x)
    density_gap = float(np.abs(ours_log_b - scipy_log_densities(fit.model, x)).max())
    recursion_gap = float(np.abs(ours - written_out_filter(fit.model, x, ours_log_b)).max())
    cond = max(float(np.linalg.cond(c)) for c in fit.model.covars_)
    print(f"\nforward filter over {len(x)} rows (best of {args.repeat}):")
    print(f"  autoport forward_filter        {t_ours * 1e3:8.2f} ms")
    print(f"  hmmlearn GaussianHMM.score     {t_hmm * 1e3:8.2f} ms   ours / hmmlearn = "
          f"{t_ours / t_hmm:.2f}")
    print(f"  written-out Python recursion   {t_old * 1e3:8.2f} ms   old / ours = "
          f"{t_old / t_ours:.1f}x   max |difference| {gap:.1e}")
    print(f"    that difference: log densities (ours vs scipy) differ by up to {density_gap:.1e} "
          f"(largest state covariance condition number {cond:.1e}); given the same densities "
          f"the two recursions differ by {recursion_gap:.1e}")

    # 2. the online filter: batch vs incremental, fresh objects each
    t0 = time.perf_counter()
    batch = OnlineRegimeFilter.from_detector(det)
    res = batch.run(feats)
    t_batch = time.perf_counter() - t0

    t0 = time.perf_counter()
    monthly = OnlineRegimeFilter.from_detector(det)
    for end in range(det.min_train + 1, len(feats) + 21, 21):
        monthly.sync(feats.iloc[:end])
    t_monthly = time.perf_counter() - t0

    t0 = time.perf_counter()
    daily = OnlineRegimeFilter.from_detector(det)
    for i in range(len(feats)):
        daily.update(feats.iloc[i:i + 1])
    t_daily = time.perf_counter() - t0

    ref = res.probabilities.to_numpy()
    same = all(np.array_equal(f.probabilities.to_numpy(), ref) for f in (monthly, daily))
    # EM iterations are an HMM's; the jump model's fits do not count theirs
    em = (f" (EM iterations of the winning candidates: {sum(f.n_iter for f in res.fits)})"
          if res.fits and res.fits[0].kind == "hmm" else "")
    print(f"\nonline filter, {len(res.fits)} fits, {len(ref)} labelled sessions{em}:")
    print(f"  batch run()                    {t_batch:8.2f} s")
    n_sync = len(range(det.min_train + 1, len(feats) + 21, 21))
    print(f"  monthly sync() x {n_sync:<5}        {t_monthly:8.2f} s   / batch = "
          f"{t_monthly / t_batch:.2f}")
    print(f"  daily update() x {len(feats):<5}        {t_daily:8.2f} s   / batch = "
          f"{t_daily / t_batch:.2f}")
    print(f"  identical probabilities (bit for bit): {same}")

    # 3. one jump-model fit over every feature row: ours against jumpmodels' own
    from jumpmodels.jump import JumpModel

    from autoport.regime.features import Scaler
    from autoport.regime.jump import coordinate_descent

    jump = load_config().candidate("jump_features_2") if det.model != "jump" else det
    jfeats = build_features(prices, **jump.feature_kwargs())
    raw = jfeats.to_numpy(dtype=float)
    xj = Scaler.fit(raw).transform(raw)[:, 1:]  # the clustered columns (all but `ret`)
    kw = dict(n_init=jump.n_restarts, seed=jump.seed)
    t_ours, (centers, labels, objective) = best(
        lambda: coordinate_descent(xj, jump.n_states, jump.jump_penalty, **kw), args.repeat)
    t_ref, ref = best(lambda: JumpModel(
        n_components=jump.n_states, jump_penalty=jump.jump_penalty, cont=False,
        n_init=jump.n_restarts, max_iter=100, random_state=jump.seed).fit(xj, sort_by=None),
        max(1, args.repeat // 2))
    agree = (np.array_equal(labels, np.asarray(ref.labels_))
             and np.array_equal(centers, ref.centers_))
    print(f"\njump model fit ({jump.n_states} states, jump_penalty {jump.jump_penalty:g}, "
          f"{jump.n_restarts} k-means++ starts) on {len(xj)} rows x {xj.shape[1]} features:")
    print(f"  autoport coordinate_descent    {t_ours * 1e3:8.1f} ms")
    print(f"  jumpmodels JumpModel.fit       {t_ref * 1e3:8.1f} ms   jumpmodels / ours = "
          f"{t_ref / t_ours:.0f}x")
    print(f"  same labels and centres: {agree}; objective {objective:.6f} vs {ref.val_:.6f} "
          f"(|difference| {abs(objective - ref.val_):.1e})")


if __name__ == "__main__":
    main()
