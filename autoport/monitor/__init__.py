"""Live risk monitoring: follow a price feed bar by bar, update risk incrementally, fire alerts.

- :mod:`.horizon`: the bar interval read from timestamps and the VaR horizon in bars;
- :mod:`.state`: :class:`LiveRisk`, the incremental risk state of a held book (O(n^2) a bar);
- :mod:`.alerts`: :class:`LiveAlerts`, the rules of ``configs/alerts.yaml`` evaluated bar by bar
  with the same episode logic as :func:`autoport.risk.monitoring.evaluate_alerts`;
- :mod:`.feed`: lines from a followed file or stdin, parsed into rows or bad rows (the I/O edge);
- :mod:`.session`: :class:`Monitor`, rows in, bar and skip events out (bad-tick hold included);
- :mod:`.notify`: an alert notifier command fed JSON on stdin, off the monitoring thread.
"""

from autoport.monitor.alerts import LiveAlerts
from autoport.monitor.horizon import Horizon, bar_interval, resolve_horizon
from autoport.monitor.session import BarEvent, HoldEvent, Monitor, SkipEvent
from autoport.monitor.state import BarRisk, LiveRisk

__all__ = [
    "BarEvent", "BarRisk", "HoldEvent", "Horizon", "LiveAlerts", "LiveRisk", "Monitor",
    "SkipEvent", "bar_interval", "resolve_horizon",
]
