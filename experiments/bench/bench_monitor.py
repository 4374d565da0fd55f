"""`autoport monitor` replaying a year of daily bars for 500 synthetic assets at full speed.

Run: ``python experiments/bench/bench_monitor.py`` (``--assets``, ``--history``, ``--bars``).

1. The command itself (a subprocess: ``autoport monitor --no-follow --json``) replays 252 daily
   bars after a 750-bar history; its own per-bar latency (from reading a row to writing its
   answer) gives p50/p99 (target: p99 < 50 ms; the mission asks for < 5 s).
2. In this process, the same bars through the core's incremental step (``LiveRisk.update`` +
   ``LiveAlerts.evaluate``) beside the reference: every figure recomputed from scratch per
   bar (EWMA covariance over the whole history, the FHS forecast of ``rolling_forecasts`` on the
   book's whole return series, the rolling correlation, the drawdown), on sampled bars. The
   ratio is reference / incremental, and the last sampled bar's VaRs are printed from both so
   the speed is not bought with a different number.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from autoport.monitor import LiveAlerts, LiveRisk
from autoport.risk.monitoring import average_pairwise, drawdown, load_alert_rules
from autoport.risk.var_backtest import rolling_forecasts

LAM, CONF, FHS, CORR = 0.94, 0.95, 500, 63


def market(n_assets: int, n_days: int, seed: int = 0) -> pd.DataFrame:
    """Three-factor daily returns (as bench_risk) compounded into prices."""
    rng = np.random.default_rng(seed)
    f = rng.standard_normal((n_days, 3)) * np.array([0.01, 0.005, 0.004])
    b = rng.normal([1.0, 0.0, 0.0], [0.3, 0.5, 0.5], size=(n_assets, 3))
    x = 0.0003 + f @ b.T + rng.standard_normal((n_days, n_assets)) * rng.uniform(
        0.008, 0.02, n_assets)
    p = 100.0 * np.vstack([np.ones(n_assets), np.cumprod(1.0 + x, axis=0)])
    idx = pd.bdate_range("2020-01-01", periods=n_days + 1)
    return pd.DataFrame(p, index=idx, columns=[f"S{i:03d}" for i in range(n_assets)])


def reference_bar(r: np.ndarray, w_hist: np.ndarray, rp_live: np.ndarray, w_now: np.ndarray,
                  t_hist: int) -> dict:
    """Every figure from scratch on the returns so far (r: all asset returns up to the bar)."""
    t = r.shape[0]
    lags = (1 - LAM) * LAM ** np.arange(t - 1, -1, -1.0)
    cov = (r * lags[:, None]).T @ r + LAM ** t * (r[:t_hist].T @ r[:t_hist] / t_hist)
    sigma = np.sqrt(w_now @ cov @ w_now)
    z = stats.norm.ppf(1 - CONF)
    rp = np.concatenate([r[:t_hist] @ w_hist, rp_live])
    var_f, es_f = rolling_forecasts(pd.Series(np.append(rp, 0.0)), model="filtered_historical",
                                    confidence=CONF, window=FHS, lam=LAM)
    corr = average_pairwise(np.corrcoef(r[-CORR:], rowvar=False))
    dd = drawdown(pd.Series(rp_live)).iloc[-1]
    return {"var_parametric": z * sigma, "var_fhs": var_f.iloc[-1], "es_fhs": es_f.iloc[-1],
            "avg_corr": corr, "drawdown": dd}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", type=int, default=500)
    ap.add_argument("--history", type=int, default=750)
    ap.add_argument("--bars", type=int, default=252)
    ap.add_argument("--samples", type=int, default=12, help="bars timed for the reference")
    args = ap.parse_args()
    prices = market(args.assets, args.history + args.bars)
    n_hist = args.history + 1
    w = np.random.default_rng(1).dirichlet(np.ones(args.assets))
    book = pd.Series(w, prices.columns)
    print(f"{args.assets} assets, {args.history}-bar history, {args.bars} live daily bars; "
          f"{os.cpu_count()} CPUs")

    # -- 1. the command, at full speed from a finished file
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        prices.iloc[:n_hist].to_csv(tmp / "hist.csv", index_label="date")
        prices.iloc[n_hist:].to_csv(tmp / "feed.csv", index_label="date", float_format="%.8f")
        (tmp / "w.json").write_text(json.dumps(book.to_dict()))
        env = {**os.environ, "AUTOPORT_HOME": str(tmp / "home")}
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "autoport_cli.main", "monitor", "--weights",
             str(tmp / "w.json"), "--prices", str(tmp / "hist.csv"), "--feed",
             str(tmp / "feed.csv"), "--no-follow", "--json", "--no-track", "--out",
             str(tmp / "run")], capture_output=True, text=True, env=env, check=True)
        wall = time.perf_counter() - t0
    events = [json.loads(x) for x in done.stdout.splitlines()]
    bars = [e for e in events if e["event"] == "bar"]
    summary = events[-1]
    lat = np.array([b["latency_ms"] for b in bars])
    print(f"command: {len(bars)} bars answered, {summary['alerts_fired']} alerts; per-bar latency "
          f"p50 {np.percentile(lat, 50):.2f} ms, p99 {np.percentile(lat, 99):.2f} ms, max "
          f"{lat.max():.2f} ms (target p99 < 50 ms); whole run incl. start-up {wall:.1f} s")

    # -- 2. in process: incremental step vs full recompute per bar
    live = LiveAlerts(load_alert_rules(None))
    state = LiveRisk(book, confidence=CONF, lam=LAM, fhs_window=FHS,
                     corr_windows=live.correlation_windows(),
                     breach_confidences=live.breach_confidences()).fit(prices.iloc[:n_hist])
    r_all = prices.pct_change().iloc[1:].to_numpy()
    t_hist = n_hist - 1
    sample = set(np.linspace(0, args.bars - 1, args.samples).astype(int))
    inc, cpu, ref, rp_live = [], [], [], []
    last = None
    for k in range(args.bars):
        row = prices.iloc[n_hist + k].to_numpy()
        w_before = state.w_.copy()
        c, t = time.process_time(), time.perf_counter()
        bar = state.update(row, prices.index[n_hist + k])
        live.evaluate(bar)
        inc.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        rp_live.append(float(w_before @ r_all[t_hist + k]))
        if k in sample:
            t = time.perf_counter()
            figs = reference_bar(r_all[: t_hist + k + 1], w, np.array(rp_live), state.w_, t_hist)
            ref.append(time.perf_counter() - t)
            last = (bar, figs)
    inc_ms, ref_ms = np.array(inc) * 1e3, np.array(ref) * 1e3
    print(f"in process: incremental step p50 {np.median(inc_ms):.2f} ms, p99 "
          f"{np.percentile(inc_ms, 99):.2f} ms (CPU time {np.mean(cpu) * 1e3:.2f} ms a bar); full recompute per bar p50 "
          f"{np.median(ref_ms):.1f} ms ({len(ref)} bars); ratio "
          f"{np.median(ref_ms) / np.median(inc_ms):.1f}x")
    bar, figs = last
    print(f"same figures on bar {bar.bar}: VaR normal {bar.var_parametric:.6f} vs "
          f"{figs['var_parametric']:.6f}; VaR FHS {bar.var_filtered_historical:.6f} vs "
          f"{figs['var_fhs']:.6f}; avg corr {bar.avg_correlation[CORR]:.6f} vs "
          f"{figs['avg_corr']:.6f}; drawdown {bar.drawdown:.6f} vs {figs['drawdown']:.6f}")


if __name__ == "__main__":
    main()
