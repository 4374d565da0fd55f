"""One call that assembles what `autoport optimize` shows: weights, frontier, Pareto set.

Pure apart from the sector / ESG files a constraints config names (read by
:func:`autoport.optimize.config.to_constraints`): takes a validated price panel and an
:class:`~autoport.optimize.config.OptimizeConfig`, returns an :class:`OptimizeReport`; the CLI
renders, writes and logs it, and a notebook can use it as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import pandas as pd

from autoport import data, estimators
from autoport.errors import ConfigError, DataError, OptimizationError
from autoport.optimize import config as cfgmod
from autoport.optimize.frontier import Frontier, efficient_frontier, pareto_front
from autoport.optimize.insample import path_statistics
from autoport.optimize.objectives import Objective, OptimizationResult, add_cash, optimize

MIN_SESSIONS = 31  # with window "all": at least 30 returns


@dataclass(frozen=True)
class OptimizeReport:
    """The chosen portfolio, the estimates behind it and the frontier / Pareto set around it.

    ``mu`` and ``cov`` are the annualised estimates the optimizer saw (with the CASH line when
    ``constraints.cash``); ``in_sample`` is what the weights did on the estimation window
    (:func:`autoport.optimize.insample.path_statistics`), not a backtest.
    """

    config: cfgmod.OptimizeConfig
    result: OptimizationResult
    mu: pd.Series
    cov: pd.DataFrame
    in_sample: dict[str, float]
    notes: tuple[str, ...]
    start: pd.Timestamp
    end: pd.Timestamp
    data_hash: str
    frontier: Frontier | None = None
    pareto: pd.DataFrame | None = None

    def estimation(self) -> dict:
        cfg = self.config
        return {"returns_model": cfg.returns_model, "risk_model": cfg.risk_model,
                "window": cfg.window, "start": self.start, "end": self.end,
                "risk_free_rate": cfg.risk_free_rate, "data_hash": self.data_hash}

    def to_json(self) -> dict:
        """The `--json` object and result.json (before the CLI adds its output folder/run)."""
        r = self.result
        payload = {
            "objective": r.objective,
            "weights": r.weights.to_dict(),
            "expected_return": r.expected_return,
            "expected_volatility": r.volatility,
            "sharpe_ratio": r.sharpe_ratio,
            "in_sample": self.in_sample,
            "solver": r.solver,
            "solver_attempts": list(r.attempts),
            "notes": list(self.notes),
            "extra": r.extra,
            "estimation": self.estimation(),
            "efficient_frontier": self.frontier.records() if self.frontier is not None else [],
        }
        if self.pareto is not None:
            payload["pareto_front"] = self.pareto.to_dict(orient="records")
        return payload

    def mlflow_params(self) -> dict:
        cfg, r = self.config, self.result
        return {
            "objective": r.objective, "returns_model": cfg.returns_model,
            "risk_model": cfg.risk_model, "window": cfg.window, "as_of": cfg.as_of,
            "risk_free_rate": cfg.risk_free_rate, "frontier_points": cfg.frontier_points,
            "solver": r.solver, "n_assets": len(r.weights), "data_hash": self.data_hash,
        }

    def mlflow_metrics(self) -> dict[str, float]:
        r = self.result
        return {
            "expected_return": r.expected_return,
            "expected_volatility": r.volatility,
            "sharpe_ratio": r.sharpe_ratio,
            "in_sample_sortino": self.in_sample["sortino_ratio"],
            "in_sample_max_drawdown": self.in_sample["max_drawdown"],
        }


def sessions_needed(cfg: cfgmod.OptimizeConfig) -> int:
    """Price rows the estimation window needs (``window`` returns need ``window`` + 1 rows).

    Parameters
    ----------
    cfg
        The optimizer's settings (``window``).
    """
    return MIN_SESSIONS if cfg.window == "all" else cfg.window + 1


def estimation_window(prices: pd.DataFrame, cfg: cfgmod.OptimizeConfig) -> pd.DataFrame:
    """The sessions the estimates use: up to ``as_of``, the last ``window`` + 1 (or all).

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): sessions by tickers.
    cfg
        The optimizer's settings (``window``, ``as_of``).
    """
    return _estimation_window(prices, cfg)[0]


def _estimation_window(prices: pd.DataFrame, cfg: cfgmod.OptimizeConfig
                       ) -> tuple[pd.DataFrame, str]:
    """The window and a note: on a ragged panel only assets with the whole window count."""
    if cfg.as_of is not None:
        prices = data.slice_dates(prices, None, cfg.as_of)
    need = sessions_needed(cfg)
    if len(prices) < need:
        raise DataError(f"the prices hold {len(prices)} sessions up to the as-of date; the "
                        f"estimation window needs {need}")
    window = prices if cfg.window == "all" else prices.iloc[-(cfg.window + 1):]
    return data.complete_universe(window, None if cfg.window == "all" else cfg.window + 1)


def optimize_report(
    prices: pd.DataFrame,
    cfg: cfgmod.OptimizeConfig | None = None,
    *,
    sectors: Mapping[str, str] | None = None,
) -> OptimizeReport:
    """Estimate μ and Σ on the window, solve ``cfg.objective``, draw the frontier and Pareto set.

    ``prices``: a validated panel (:func:`autoport.data.validate_prices`). ``sectors`` (ticker
    → sector) serves sector limits that name no sector file (the bundled map when None);
    risk budgeting by sector uses the constraints' groups, else the bundled map. A frontier
    that cannot be drawn is a note, not an error; any other failure raises.

    Parameters
    ----------
    prices
        Adjusted closes, shape (T, N): sessions by tickers, validated.
    cfg
        The optimizer's settings; None: the defaults.
    sectors
        Sector of each ticker; None: the bundled map.
    """
    cfg = cfg if cfg is not None else cfgmod.OptimizeConfig()
    obj = Objective.parse(cfg.objective)
    panel, universe_note = _estimation_window(prices, cfg)
    tickers = list(panel.columns)
    rf = cfg.risk_free_rate

    cov = estimators.risk_matrix(panel, cfg.risk_model)
    mu = estimators.expected_returns(
        panel, cfg.returns_model, risk_free_rate=rf, views=cfgmod.views(cfg),
        market_caps=cfg.market_caps, cov=cov,
    )
    cons_cfg, cap_note = cfgmod.capped(cfg, len(tickers))
    cons = cfgmod.to_constraints(cons_cfg, tickers, sector_map=sectors)
    returns = data.simple_returns(panel)
    scenarios = returns
    if cfg.constraints.cash:
        mu, cov = add_cash(mu, cov, rf)
        scenarios = returns.assign(CASH=rf / 252)

    classes = None
    if obj == Objective.RISK_PARITY:
        if cfg.risk_budget_by == "sector":
            classes = cons.groups or data.sector_map()
        # the sector map may define the classes; any other constraint is refused there
        cons_for_objective = replace(cons, groups=None)
    else:
        cons_for_objective = cons
    result = optimize(
        mu, cov, obj, cons_for_objective, risk_free_rate=rf, target_return=cfg.target_return,
        target_volatility=cfg.target_volatility, risk_aversion=cfg.risk_aversion,
        risk_tolerance=cfg.risk_tolerance, scenarios=scenarios, beta=cfg.beta,
        max_drawdown=cfg.max_drawdown, kelly_fraction=cfg.kelly_fraction,
        objective_weights=cfg.objective_weights, risk_budget=cfg.risk_budget,
        asset_classes=classes,
    )
    notes = [n for n in (universe_note, cap_note) if n] + list(result.notes)
    frontier = None
    if cfg.frontier_points:
        try:
            frontier = efficient_frontier(mu, cov, cons, n_points=max(cfg.frontier_points, 2),
                                          risk_free_rate=rf)
            notes += [f"frontier: {n}" for n in frontier.notes]
        except OptimizationError as exc:
            notes.append(f"frontier not drawn: {exc}")
    stats = path_statistics(result.weights, returns, rf)
    pareto = None
    if cfg.pareto:
        if len(cfg.pareto) != 2:
            raise ConfigError(f"--pareto needs two measures separated by a comma, got {cfg.pareto}")
        pareto = pareto_front(mu, cov, (cfg.pareto[0], cfg.pareto[1]), cons,
                              scenarios=scenarios, n_points=cfg.pareto_points, beta=cfg.beta)
    return OptimizeReport(
        config=cfg, result=result, mu=mu, cov=cov, in_sample=stats, notes=tuple(notes),
        start=panel.index[0], end=panel.index[-1], data_hash=data.content_hash(panel),
        frontier=frontier, pareto=pareto,
    )
