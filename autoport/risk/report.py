"""One call that assembles what `autoport stress` shows: VaR/ES, attribution, stress, backtest.

Pure: takes prices and weights, returns a :class:`RiskReport`; the CLI renders and writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from autoport.errors import DataError
from autoport.risk import attribution as attr
from autoport.risk import var_backtest as bt
from autoport.risk import monitoring as mon
from autoport.risk import stress as st
from autoport.risk.var import (
    VaRResult,
    compute_var,
    horizon_asset_returns,
    methods_for,
    scenario_var_es,
)

WEIGHT_SUM_TOLERANCE = 1e-4


def check_portfolio(weights: Mapping[str, float], tickers: list[str]) -> pd.Series:
    """Weights as a Series over ``tickers`` (missing = 0), refusing unknown names and bad sums.

    Parameters
    ----------
    weights
        Weight per ticker (fractions of the value, summing to 1; cash is not modelled).
    tickers
        The tickers of the prices.
    """
    if not weights:
        raise DataError("the weights are empty; give at least one {ticker: weight}")
    unknown = [t for t in weights if t not in tickers]
    if unknown:
        raise DataError(
            f"weights name ticker(s) not in the prices: {', '.join(map(str, unknown))}; "
            f"available: {', '.join(tickers)}"
        )
    try:
        w = pd.Series({k: float(v) for k, v in weights.items()}, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"every weight must be a number: {exc}") from None
    if not np.isfinite(w).all():
        raise DataError("weights hold NaN or infinite values")
    total = float(w.sum())
    if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
        raise DataError(
            f"weights sum to {total:.6f}, not 1; rescale them so they add up to 1 "
            "(cash is not modelled)"
        )
    return w.reindex(tickers).fillna(0.0)


@dataclass(frozen=True)
class RiskReport:
    weights: pd.Series
    var_results: dict[str, VaRResult]
    attribution: attr.Attribution  # parametric normal (closed form, with incremental)
    scenario_attribution: attr.Attribution | None  # historical (Euler on scenarios)
    sectors: pd.DataFrame
    factors: attr.FactorDecomposition
    budgets: dict[str, pd.DataFrame]
    stress: list[st.ScenarioResult]
    worst_case: dict
    recommendations: list[dict]
    backtest: bt.VaRBacktest
    alerts: list[mon.Alert]
    correlation: pd.DataFrame  # estimation-window correlation matrix
    avg_correlation: float
    correlation_monitor: dict = field(default_factory=dict)
    estimation: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "var_metrics": {k: v.as_dict() for k, v in self.var_results.items()},
            "stress_test_results": [r.as_dict() for r in self.stress],
            "worst_case": self.worst_case,
            "risk_attribution": {
                "method": "parametric normal (Euler)",
                "var": self.attribution.var,
                "expected_shortfall": self.attribution.expected_shortfall,
                "assets": self.attribution.records(),
                "historical": self.scenario_attribution.records()
                if self.scenario_attribution is not None
                else None,
                "sectors": [
                    {"sector": k, **v} for k, v in self.sectors.to_dict(orient="index").items()
                ],
                "factors": {
                    **{k: v for k, v in self.factors.table().to_dict(orient="index").items()},
                    "residual_share": self.factors.residual_share,
                },
                "risk_budget": {
                    k: [{"name": i, **r} for i, r in v.to_dict(orient="index").items()]
                    for k, v in self.budgets.items()
                },
            },
            "recommendations": self.recommendations,
            "var_backtest": self.backtest.summary(),
            "alerts": [a.as_dict() for a in self.alerts],
            "correlation": {
                "average_pairwise": self.avg_correlation,
                **self.correlation_monitor,
            },
            "estimation": self.estimation,
        }

    def mlflow_metrics(self) -> dict[str, float]:
        """VaR and ES by method, the VaR backtest's figures, the worst scenario, the headline
        VaR (parametric when computed, else the first method)."""
        headline = self.var_results.get("parametric") or next(iter(self.var_results.values()))
        metrics = {f"var_{k}": v.var for k, v in self.var_results.items()}
        metrics.update({f"es_{k}": v.expected_shortfall for k, v in self.var_results.items()})
        summary = self.backtest.summary()
        metrics.update(
            backtest_breach_rate=summary["breach_rate"],
            backtest_kupiec_pvalue=summary["kupiec_pvalue"],
            backtest_binomial_pvalue=summary["binomial_pvalue"],
            backtest_christoffersen_pvalue=summary["christoffersen_pvalue"],
            worst_scenario_pnl=self.worst_case.get("pnl", float("nan")),
            headline_var=headline.var,
        )
        return metrics


def risk_report(
    prices: pd.DataFrame,
    weights: pd.Series,
    *,
    method: str = "all",
    confidence: float = 0.95,
    horizon: int = 1,
    window: int | str = 1000,
    scenarios: st.ScenarioSet,
    alert_rules: mon.AlertConfig | None = None,
    sectors: Mapping[str, str],
    benchmark: pd.Series | None = None,
    n_paths: int = 100_000,
    seed: int = 0,
    sampler: str = "antithetic",
    decay: float = 0.99,
    backtest_model: str = bt.DEFAULT_MODEL,
    backtest_window: int = bt.DEFAULT_WINDOW,
    concentration_limit: float = 0.10,
    risk_budgets: Mapping[str, float] | None = None,
) -> RiskReport:
    """Everything `autoport stress` reports, on the last ``window`` sessions of ``prices``.

    The VaR backtest runs over the whole history given, re-estimating ``backtest_model``
    causally on a rolling ``backtest_window`` at each date, for the fixed ``weights``
    (rebalanced daily to them).

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): sessions by tickers.
    weights
        Portfolio weights per ticker, summing to 1 (held fixed, rebalanced daily).
    method
        A VaR method, a family (``parametric``, ``historical``, ``monte_carlo``) or ``all``.
    confidence
        Probability of doing better than VaR, in (0.5, 1): 0.95 or 0.99.
    horizon
        Days the loss is measured over (1, 5, 10).
    window
        Sessions of daily returns the estimates use (the last ones), or ``"all"``.
    scenarios
        Stress scenarios (:func:`autoport.risk.stress.load_scenarios`).
    alert_rules
        Limits to check; None: no alerts.
    sectors
        Sector of each ticker, for the sector decomposition and sector shocks.
    benchmark
        Benchmark index levels on the same sessions, shape (T,), for beta-driven scenarios.
    n_paths, seed, sampler
        Monte Carlo paths, seed and sampler (``antithetic``, ``plain``, ``sobol``).
    decay
        Age weight λ per day (age-weighted historical VaR).
    backtest_model
        The VaR model re-estimated at each date of the VaR backtest.
    backtest_window
        Sessions of its rolling estimation window.
    concentration_limit
        Weight above which a position is flagged as concentrated.
    risk_budgets
        Target share of VaR per ticker; None: equal risk over the held assets (1/N).
    """
    tickers = list(weights.index)
    returns = prices[tickers].pct_change().iloc[1:]
    if len(returns) < 30:
        raise DataError(f"{len(returns)} days of returns are too few for VaR; pass >= 30")
    if window == "all":
        window = len(returns)
    est = returns.iloc[-window:]
    x = est.to_numpy()
    held = weights[weights != 0].index
    w = weights.to_numpy(dtype=float)
    results: dict[str, VaRResult] = {}
    for m in methods_for(method):
        results[m.value] = compute_var(
            m,
            x,
            w,
            confidence=confidence,
            horizon=horizon,
            n_paths=n_paths,
            seed=seed,
            sampler=sampler,
            decay=decay,
            keep_scenarios=True,
        )
    normal = attr.normal_attribution(est, w, confidence=confidence, horizon=horizon)
    hist = results.get("historical") or compute_var(
        "historical", x, w, confidence=confidence, horizon=horizon
    )
    hx = horizon_asset_returns(x, horizon)
    scen = attr.scenario_attribution(
        hist, w, tickers=tickers, revalue=lambda wv: scenario_var_es(hx @ wv, confidence)
    )
    cov = np.cov(x, rowvar=False)
    sector_table = attr.sector_decomposition(normal, sectors, cov=cov)
    factors = attr.pca_decomposition(est, w)
    budgets = attr.risk_budget_report(normal, budgets=risk_budgets, sectors=sectors)
    headline = results.get("parametric") or next(iter(results.values()))
    stress = st.run_scenarios(
        scenarios,
        prices,
        weights,
        sectors=sectors,
        benchmark=benchmark,
        var=headline.var,
        confidence=confidence,
        horizon=horizon,
        estimation_window=window,
    )
    worst = st.worst_case(stress)
    recs = st.recommendations(
        stress,
        weights,
        component_var=normal.table["component_var"],
        var=normal.var,
        concentration_limit=concentration_limit,
    )
    port = returns @ w
    backtest = bt.backtest_var(
        port, model=backtest_model, confidence=confidence, window=backtest_window
    )
    alerts: list[mon.Alert] = []
    if alert_rules is not None:
        fc: dict[float, pd.Series] = {confidence: backtest.var}
        for rule in alert_rules.rules:
            if rule.metric == "var_breach" and rule.confidence not in fc:
                fc[rule.confidence] = bt.backtest_var(
                    port,
                    model=backtest_model,
                    confidence=rule.confidence,
                    window=backtest_window,
                ).var
        alerts = mon.evaluate_alerts(
            alert_rules,
            portfolio_returns=port,
            var_forecasts=fc,
            weights=weights[held],
            asset_returns=returns[held] if len(held) >= 2 else None,
        )
    corr = est.corr()
    avg_corr = (
        float(mon.average_pairwise(corr.loc[held, held].to_numpy()))
        if len(held) >= 2
        else float("nan")
    )
    monitor: dict = {}
    if len(held) >= 2 and len(returns) >= 63:
        rolling = mon.average_correlation_series(returns[held], window=63)
        ewma = mon.average_correlation_series(returns[held], method="ewma")
        limit = next(
            (r.limit for r in (alert_rules.rules if alert_rules else [])
             if r.metric == "avg_correlation"),
            0.8,
        )  # fmt: skip
        monitor = {
            "rolling_63d_latest": float(rolling.iloc[-1]),
            "rolling_63d_max": float(rolling.max()),
            "rolling_63d_max_date": rolling.idxmax(),
            "ewma_latest": float(ewma.iloc[-1]),
            "ewma_max": float(ewma.max()),
            "ewma_max_date": ewma.idxmax(),
            "limit": limit,
            "days_rolling_above_limit": int((rolling > limit).sum()),
            "days_ewma_above_limit": int((ewma > limit).sum()),
        }
    return RiskReport(
        weights=weights,
        var_results=results,
        attribution=normal,
        scenario_attribution=scen,
        sectors=sector_table,
        factors=factors,
        budgets=budgets,
        stress=stress,
        worst_case=worst,
        recommendations=recs,
        backtest=backtest,
        alerts=alerts,
        correlation=corr,
        avg_correlation=avg_corr,
        correlation_monitor=monitor,
        estimation={
            "start": est.index[0],
            "end": est.index[-1],
            "observations": len(est),
            "n_paths": n_paths,
            "seed": seed,
        },
    )
