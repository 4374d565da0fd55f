"""Headline metrics against hand calculation on a tiny series."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from autoport.metrics import summary

# Five daily returns; hand calculation below.
RETURNS = pd.Series([0.01, -0.02, 0.03, -0.01, 0.02], index=pd.bdate_range("2021-01-04", periods=5))


def test_sharpe_sortino_drawdown_match_hand_calculation():
    figures = summary(RETURNS)
    mean = 0.006  # (0.01 - 0.02 + 0.03 - 0.01 + 0.02) / 5
    # sample std: deviations 0.004, -0.026, 0.024, -0.016, 0.014; squares sum 0.00172 (16+676+576+256+196 e-6); /4
    std = math.sqrt(0.00172 / 4)
    assert figures["sharpe"] == pytest.approx(mean / std * math.sqrt(252), rel=1e-12)
    # downside deviation: sqrt(mean(min(r, 0)^2)) = sqrt((0.0004 + 0.0001) / 5)
    downside = math.sqrt(0.0005 / 5)
    assert figures["sortino"] == pytest.approx(mean / downside * math.sqrt(252), rel=1e-12)
    # wealth: 1.01, 0.9898, 1.019494, 1.00929906, 1.0294...; peak 1.01 -> trough 0.9898
    assert figures["max_drawdown"] == pytest.approx(0.9898 / 1.01 - 1, rel=1e-12)
    assert figures["annual_volatility"] == pytest.approx(std * math.sqrt(252), rel=1e-12)
    growth = 1.01 * 0.98 * 1.03 * 0.99 * 1.02
    annual = growth ** (252 / 5) - 1
    assert figures["annual_return"] == pytest.approx(annual, rel=1e-10)
    assert figures["calmar"] == pytest.approx(annual / abs(0.9898 / 1.01 - 1), rel=1e-10)


def test_risk_free_rate_lowers_sharpe_by_the_daily_excess():
    base = summary(RETURNS)["sharpe"]
    with_rf = summary(RETURNS, risk_free=0.0252)["sharpe"]
    std = math.sqrt(0.00172 / 4)
    assert base - with_rf == pytest.approx(0.0001 / std * math.sqrt(252), rel=1e-10)
