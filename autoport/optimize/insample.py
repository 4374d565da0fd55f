"""What the chosen weights would have done on the estimation window (in-sample, not a backtest).

Daily rebalanced to constant weights, simple returns; Sharpe/Sortino annualised with 252
sessions against ``risk_free_rate`` (annual, converted to daily by /252). Computed with
empyrical, the library pyfolio builds on.
"""

from __future__ import annotations

import empyrical
import numpy as np
import pandas as pd

TRADING_DAYS = 252


def path_statistics(
    weights: pd.Series, returns: pd.DataFrame, risk_free_rate: float = 0.0
) -> dict[str, float]:
    """Annual return, volatility, Sharpe, Sortino and max drawdown (a negative fraction).

    Weight not placed in a column of ``returns`` (a cash line, or the rest of a Kelly
    portfolio whose weights sum below 1) earns the risk-free rate.
    """
    cols = [c for c in weights.index if c in returns.columns]
    w = weights.reindex(cols).to_numpy()
    rf_daily = risk_free_rate / TRADING_DAYS
    # whatever is not in a priced asset (a CASH line, Kelly's unlevered rest) earns rf
    daily = pd.Series(returns[cols].to_numpy() @ w + (1.0 - w.sum()) * rf_daily,
                      index=returns.index)
    return {
        "annual_return": float(empyrical.annual_return(daily, period="daily")),
        "annual_volatility": float(empyrical.annual_volatility(daily, period="daily")),
        "sharpe_ratio": float(empyrical.sharpe_ratio(daily, risk_free=rf_daily, period="daily")),
        "sortino_ratio": float(
            empyrical.sortino_ratio(daily, required_return=rf_daily, period="daily")
        ),
        "max_drawdown": float(empyrical.max_drawdown(daily)),
        "sessions": float(len(daily)),
        "final_growth": float(np.prod(1 + daily.to_numpy())),
    }
