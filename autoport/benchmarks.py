"""The market to compare against when no index is given: the panel's equal-weight index.

One definition shared by `autoport regime` (the bull/bear reference for a user's prices) and
promotion (the market a regime detector's calls are scored against), so the two cannot date
different bear markets from the same prices.
"""

from __future__ import annotations

import pandas as pd


def equal_weight_index(prices: pd.DataFrame) -> pd.Series:
    """Growth of 1 in the 1/N portfolio rebalanced daily: ``cumprod(1 + mean_i r_i,t)``.

    ``r`` are daily simple returns; the first session is 1. A return that cannot be computed
    (an asset not yet listed) counts as 0 in that day's mean, as cash would.
    """
    return (1 + prices.pct_change().fillna(0.0).mean(axis=1)).cumprod()
