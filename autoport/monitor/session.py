"""Rows in, events out: the monitor's logic between the feed and the printer, without I/O.

Bad rows are skipped with their reason; a row at or before the last accepted timestamp too.
A *bad tick* (a price jumping more than ``spike_sd`` EWMA volatilities) is held until the next
good row: if that row takes the price back by at least half the jump, the held row was a bad
tick and is skipped; otherwise it is processed first (late, flagged ``held``). Only the rare
jumping rows wait; every other row is answered as it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoport.monitor.alerts import LiveAlerts
from autoport.monitor.feed import BadRow, Row
from autoport.monitor.state import BarRisk, LiveRisk
from autoport.risk.monitoring import Alert


@dataclass(frozen=True)
class BarEvent:
    row: Row
    risk: BarRisk
    alerts: list[Alert]
    held: bool = False  # waited for the next row (a jump that might have been a bad tick)


@dataclass(frozen=True)
class SkipEvent:
    line: int
    text: str
    reason: str


@dataclass(frozen=True)
class HoldEvent:
    row: Row
    reason: str


Event = BarEvent | SkipEvent | HoldEvent


class Monitor:
    def __init__(self, state: LiveRisk, alerts: LiveAlerts, *, spike_sd: float = 10.0) -> None:
        self.state = state
        self.alerts = alerts
        self.spike_sd = float(spike_sd)
        self.history_end = state.time_
        self.held: tuple[Row, np.ndarray] | None = None  # row, log jump per asset
        self.in_history = 0  # rows at or before the history's last bar, ignored

    def push(self, row: Row | BadRow) -> list[Event]:
        if isinstance(row, BadRow):
            return [SkipEvent(row.line, row.text, row.reason)]
        if row.time <= self.history_end and self.state.bars_ == 0 and self.held is None:
            self.in_history += 1
            return []
        last = self.held[0].time if self.held is not None else self.state.time_
        if row.time <= last:
            return [SkipEvent(row.line, _text(row), f"timestamp {row.time} is not after the "
                              f"previous bar {last}")]
        events: list[Event] = []
        if self.held is not None:
            held, jump = self.held
            self.held = None
            back = np.log(row.prices / self.state.last_prices_)
            big = np.abs(jump) > 0
            reversed_ = big & (np.abs(back) <= 0.5 * np.abs(jump))
            if reversed_.any():
                j = int(np.flatnonzero(reversed_)[0])
                events.append(SkipEvent(
                    held.line, _text(held),
                    f"bad tick: {self.state.tickers_[j]} jumped {np.expm1(jump[j]):+.1%} and "
                    f"reversed on line {row.line}",
                ))
            else:
                events.append(self._bar(held, held=True))
        events.extend(self._screen(row))
        return events

    def finish(self) -> list[Event]:
        """At the end of the feed: a held row cannot be confirmed, so it is processed."""
        if self.held is None:
            return []
        held, _ = self.held
        self.held = None
        return [self._bar(held, held=True)]

    def _screen(self, row: Row) -> list[Event]:
        if self.spike_sd > 0:
            jump = np.log(row.prices / self.state.last_prices_)
            vol = self.state.asset_vol()
            spikes = np.abs(jump) > self.spike_sd * np.maximum(vol, 1e-12)
            if spikes.any():
                j = int(np.flatnonzero(spikes)[0])
                self.held = (row, np.where(spikes, jump, 0.0))
                return [HoldEvent(row, f"{self.state.tickers_[j]} jumped "
                                  f"{np.expm1(jump[j]):+.1%} ({abs(jump[j]) / vol[j]:.0f} "
                                  "EWMA sd); held until the next row shows whether it reverses")]
        return [self._bar(row)]

    def _bar(self, row: Row, held: bool = False) -> BarEvent:
        risk = self.state.update(row.prices, row.time)
        return BarEvent(row, risk, self.alerts.evaluate(risk), held)


def _text(row: Row) -> str:
    return row.text or f"{row.time}," + ",".join(f"{p:g}" for p in row.prices)
