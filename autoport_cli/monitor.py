"""``autoport monitor``: risk and alerts on a live price feed, bar by bar.

A shell: parses options, loads the history, the book and the alert rules, builds the core's
:class:`autoport.monitor.Monitor`, then follows the feed and prints each answer (a rich live
table on a terminal, JSON lines with ``--json``). The run folder is written as the run goes
(``bars.jsonl``, ``alerts.jsonl``, ``skipped.jsonl``, flushed line by line so they can be
followed too) and ``summary.json`` is written atomically when the feed ends or on Ctrl-C /
SIGTERM.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer

from autoport.errors import AutoportError, ConfigError, DataError
from autoport_cli.choices import Strategy, value
from autoport_cli.common import (
    AllowJumpsOption, FfillOption, TrackOption, OutOption, PricesOption,
    check_tracking,
    console,
    err_console,
    load_prices,
    to_jsonable,
    user_errors,
)

WEIGHT_SUM_TOLERANCE = 1e-6


class _Stop(Exception):
    """Raised by the signal handler while the loop waits for the feed."""


@user_errors
def monitor(
    feed: Annotated[
        str, typer.Option("--feed", help="CSV of new bars to follow (like tail -f), or - for stdin")
    ],
    weights: Annotated[
        Path | None,
        typer.Option("--weights", help="book: JSON {ticker: weight}, or optimize's "
                     "weights.csv / result.json; the rest of 1 is cash"),
    ] = None,
    strategy: Annotated[
        Strategy | None, typer.Option("--strategy", help="book: today's weights from this strategy",
                                      show_default="none")
    ] = None,
    prices: PricesOption = None,
    start: Annotated[str | None, typer.Option(
        "--start", help="first date of the history read before the feed (YYYY-MM-DD)",
        show_default="the first date of the prices")] = None,
    ffill: FfillOption = False,
    allow_jumps: AllowJumpsOption = False,
    follow: Annotated[
        bool, typer.Option("--follow/--no-follow",
                           help="wait for rows appended to --feed; --no-follow stops at its end "
                           "(stdin always stops at EOF)")
    ] = True,
    confidence: Annotated[
        float | None, typer.Option("--confidence", help="VaR/ES confidence [0.95]")
    ] = None,
    horizon: Annotated[
        str | None, typer.Option("--horizon", help="1d, 5d, 1h, 30min or 12bars [1d]")
    ] = None,
    fhs_window: Annotated[
        int | None, typer.Option("--fhs-window", help="filtered-historical window, bars [500]")
    ] = None,
    spike_sd: Annotated[
        float | None, typer.Option("--spike-sd", help="bad-tick screen in EWMA sd; 0 = off [10]")
    ] = None,
    alerts: Annotated[
        Path | None, typer.Option("--alerts", help="alert rules YAML (default: bundled)")
    ] = None,
    notify: Annotated[
        str | None, typer.Option("--notify", help="command run per alert, alert JSON on stdin")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="monitor settings YAML; options override it")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line on stdout")]
    = False,
    out: OutOption = None,
    track: TrackOption = True,
) -> None:
    """Follow a price feed: VaR/ES, drawdown, concentration, correlation and alerts per bar."""
    from autoport.monitor import LiveAlerts, LiveRisk, Monitor, resolve_horizon
    from autoport.monitor.config import load_monitor_config
    from autoport.monitor.feed import RowParser, follow_lines
    from autoport.risk.monitoring import load_alert_rules

    cfg = load_monitor_config(config, {
        "confidence": confidence, "horizon": horizon, "fhs_window": fhs_window,
        "spike_sd": spike_sd, "alerts": alerts, "notify": notify,
    })
    if weights is not None and strategy is not None:
        raise ConfigError("give either --weights or --strategy, not both")
    if weights is None and strategy is None:
        raise ConfigError("give the book to monitor: --weights w.json or --strategy NAME")
    feed_path = None if feed == "-" else Path(feed)
    if feed_path is not None and not feed_path.is_file():
        raise DataError(f"feed file {feed_path} does not exist; pass an existing CSV or - for "
                        "stdin")
    notify_argv = shlex.split(cfg.notify) if cfg.notify else None
    check_tracking(track)
    rules = load_alert_rules(cfg.alerts)
    panel = load_prices(prices, start=start, min_history=3, ffill=ffill, allow_jumps=allow_jumps,
                        too_short="pass a longer history (an earlier --start)")
    book, source = _book(weights, value(strategy), panel)
    hz = resolve_horizon(cfg.horizon, panel.index)
    live = LiveAlerts(rules)
    state = LiveRisk(
        book, confidence=cfg.confidence, horizon_bars=hz.bars, lam=cfg.ewma_lambda,
        fhs_window=cfg.fhs_window, corr_windows=live.correlation_windows() or (63,),
        breach_confidences=live.breach_confidences() or (cfg.confidence,),
    ).fit(panel[list(book.index)])
    mon = Monitor(state, live, spike_sd=cfg.spike_sd)
    final = _run_folder(out)
    settings = {
        **cfg.model_dump(mode="json"), "horizon_spec": cfg.horizon,
        "book": source, "weights": book.to_dict(), "assets": len(book),
        "history": {"start": panel.index[0], "end": panel.index[-1], "bars": len(panel),
                    "prices": str(prices) if prices else "bundled"},
        "feed": feed, "horizon": hz.text, "horizon_bars": hz.bars,
        "bar_interval_seconds": hz.interval.total_seconds(),
    }
    _write_atomic(final / "config.json", settings)
    out_ = _Output(final, as_json, cfg.confidence)
    notifier = None
    if notify_argv:
        from autoport.monitor.notify import Notifier

        notifier = Notifier(notify_argv, timeout=cfg.notify_timeout)
    out_.start(settings, final)

    stop = {"waiting": False, "signal": None}

    def on_signal(signum, _frame):
        stop["signal"] = signal.Signals(signum).name
        if stop["waiting"]:
            raise _Stop

    def idle() -> None:
        if notifier is not None:
            out_.notifier_failures(notifier.failures())

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    parser = RowParser(list(book.index))
    started = datetime.now(timezone.utc)
    try:
        lines = follow_lines(feed_path, follow=follow, poll=cfg.poll, idle=idle)
        while stop["signal"] is None:
            stop["waiting"] = True
            try:
                item = next(lines, None)
            finally:
                stop["waiting"] = False
            if item is None:
                break
            n, text, arrived = item
            if not text.strip():
                continue
            if parser.columns is None:
                parser.header(text, feed)
                continue
            for event in mon.push(parser.parse(n, text, arrived)):
                out_.event(event, notifier)
            idle()
        if stop["signal"] is None:
            for event in mon.finish():
                out_.event(event, notifier)
    except _Stop:
        pass
    except AutoportError:  # e.g. a feed header without the book's tickers
        out_.close()
        if not out_.latency:  # nothing monitored: leave no run folder behind
            shutil.rmtree(final, ignore_errors=True)
        raise
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if notifier is not None:
        notifier.close()
        out_.notifier_failures(notifier.failures())
    summary = out_.summary(mon, stop["signal"], started, notifier)
    _write_atomic(final / "summary.json", summary)
    out_.close()
    if track:
        from autoport import tracking

        summary["run_id"] = tracking.log_run(
            "monitor", run_name=f"monitor-{len(book)}-assets",
            params={k: v for k, v in settings.items() if k not in ("weights", "history")},
            metrics={k: v for k, v in summary.items()
                     if isinstance(v, (int, float)) and not isinstance(v, bool)},
            artifacts_dir=final,
        )
    out_.print_summary(summary)


# --------------------------------------------------------------------------------------------
# the book


def _read_weights(path: Path) -> dict[str, float]:
    """{ticker: weight} from JSON (plain, or optimize's result.json) or optimize's weights.csv."""
    if not path.is_file():
        raise DataError(f"weights file {path} does not exist; pass a JSON file like "
                        '{"AAPL": 0.5, "MSFT": 0.5}')
    text = path.read_text(errors="replace")
    if path.suffix.lower() == ".csv":
        rows = [ln.split(",") for ln in text.splitlines() if ln.strip()]
        raw = {r[0].strip(): r[1].strip() for r in rows[1:] if len(r) >= 2}
    else:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"weights file {path} is not valid JSON: {exc}") from None
        if isinstance(raw, dict) and isinstance(raw.get("weights"), dict):
            raw = raw["weights"]
        if not isinstance(raw, dict):
            raise DataError(f"weights file {path} must hold one JSON object {{ticker: weight}}")
    out = {}
    for k, v in raw.items():
        try:
            if isinstance(v, bool):
                raise ValueError
            out[str(k)] = float(v)
        except (TypeError, ValueError):
            raise DataError(f"weight {v!r} for {k} in {path} is not a number") from None
    return out


def _book(weights: Path | None, strategy: str | None, panel):
    """The non-zero positions as a Series (the rest of 1 is cash) and where they came from."""
    import numpy as np
    import pandas as pd

    if weights is not None:
        raw, source = _read_weights(weights), str(weights)
    else:
        from autoport.strategies import make_strategy

        decision = make_strategy(strategy).decide(panel)
        raw, source = decision.weights.to_dict(), f"strategy {strategy}: {decision.reason}"
    unknown = [t for t in raw if t not in panel.columns]
    if unknown:
        raise DataError(f"weights name ticker(s) not in the prices: {', '.join(unknown[:10])}; "
                        "pass --prices with those columns")
    w = pd.Series(raw, dtype=float)
    if not np.isfinite(w).all():
        raise DataError("weights hold NaN or infinite values")
    w = w[w != 0]
    total = float(w.sum())
    if w.empty or total <= 0 or total > 1.0 + WEIGHT_SUM_TOLERANCE:
        raise DataError(f"weights sum to {total:.6f}; they must sum to more than 0 and at most 1 "
                        "(the rest is cash; leverage is not modelled)")
    return w, source


# --------------------------------------------------------------------------------------------
# the run folder


def _run_folder(out: Path | None) -> Path:
    from autoport import workspace

    final = Path(out) if out is not None else (
        workspace.runs_dir() / f"monitor-{datetime.now():%Y%m%d-%H%M%S-%f}")
    final = final.resolve()
    if final.exists() and any(final.iterdir()):
        raise AutoportError(f"output folder {final} exists and is not empty; choose another --out")
    final.mkdir(parents=True, exist_ok=True)
    return final


def _write_atomic(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(to_jsonable(obj), indent=2))
    os.replace(tmp, path)


def _pct(x: float) -> str:
    return "-" if x is None or x != x else f"{x:+.2%}"


class _Output:
    """Prints answers (JSON lines, a rich live table, or plain lines) and keeps the files."""

    def __init__(self, folder: Path, as_json: bool, confidence: float) -> None:
        self.as_json = as_json
        self.confidence = confidence
        self.files = {k: open(folder / f"{k}.jsonl", "a", encoding="utf-8")  # noqa: SIM115
                      for k in ("bars", "alerts", "skipped")}
        self.latency: list[float] = []
        self.fired: dict[str, int] = {}
        self.skipped = 0
        self.held = 0
        self.notify_failed: list[str] = []
        self.last = None
        self.live = None
        self.rows: list[tuple] = []
        if not as_json and console.is_terminal:
            from rich.live import Live

            self.live = Live(console=console, auto_refresh=False, transient=False)

    # -- lines
    def _json(self, obj: dict) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    def _record(self, kind: str, obj: dict) -> None:
        fh = self.files[kind]
        fh.write(json.dumps(obj) + "\n")
        fh.flush()

    def start(self, settings: dict, folder: Path) -> None:
        head = {"event": "start", "book": settings["book"], "assets": settings["assets"],
                "history_end": to_jsonable(settings["history"]["end"]), "horizon": settings["horizon"],
                "artifacts_dir": str(folder)}
        if self.as_json:
            self._json(head)
            return
        console.print(f"[bold]Monitoring[/] {settings['assets']} positions ({settings['book']}); "
                      f"history to {head['history_end']}; {settings['horizon']}; "
                      f"VaR/ES at {self.confidence:.0%}; run folder {folder}", highlight=False)
        if self.live is not None:
            self.live.start()

    def event(self, event, notifier) -> None:
        from autoport.monitor import BarEvent, HoldEvent, SkipEvent

        if isinstance(event, BarEvent):
            self._bar(event, notifier)
        elif isinstance(event, SkipEvent):
            self.skipped += 1
            rec = {"event": "skipped", "line": event.line, "reason": event.reason,
                   "text": event.text[:200]}
            self._record("skipped", rec)
            if self.as_json:
                self._json(rec)
            else:
                self._note(f"[yellow]skipped[/] line {event.line}: {event.reason}")
        elif isinstance(event, HoldEvent):
            rec = {"event": "held", "line": event.row.line, "time": str(event.row.time),
                   "reason": event.reason}
            if self.as_json:
                self._json(rec)
            else:
                self._note(f"[yellow]held[/] line {event.row.line}: {event.reason}")

    def _note(self, text: str) -> None:
        if self.live is not None:
            self.live.console.print(text, highlight=False)
        else:
            err_console.print(text, highlight=False)

    def _bar(self, ev, notifier) -> None:
        r = ev.risk
        stamp = to_jsonable(r.time)
        alerts = [{"time": stamp, "rule": a.rule, "metric": a.metric, "value": a.value,
                   "limit": a.limit, "action": a.action} for a in ev.alerts]
        for a in alerts:
            self._record("alerts", a)
            self.fired[a["rule"]] = self.fired.get(a["rule"], 0) + 1
            if notifier is not None:
                notifier.send(a)
        corr = next(iter(r.avg_correlation.values()), float("nan"))
        rec = to_jsonable({
            "event": "bar", "time": r.time, "line": ev.row.line, "bar": r.bar,
            "return": r.portfolio_return, "value": r.value, "drawdown": r.drawdown,
            "var_parametric": r.var_parametric, "es_parametric": r.es_parametric,
            "var_filtered_historical": r.var_filtered_historical,
            "es_filtered_historical": r.es_filtered_historical,
            "max_weight": r.max_weight, "max_weight_asset": r.max_weight_asset,
            "avg_correlation": corr, "alerts": alerts, "held": ev.held,
        })
        latency = time.perf_counter() - ev.row.arrived
        rec["latency_ms"] = round(latency * 1e3, 3)
        if self.as_json:
            self._json(rec)
        elif self.live is not None:
            self._table_row(rec)
        else:
            console.print(self._plain(rec), highlight=False, soft_wrap=True)
        if ev.held:
            self.held += 1
        self.latency.append(latency)
        self.last = rec
        self._record("bars", rec)

    def _plain(self, rec: dict) -> str:
        fired = "; ".join(f"{a['rule']} {a['metric']} {a['value']:+.4f} (limit {a['limit']:+.4f})"
                          for a in rec["alerts"])
        corr = rec["avg_correlation"]
        return (f"{rec['time']}  ret {_pct(rec['return'])}  VaR {_pct(rec['var_parametric'])} "
                f"/ FHS {_pct(rec['var_filtered_historical'])}  ES {_pct(rec['es_parametric'])} "
                f"/ FHS {_pct(rec['es_filtered_historical'])}  DD {_pct(rec['drawdown'])}  "
                f"max w {rec['max_weight']:.1%} {rec['max_weight_asset']}  "
                f"corr {'-' if corr is None else f'{corr:.2f}'}  {rec['latency_ms']:.1f} ms"
                + (f"  ALERT {fired}" if fired else ""))

    def _table_row(self, rec: dict) -> None:
        from rich.table import Table

        corr = rec["avg_correlation"]
        alerts = ", ".join(a["rule"] for a in rec["alerts"])
        self.rows = (self.rows + [(
            str(rec["time"]), _pct(rec["return"]), _pct(rec["var_parametric"]),
            _pct(rec["var_filtered_historical"]), _pct(rec["es_parametric"]),
            _pct(rec["es_filtered_historical"]), _pct(rec["drawdown"]),
            f"{rec['max_weight']:.1%} {rec['max_weight_asset']}",
            "-" if corr is None else f"{corr:.2f}", f"{rec['latency_ms']:.1f}",
            f"[bold red]{alerts}[/]" if alerts else "")])[-20:]
        t = Table(title=f"Live risk ({self.confidence:.0%}; VaR/ES as returns, negative = loss)")
        for col in ("time", "return", "VaR normal", "VaR FHS", "ES normal", "ES FHS",
                    "drawdown", "largest", "avg corr", "ms", "alerts"):
            t.add_column(col, justify="left" if col in ("time", "largest", "alerts") else "right")
        for row in self.rows:
            t.add_row(*row)
        self.live.update(t, refresh=True)

    def notifier_failures(self, messages: list[str]) -> None:
        for m in messages:
            self.notify_failed.append(m)
            if self.as_json:
                self._json({"event": "notifier_failed", "message": m})
            else:
                self._note(f"[red]notifier failed[/]: {m}; monitoring continues")

    # -- the end
    def summary(self, mon, signal_name, started, notifier) -> dict:
        import numpy as np

        lat = np.asarray(self.latency) * 1e3
        pct = (lambda q: float(np.percentile(lat, q))) if lat.size else (lambda q: None)
        return {
            "event": "summary",
            "stopped_by": signal_name or "end of feed",
            "started": started.isoformat(timespec="seconds"),
            "ended": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "bars": len(self.latency),
            "alerts_fired": sum(self.fired.values()),
            "alerts_by_rule": dict(self.fired),
            "rows_skipped": self.skipped,
            "bars_held_for_bad_tick_check": self.held,
            "rows_already_in_history": mon.in_history,
            "notifier_failures": len(self.notify_failed),
            "notifications_sent": notifier.sent if notifier is not None else 0,
            "latency_ms_p50": pct(50),
            "latency_ms_p99": pct(99),
            "latency_ms_max": float(lat.max()) if lat.size else None,
            "last_bar": self.last,
        }

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
        for fh in self.files.values():
            fh.close()

    def print_summary(self, s: dict) -> None:
        if self.as_json:
            self._json(to_jsonable(s))
            return
        lat = ("-" if s["latency_ms_p50"] is None else
               f"p50 {s['latency_ms_p50']:.2f} ms, p99 {s['latency_ms_p99']:.2f} ms")
        err_console.print(
            f"[bold]Stopped[/] ({s['stopped_by']}): {s['bars']} bars, {s['alerts_fired']} alerts "
            f"({', '.join(f'{k} x{v}' for k, v in s['alerts_by_rule'].items()) or 'none'}), "
            f"{s['rows_skipped']} rows skipped; latency {lat} (from reading a row to its answer)"
            + (f"; MLflow run {s['run_id']}" if s.get("run_id") else ""),
            highlight=False)
