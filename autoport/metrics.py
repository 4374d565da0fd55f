"""Performance figures from empyrical-reloaded and pyfolio-reloaded; nothing hand-rolled.

All figures are annualised with 252 sessions; ``max_drawdown`` is a negative return;
``turnover`` is pyfolio's mean daily turnover (traded value over gross book) times 252.
"""

from __future__ import annotations

import empyrical
import numpy as np
import pandas as pd

METRIC_KEYS = (
    "annual_return", "annual_volatility", "sharpe", "sortino", "calmar", "max_drawdown",
    "turnover",
)


def summary(
    returns: pd.Series,
    *,
    positions: pd.DataFrame | None = None,
    transactions: pd.DataFrame | None = None,
    risk_free: float = 0.0,
) -> dict[str, float]:
    """Headline figures for a daily return series; ``risk_free`` is annual.

    Parameters
    ----------
    returns
        Daily simple returns of the portfolio after costs, shape (T,).
    positions
        Dollar value held per asset and cash per session, shape (T, N + 1) (pyfolio's layout);
        with ``transactions``, gives the turnover.
    transactions
        One row per fill (``symbol``, ``amount`` in shares, ``price``), indexed by date.
    risk_free
        Annual risk-free rate for the Sharpe and Sortino ratios.
    """
    daily_rf = risk_free / 252.0
    out = {
        "annual_return": float(empyrical.annual_return(returns)),
        "annual_volatility": float(empyrical.annual_volatility(returns)),
        "sharpe": float(empyrical.sharpe_ratio(returns, risk_free=daily_rf)),
        "sortino": float(empyrical.sortino_ratio(returns, required_return=daily_rf)),
        "calmar": float(empyrical.calmar_ratio(returns)),
        "max_drawdown": float(empyrical.max_drawdown(returns)),
        "turnover": float("nan"),
    }
    if positions is not None and transactions is not None and len(transactions):
        from pyfolio import txn

        daily = txn.get_turnover(positions, _pyfolio_transactions(transactions))
        out["turnover"] = float(np.nanmean(daily.to_numpy()) * 252)
    return out


def _pyfolio_transactions(transactions: pd.DataFrame) -> pd.DataFrame:
    frame = transactions.copy()
    frame["sid"] = frame["symbol"]
    return frame
