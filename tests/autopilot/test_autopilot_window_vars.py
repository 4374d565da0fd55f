"""The override's VaRs on each session since the last decision, computed in one pass
(:func:`risk_checks.window_vars`, and :func:`risk_checks.portfolio_var`, its one-window
case): the VaR of :func:`autoport.risk.historical_var` on each window, to the bit, and the
same refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoport.autopilot import risk_checks
from autoport.errors import DataError
from autoport.risk import historical_var


def _reference(w, rets, conf):
    """The full historical simulation (VaR, ES, tail attribution), its VaR."""
    return float(historical_var(rets.to_numpy(float), w, confidence=conf).var) if np.any(w) \
        else 0.0


def test_each_window_var_is_portfolio_var_to_the_bit():
    rng = np.random.default_rng(7)
    cols = [f"A{i}" for i in range(12)]
    rets = pd.DataFrame(rng.normal(0.0003, 0.012, size=(300, 12)), columns=cols)
    windows = [(max(0, 300 - 252 - e), 300 - e) for e in range(20, -1, -1)] + [(0, 5)]
    weights = [rng.dirichlet(np.ones(12)) for _ in windows]
    weights[3] = np.zeros(12)  # all cash: no VaR
    for conf in (0.95, 0.99):
        got = risk_checks.window_vars(rets, windows, weights, conf)
        want = [_reference(w, rets.iloc[lo:hi], conf)
                for (lo, hi), w in zip(windows, weights, strict=True)]
        assert got == want and got[3] == 0.0 and len(set(got)) > 15
        assert got == [risk_checks.portfolio_var(pd.Series(w, index=cols), rets.iloc[lo:hi],
                                                 conf)
                       for (lo, hi), w in zip(windows, weights, strict=True)]


def test_a_window_portfolio_var_refuses_is_refused_the_same_way():
    cols = ["A", "B"]
    rets = pd.DataFrame(np.full((40, 2), 0.001), columns=cols)
    rets.iloc[5, 1] = np.nan
    w = np.array([0.5, 0.5])
    assert risk_checks.window_vars(rets, [(10, 40)], [w], 0.95) == [
        _reference(w, rets.iloc[10:40], 0.95)]
    with pytest.raises(DataError, match="NaN"):
        risk_checks.portfolio_var(pd.Series(w, index=cols), rets, 0.95)
    with pytest.raises(DataError, match="NaN"):
        risk_checks.window_vars(rets, [(0, 40)], [w], 0.95)
    with pytest.raises(DataError, match="at least 2"):
        risk_checks.window_vars(rets.fillna(0.0), [(39, 40)], [w], 0.95)
