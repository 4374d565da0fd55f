"""Risk engine: VaR/ES (parametric, historical, Monte Carlo), attribution, stress, monitoring.

Pure numeric code: functions take returns (days x assets, daily simple returns) and weights,
and return values or frozen dataclasses. VaR and ES are horizon *returns*, negative for losses,
with ES <= VaR.
"""

from autoport.risk.attribution import (
    Attribution,
    normal_attribution,
    pca_decomposition,
    risk_budget_report,
    scenario_attribution,
    sector_decomposition,
)
from autoport.risk.var_backtest import (
    backtest_var,
    christoffersen_independence,
    exact_binomial_pvalue,
    kupiec_pof,
)
from autoport.risk.monitoring import (
    EwmaRiskMonitor,
    average_correlation_series,
    evaluate_alerts,
    load_alert_rules,
)
from autoport.risk.stress import load_scenarios, run_scenarios
from autoport.risk.var import (
    VaRMethod,
    VaRResult,
    compute_var,
    historical_var,
    monte_carlo_var,
    parametric_var,
    value_at_risk,
)

__all__ = [
    "Attribution",
    "EwmaRiskMonitor",
    "VaRMethod",
    "VaRResult",
    "average_correlation_series",
    "backtest_var",
    "christoffersen_independence",
    "compute_var",
    "evaluate_alerts",
    "historical_var",
    "exact_binomial_pvalue",
    "kupiec_pof",
    "load_alert_rules",
    "load_scenarios",
    "monte_carlo_var",
    "normal_attribution",
    "parametric_var",
    "pca_decomposition",
    "risk_budget_report",
    "run_scenarios",
    "scenario_attribution",
    "sector_decomposition",
    "value_at_risk",
]
