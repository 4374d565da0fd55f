"""Performance figures from empyrical-reloaded, and pyfolio's turnover.

All figures are annualised with 252 sessions; ``max_drawdown`` is a negative return;
``turnover`` is pyfolio's mean daily turnover (traded value over gross book) times 252.
The turnover follows ``pyfolio.txn.get_turnover`` step for step (a test holds it to pyfolio's
to 1e-12) instead of calling it: importing pyfolio loads zipline and matplotlib (about 1.2 s),
which every sweep trial on the fast engine would pay in every fresh worker.
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
        out["turnover"] = float(np.nanmean(daily_turnover(positions, transactions)) * 252)
    return out


def daily_turnover(positions: pd.DataFrame, transactions: pd.DataFrame) -> pd.Series:
    """Traded value over the mean of the previous and current gross book, per session.

    ``pyfolio.txn.get_turnover(positions, transactions)`` (denominator ``AGB``): fills are
    summed per calendar day; the first day's book is halved (pyfolio sets the missing previous
    book to 0); days with a fill but no position row, or no fill, count as 0.

    Parameters
    ----------
    positions
        Dollar value held per asset and cash per session, shape (T, N + 1) (pyfolio's layout).
    transactions
        One row per fill (``amount`` in shares, ``price``), indexed by its timestamp.
    """
    fills = transactions.copy()
    fills.index = fills.index.normalize()
    values = fills["amount"].abs() * fills["price"]
    traded = values.groupby(values.index).sum().astype(float)
    book = positions.drop("cash", axis=1).abs().sum(axis=1)
    denom = book.rolling(2).mean()
    denom.iloc[0] = book.iloc[0] / 2
    denom.index = denom.index.normalize()
    return traded.div(denom, axis="index").fillna(0)
