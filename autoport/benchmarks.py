"""The market to compare against when no index is given: the panel's equal-weight index.

One definition shared by `autoport regime` (the bull/bear reference for a user's prices) and
promotion (the market a regime detector's calls are scored against), so the two cannot date
different bear markets from the same prices.
"""

from __future__ import annotations

import pandas as pd


def equal_weight_index(prices: pd.DataFrame) -> pd.Series:
    """Growth of 1 in the 1/N portfolio rebalanced daily: ``cumprod(1 + mean_i r_i,t)``.

    ``r`` are daily simple returns; the first session is 1. On a ragged panel (late listings,
    delistings) each day's mean is over the assets priced on that day and the one before, the
    market index the regime detector reads (:func:`autoport.regime.features.market_returns`);
    a day with none counts as 0, as cash would.
    """
    if not prices.isna().to_numpy().any():  # pandas' default path: the same bits as ever
        return (1 + prices.pct_change().fillna(0.0).mean(axis=1)).cumprod()
    return (1 + prices.pct_change(fill_method=None).mean(axis=1).fillna(0.0)).cumprod()
