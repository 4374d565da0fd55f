"""Decision menus: the per-session reference build against the batched exact build, in one
process, on the bundled prices and configs/dqn.yaml's menu.

    .venv/bin/python experiments/bench/bench_menus.py [--every 20] [--full]

- reference: :func:`autoport.envs.menus.reference_menu_weights` (the code the env ran before:
  three solves through :func:`autoport.portfolio.solve`, each re-estimating μ and Σ), timed on
  every ``--every``-th of the sessions ``bench_env.py`` warms (month starts and every possible
  training-episode start up to the train end: 5,809 sessions), or on all of them (``--full``,
  about 8 minutes);
- batched: :func:`autoport.envs.menus.build` over every session of the panel from the first
  one with enough history (what the env builds once per panel and settings), without the disk
  cache or the process cache.

Prints both per-session times and their ratio, the batched build's total, the max |difference|
of each menu item's weights over the timed reference sessions, and what the differences mean:
the exact min-variance point's variance over the conic one's (≤ 1 means no worse), the max
Sharpe points' Sharpe ratios, the spread of risk-parity risk contributions. Last, the disk
cache: save, then load in a fresh process cache (what a second ``train-agent`` run does); this
is a cache read, not part of the ratio.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from autoport import data
from autoport import estimators as E
from autoport.envs import menus
from autoport.envs.portfolio_env import PortfolioEnv
from autoport.strategies.dqn.config import load_config


def warm_rows(env: PortfolioEnv, config) -> list[int]:
    """The sessions bench_env.py warms: decision days and every training-episode start."""
    if config.schedule == "month_start":
        rows = [r for r in env._month_rows if env._lo <= r <= env._hi]
    else:
        rows = list(range(env._lo, env._hi + 1, config.rebalance_every))
    return sorted(set(int(r) for r in rows) | set(int(r) for r in env._starts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=20, help="time every k-th session")
    parser.add_argument("--full", action="store_true", help="time the reference on all")
    parser.add_argument("--config", default="configs/dqn.yaml")
    args = parser.parse_args()
    agent = load_config(args.config)
    cfg = agent.env
    prices = data.bundled_prices()
    env = PortfolioEnv(prices, cfg, end=str(agent.protocol.train_end))
    rows = warm_rows(env, cfg)
    sample = rows if args.full else rows[:: args.every]
    print(f"bundled prices {prices.shape[0]} sessions x {prices.shape[1]} assets; menu "
          f"{', '.join(cfg.actions)}; estimation window {cfg.estimation_window}")

    started = time.perf_counter()
    reference = {r: menus.reference_menu_weights(prices.iloc[: r + 1], cfg) for r in sample}
    t_ref = (time.perf_counter() - started) / len(sample)

    menus.clear_process_cache()
    first = cfg.history_needed - 1
    started = time.perf_counter()
    table = menus.build(prices, cfg, first)
    t_all = time.perf_counter() - started
    t_new = t_all / len(table)

    print(f"reference, per session: {t_ref * 1e3:.1f} ms ({len(sample)} of the {len(rows)} "
          f"warm-up sessions; all {len(rows)} would take {t_ref * len(rows):.0f} s)")
    print(f"batched, per session:   {t_new * 1e3:.2f} ms ({len(table)} sessions, every one "
          f"from row {first}, in {t_all:.1f} s)")
    print(f"ratio reference / batched per session: {t_ref / t_new:.0f}x")

    names = list(cfg.actions)
    diffs = np.max([np.abs(table[r - first] - reference[r]).max(axis=1) for r in sample], axis=0)
    print("max |weight difference| per item over the timed sessions: "
          + ", ".join(f"{n} {d:.1e}" for n, d in zip(names, diffs, strict=True)))
    cap = max(cfg.max_weight, 1.0 / prices.shape[1])
    var_ratio, over_cap, sharpe_gap, over_cap_ms, rc_spread = [], [], [], [], []
    for r in sample:
        window = prices.iloc[r - cfg.estimation_window : r + 1]
        mu, cov = E.mean_return(window).to_numpy(), E.ledoit_wolf_cov(window).to_numpy()
        new, ref = table[r - first], reference[r]
        if "min_variance" in names:
            i = names.index("min_variance")
            var_ratio.append((new[i] @ cov @ new[i]) / (ref[i] @ cov @ ref[i]))
            if var_ratio[-1] > 1 + 1e-12:  # the conic point beats the exact one: how?
                over_cap.append(ref[i].max() - cap)
        if "max_sharpe" in names:
            i, j = names.index("max_sharpe"), names.index("min_variance")
            if not np.allclose(ref[i], ref[j], atol=1e-4):  # not the min-variance fallback
                s_new, s_ref = (w @ mu / np.sqrt(w @ cov @ w) for w in (new[i], ref[i]))
                sharpe_gap.append(s_new - s_ref)
                if s_new < s_ref - 1e-12 * abs(s_ref):
                    over_cap_ms.append(ref[i].max() - cap)
        if "risk_parity" in names:
            i = names.index("risk_parity")
            for w in (new[i], ref[i]):
                rc = w * (cov @ w) / (w @ cov @ w)
                rc_spread.append(rc.max() - rc.min())
    if var_ratio:
        print(f"min variance: exact variance / conic variance from {min(var_ratio):.10f} to "
              f"{max(var_ratio):.10f}; in the {len(over_cap)} sessions above 1 + 1e-12 the "
              f"conic weights exceed the {cap:.0%} cap by "
              + (f"{min(over_cap):.1e} to {max(over_cap):.1e}" if over_cap else "-"))
    if sharpe_gap:
        print(f"max Sharpe: exact minus conic Sharpe ratio from {min(sharpe_gap):+.1e} to "
              f"{max(sharpe_gap):+.1e} over the {len(sharpe_gap)} sessions where it is not "
              f"the min-variance fallback; in the {len(over_cap_ms)} where the conic one is "
              "higher, its weights exceed the cap by "
              + (f"{min(over_cap_ms):.1e} to {max(over_cap_ms):.1e}" if over_cap_ms else "-"))
    if rc_spread:
        print(f"risk parity: largest spread of risk contributions, batched "
              f"{max(rc_spread[0::2]):.1e}, reference {max(rc_spread[1::2]):.1e}")

    with tempfile.TemporaryDirectory() as home:
        os.environ["AUTOPORT_HOME"] = home
        menus.clear_process_cache()
        menus.table(prices, cfg)  # builds and saves
        menus.clear_process_cache()
        started = time.perf_counter()
        loaded = menus.table(prices, cfg)
        t_load = time.perf_counter() - started
        gap = np.abs(loaded.menus - table).max()
        print(f"disk cache: load {t_load * 1e3:.0f} ms ({loaded.source}; max |difference| "
              f"to the build timed above {gap:.1e}) - what a second train-agent run pays "
              "instead of the build")


if __name__ == "__main__":
    main()
