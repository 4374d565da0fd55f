"""One small error tree. Every message says what was wrong, where, and what to do.

The CLI turns any ``AutoportError`` into a one-line message and exit code 1, with no traceback;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class AutoportError(Exception):
    """A problem the user can fix (bad input, bad config, infeasible request)."""


class DataError(AutoportError):
    """Prices or other inputs are malformed: NaN, non-positive, gaps, unknown tickers, too short."""


class ConfigError(AutoportError):
    """A YAML config or a CLI option is invalid."""


class OptimizationError(AutoportError):
    """The optimizer could not produce weights."""


class InfeasibleError(OptimizationError):
    """The constraints cannot all hold at once."""


class TrackingError(AutoportError):
    """MLflow could not be reached or a run / model reference does not exist."""
