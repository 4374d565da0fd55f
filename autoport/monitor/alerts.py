"""The alert rules of ``configs/alerts.yaml``, evaluated one bar at a time.

Same rules and episode logic as :func:`autoport.risk.monitoring.evaluate_alerts` (a test runs
both on one history): ``var_breach`` fires on every bar whose book return falls below the
one-bar filtered-historical VaR forecast made before it; ``drawdown`` and ``avg_correlation``
fire on the first bar of an episode (``on_entry_only``) and re-arm once the value is back
beyond ``rearm``. ``max_weight`` applies the same episode logic to each position, since a
drifting held book stays over a limit for many bars and one alert per episode is what a desk
wants (the batch evaluator checks one date only).
"""

from __future__ import annotations

import math

import numpy as np

from autoport.monitor.state import BarRisk
from autoport.risk.monitoring import Alert, AlertConfig, AlertRule


class _Episode:
    """One rule's (or one position's) armed flag: the `_entries` state machine of monitoring."""

    def __init__(self, rule: AlertRule, above: bool) -> None:
        self.rule = rule
        self.above = above
        self.rearm = rule.limit if rule.rearm is None else rule.rearm
        self.armed = True

    def step(self, value: float) -> bool:
        hit = (value > self.rule.limit) if self.above else (value < self.rule.limit)
        hit = hit and not math.isnan(value)
        if not self.rule.on_entry_only:
            return hit
        if self.armed and hit:
            self.armed = False
            return True
        if not self.armed and (value <= self.rearm if self.above else value >= self.rearm):
            self.armed = True
        return False


class LiveAlerts:
    def __init__(self, config: AlertConfig) -> None:
        self.rules = list(config.rules)
        self._episodes: dict[tuple[str, str], _Episode] = {}
        self._armed: dict[str, np.ndarray] = {}  # max_weight: one flag per position

    def breach_confidences(self) -> tuple[float, ...]:
        return tuple(r.confidence for r in self.rules if r.metric == "var_breach")

    def correlation_windows(self) -> tuple[int, ...]:
        return tuple(r.window for r in self.rules if r.metric == "avg_correlation")

    def _episode(self, rule: AlertRule, key: str, above: bool) -> _Episode:
        ep = self._episodes.get((rule.name, key))
        if ep is None:
            ep = self._episodes[(rule.name, key)] = _Episode(rule, above)
        return ep

    def _positions(self, rule: AlertRule, w: np.ndarray) -> np.ndarray:
        """`_Episode.step` for every position at once (a 500-asset book, every bar)."""
        hit = w > rule.limit
        if not rule.on_entry_only:
            return hit
        armed = self._armed.get(rule.name)
        if armed is None:
            armed = self._armed[rule.name] = np.ones(w.size, dtype=bool)
        rearm = rule.limit if rule.rearm is None else rule.rearm
        fire = armed & hit
        back = ~armed & (w <= rearm)
        armed &= ~fire
        armed |= back
        return fire

    def evaluate(self, bar: BarRisk) -> list[Alert]:
        """The alerts this bar fires, sorted by rule name (as the batch evaluator's ties)."""
        out: list[Alert] = []
        for rule in self.rules:
            if rule.metric == "var_breach":
                fc = bar.breach_forecasts.get(rule.confidence)
                if fc is not None and bar.portfolio_return < fc:
                    out.append(Alert(bar.time, rule.name, rule.metric, bar.portfolio_return,
                                     fc, rule.action))
            elif rule.metric == "drawdown":
                if self._episode(rule, "", above=False).step(bar.drawdown):
                    out.append(Alert(bar.time, rule.name, rule.metric, bar.drawdown,
                                     rule.limit, rule.action))
            elif rule.metric == "max_weight":
                w = bar.weights.to_numpy()
                fire = self._positions(rule, w)
                for i in sorted(np.flatnonzero(fire), key=lambda i: -w[i]):
                    out.append(Alert(bar.time, rule.name, f"weight:{bar.weights.index[i]}",
                                     float(w[i]), rule.limit, rule.action))
            else:  # avg_correlation
                value = bar.avg_correlation.get(rule.window, float("nan"))
                if self._episode(rule, "", above=True).step(value):
                    out.append(Alert(bar.time, rule.name, rule.metric, value, rule.limit,
                                     rule.action))
        return sorted(out, key=lambda a: a.rule)
