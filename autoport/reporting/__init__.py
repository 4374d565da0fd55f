"""Figures a person would rather look at than read, one module per workflow.

Each ``plot_*`` draws from a result object of the core (:class:`~autoport.optimize.report.
OptimizeReport`, :class:`~autoport.regime.report.RegimeReport`, :class:`~autoport.risk.report.
RiskReport`) and returns the matplotlib figure; given a ``path`` it also writes the PNG and
closes the figure. Each ``save_*`` draws from plain series and tables (returns, weights, an
agent's episodes and training curves) and writes the PNG. Every figure a command writes comes
from here; ``tests/reporting/test_plots.py`` renders each one. Importing this package loads matplotlib
(Agg backend): import it where a figure is drawn, not at a command's start.
"""

from autoport.reporting.agent import save_episodes, save_training_curve
from autoport.reporting.backtest import (
    REGIME_COLOURS,
    distinct_colours,
    save_comparison,
    save_regime_timeline,
    save_tear_sheet,
    save_weights,
)
from autoport.reporting.optimize import plot_frontier
from autoport.reporting.regime import plot_regimes
from autoport.reporting.sweep import save_sweep_plot
from autoport.reporting.walkforward import save_fold_sharpes
from autoport.reporting.risk import (
    plot_correlation,
    plot_loss_distribution,
    plot_stress_scenarios,
    save_risk_plots,
)

__all__ = [
    "REGIME_COLOURS", "distinct_colours", "plot_correlation", "plot_frontier",
    "plot_loss_distribution", "plot_regimes", "plot_stress_scenarios", "save_comparison",
    "save_episodes", "save_fold_sharpes", "save_regime_timeline", "save_risk_plots",
    "save_sweep_plot",
    "save_tear_sheet",
    "save_training_curve", "save_weights",
]
