"""Regime switching: the HMM's filtered regime picks the objective and constraints.

At each decision the strategy is handed the history up to the decision date. It

1. builds the detector's features from that history (continued over the sessions added since
   the previous decision: :class:`autoport.regime.features.FeatureStream`);
2. runs the online regime filter (:class:`autoport.regime.online.OnlineRegimeFilter`, the
   one behind ``autoport regime``, with ``strategy.refit_every``) over it: each session's
   filtered probability comes from the fit of the last refit-grid point before it, trained on
   earlier rows only. The grid depends on the history only, so the probabilities are the same
   whatever the call sequence; the filter keeps its fits and filters only the sessions added
   since the previous decision;
3. applies hysteresis to those online probabilities (a switch needs ``threshold`` held
   ``hold_days`` sessions and ``min_hold`` sessions since the previous switch) so the
   portfolio does not churn (the walk resumes from the last decision's state:
   :class:`autoport.regime.hysteresis.Hysteresis`);
4. solves the active regime's objective (``configs/regime.yaml``: bull → max Sharpe,
   sideways → risk parity, bear → min CVaR on a recent window with a cash sleeve);

5. weighs a switch against its cost: when the hysteresis regime differs from the one held at
   the previous decision, the switch is made only if its expected gain (the mean-variance
   utility of the new regime's portfolio over the held one, with the regime's market mean from
   the HMM passed through each asset's beta and the regime's probability-weighted covariance,
   times the regime's expected duration from the HMM's transition matrix) is at least ``min_gain_to_cost`` times its cost (turnover between the two
   portfolios, both solved on the same history, times ``cost_bps``). Otherwise the held regime's
   portfolio is kept and the decision says why. The engine charges the actual trading costs.

On a ragged panel (late listings, delistings) the detector reads the whole history (its
market index averages the assets priced on each session, :mod:`autoport.regime.features`) and
the portfolios hold the assets with the longest policy window of prices up to the decision
(:meth:`RegimeSwitching.investable`); the others get weight 0.

With ``model_uri`` (an ``autoport regime`` run id) the logged model filters the data as is, and
a decision on a date the model was trained on is refused as look-ahead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import ValidationError

from autoport import configfile, portfolio
from autoport.errors import DataError
from autoport.regime.config import RegimeConfig, load_config
from autoport.regime.features import FeatureStream
from autoport.regime.hmm import REGIMES, HMMFit
from autoport.regime.hysteresis import Hysteresis
from autoport.regime.logged import LoggedModel, load_logged_model
from autoport.regime.online import OnlineRegimeFilter
from autoport.decision import Book, Decision, check_weights


class RegimeSwitching:
    name = "regime"
    # on a ragged panel the detector reads the whole market (the index of the assets listed
    # on each session); the optimizer holds only the assets with the longest policy window
    reads_ragged_history = True

    def __init__(
        self,
        *,
        config: RegimeConfig | str | Path | dict | None = None,
        model_uri: str | None = None,
        **detector_overrides,
    ) -> None:
        """``config``: a loaded config, a YAML path, or a mapping of overrides of the bundled
        regime.yaml (what a sweep searches: ``{"strategy": {"threshold": 0.8}}``);
        keyword arguments override ``detector`` settings and are validated like the file.
        ``model_uri``: the MLflow run id of an ``autoport regime`` run whose fitted model is
        used as is (no refits; its own detector settings build the features)."""
        cfg = config if isinstance(config, RegimeConfig) else load_config(config)
        self.logged: LoggedModel | None = None
        if model_uri is not None:
            self.logged = load_logged_model(model_uri)
            cfg = cfg.model_copy(update={"detector": self.logged.detector})
        if detector_overrides:
            try:
                det = cfg.detector_with(detector_overrides)
            except ValidationError as exc:
                raise configfile.invalid("detector settings for the regime strategy",
                                         exc) from None
            cfg = cfg.model_copy(update={"detector": det})
        self.config = cfg
        # a logged model was fitted on data to its train_end: backtests start after it
        self.seen_until = self.logged.fit.train_end if self.logged else None
        det = cfg.detector
        warmup = det.warmup
        longest = max(p.window for p in cfg.strategy.regimes.values())
        self._estimation = longest + 1
        fit_history = warmup + 60 if self.logged else det.min_train + warmup
        self.min_history = max(fit_history, longest + 1)
        self._online = OnlineRegimeFilter.from_detector(det, cfg.strategy.refit_every)
        # the regime held at the last decision: a switch is made only when it pays (see decide)
        self._held: tuple[pd.Timestamp, str] | None = None
        self._solvers: dict[tuple[str, float], portfolio.WindowSolver] = {}
        # the features and the hysteresis walk of the history seen, continued at each decision
        # (each checks the history continues the one it saw, else starts afresh)
        self._features: FeatureStream | None = None
        self._hysteresis: Hysteresis | None = None

    # ------------------------------------------------------------------------------------

    @property
    def fits(self) -> int:
        """How many HMM fits this object ran (the incremental filter's effect)."""
        return self._online.n_fits

    def regimes(self, history: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series, HMMFit]:
        """Filtered probabilities (online: each session's from the fit of its refit-grid point;
        a logged model's over the whole history) and the hysteresis regime path, from
        ``history`` only."""
        probs, dates, columns, labels, fit = self._regime_arrays(history)
        return (pd.DataFrame(probs.copy(), index=dates, columns=columns),
                pd.Series(labels.copy(), index=dates, name="active_regime"), fit)

    def _regime_arrays(self, history: pd.DataFrame
                       ) -> tuple[np.ndarray, pd.Index, list, np.ndarray, HMMFit]:
        """:meth:`regimes` as arrays: the probabilities (rows by date, read-only), their
        dates, their columns, the hysteresis regime of each row (read-only) and the fit; a
        decision reads a few rows of them, so no frame of the whole history is built."""
        kwargs = self.config.detector.feature_kwargs()
        stream = self._features
        if stream is None or stream.kwargs != {**kwargs, "horizons": tuple(kwargs["horizons"])}:
            stream = self._features = FeatureStream(**kwargs)
        if self.logged is not None:
            feats = stream(history)
            self.logged.check_out_of_sample(history.index[-1])
            fit = self.logged.fit
            frame = fit.filter(feats)
            probs, dates, columns = frame.to_numpy(dtype=float), frame.index, list(frame.columns)
        else:
            rows, index, names = stream.arrays(history)
            if len(rows) <= self.config.detector.min_train:
                raise DataError(
                    f"the regime model needs {self.config.detector.min_train} feature rows "
                    f"before the first session it labels, got {len(rows)}; start later or "
                    "lower detector.min_train"
                )
            probs = self._online.sync_arrays(index, rows, tuple(names))
            dates, columns = self._online.labelled_dates, list(REGIMES)
            fit = self._online.last_fit
        s = self.config.strategy
        walk = self._hysteresis
        if walk is None or (walk.threshold, walk.hold_days, walk.min_hold) != (
                s.threshold, s.hold_days, s.min_hold):
            walk = self._hysteresis = Hysteresis(threshold=s.threshold, hold_days=s.hold_days,
                                                 min_hold=s.min_hold)
        return probs, dates, columns, walk.labels(probs, columns), fit

    def _solve(self, history: pd.DataFrame, regime: str) -> portfolio.Solution:
        """The regime's objective on its window: :func:`portfolio.solve`, with max Sharpe and
        min variance solved exactly and warm-started (:class:`portfolio.WindowSolver`), and
        min CVaR as the LP it is (:func:`min_cvar`)."""
        pol = self.config.strategy.regimes[regime]
        args = pol.solve_arguments(history.shape[1])
        window = history.iloc[-(pol.window + 1) :]
        if args["objective"] == "min_cvar":
            found = min_cvar(window, args["max_weight"])
            if found is not None:
                return found
        key = (regime, args["max_weight"])
        if key not in self._solvers:
            self._solvers[key] = portfolio.WindowSolver(**args)
        return self._solvers[key](window)

    def _target(self, history: pd.DataFrame, regime: str) -> tuple[pd.Series, portfolio.Solution]:
        """Invested weights for ``regime``, scaled down by its cash sleeve (the rest is cash)."""
        result = self._solve(history, regime)
        cash = self.config.strategy.regimes[regime].cash
        w = check_weights(result.weights)
        return pd.Series(w.to_numpy() * (1.0 - cash), index=w.index, name=w.name), result

    def investable(self, history: pd.DataFrame) -> pd.DataFrame:
        """The history the portfolios are solved on: on a ragged panel the assets priced on
        each of the longest policy window's sessions up to the decision, on the rows they all
        share (an asset enters once it has that window and leaves at its last price); a
        complete panel as it is."""
        # the feature stream has read this history in regimes() and knows whether it has a gap
        stream = self._features
        if not (stream.has_gaps(history) if stream is not None
                else np.isnan(history.to_numpy(dtype=float)).any()):
            return history
        from autoport.data import investable

        cols = investable(history, self._estimation)
        if not cols:
            raise DataError(f"no asset has {self._estimation} sessions of prices up to "
                            f"{history.index[-1].date()}; start later (--start)")
        sub = history[cols]
        return sub.iloc[-int(sub.notna().all(axis=1)[::-1].cumprod().sum()):]

    def decide(self, history: pd.DataFrame, book: Book | None = None) -> Decision:
        if len(history) < self.min_history:
            raise DataError(
                f"the regime strategy needs {self.min_history} sessions of history, got "
                f"{len(history)}; start the backtest later or lower detector.min_train"
            )
        # the detector reads the whole market (numpy, not pandas: a decision reads the last rows)
        probs, dates, columns, acted, fit = self._regime_arrays(history)
        seen = history.index
        history = self.investable(history)  # the portfolios hold the investable assets
        s = self.config.strategy
        today = history.index[-1]
        signal = str(acted[-1])
        # the regime held since the last decision; a history that does not continue the last
        # one (a new backtest) starts afresh from the signal
        held = signal
        if self._held is not None and self._held[0] < today and _contains(seen, self._held[0]):
            held = self._held[1]
        weights, result = self._target(history, signal)
        regime, switch_cost, gain, kept = signal, 0.0, None, False
        if held != signal:
            old, old_result = self._target(history, held)
            switch_cost = float((weights - old).abs().sum()) * s.cost_bps / 1e4
            stats = fit.state_stats[signal]
            gain = _switch_gain(
                history, probs[:, columns.index(signal)], dates, weights, old,
                market_mean=stats["mean_return_daily"], risk_aversion=s.risk_aversion,
                sessions=stats["expected_duration_days"],
            )
            if gain < s.min_gain_to_cost * switch_cost:
                regime, weights, result, kept = held, old, old_result, True
        self._held = (today, regime)
        last_year = acted[-252:]
        pol = s.regimes[regime]
        now = probs[-1]
        top = int(np.argmax(now))  # idxmax's first maximum
        filtered, filtered_p = str(columns[top]), now[top]
        if kept:
            switch_note = (f"; kept {held}: switching to {signal} was est. to gain {gain:.3%} "
                           f"over its expected {fit.state_stats[signal]['expected_duration_days']:.0f}"
                           f" sessions, below {s.min_gain_to_cost:g}× its cost {switch_cost:.3%}")
        elif gain is not None:
            switch_note = (f"; switched from {held}: est. gain {gain:.3%} over the regime's "
                           f"expected duration ≥ {s.min_gain_to_cost:g}× cost {switch_cost:.3%}")
        else:
            switch_note = ""
        reason = (
            f"regime {regime} (filtered {filtered} p={filtered_p:.2f}) → "
            f"{pol.objective} cap {pol.max_weight:.0%}"
            + (f", {pol.cash:.0%} cash" if pol.cash else "")
            + f" on {pol.window} sessions to {today.date()}"
            + switch_note
            + (f" ({result.note})" if result.note else "")
        )
        return Decision(
            today,
            weights,
            reason,
            {
                "regime": regime,
                "signal_regime": signal,
                "filtered_regime": filtered,
                "probabilities": dict(zip(columns, now.tolist())),
                "previous_regime": held,
                "switch_cost": switch_cost,
                "switch_expected_gain": gain,
                "switch_declined": kept,
                "switches_last_year": int((last_year[1:] != last_year[:-1]).sum()),
                "model_trained_to": fit.train_end,
                "model_converged": fit.converged,
                "model_run": self.logged.run_id if self.logged else None,
                "expected_return": result.expected_return,
                "volatility": result.volatility,
            },
        )


def _contains(index: pd.DatetimeIndex, date: pd.Timestamp) -> bool:
    """``date in index``, by a binary search on a sorted index (``in`` builds a hash table
    of every date for each new history); any other index is asked the usual way."""
    if isinstance(index, pd.DatetimeIndex):
        i = int(index.searchsorted(date))
        if i < len(index) and index[i] == date:
            return True
        if index.is_monotonic_increasing:
            return False
    return date in index


def min_cvar(window: pd.DataFrame, max_weight: float) -> portfolio.Solution | None:
    """``portfolio.solve(window, objective="min_cvar", max_weight=max_weight)`` as the LP it
    is (:func:`autoport.portfolio.min_cvar_lp`); None (solve it the general way) where that
    gives None or the cap is below 1/N."""
    if max_weight * window.shape[1] < 1.0 - 1e-12:
        return None
    return portfolio.min_cvar_lp(window, max_weight)


def expected_switch_gain(
    history: pd.DataFrame,
    regime_probability: pd.Series,
    new: pd.Series,
    old: pd.Series,
    *,
    market_mean: float,
    risk_aversion: float,
    sessions: float,
) -> float:
    """Expected gain, as a return, of holding ``new`` instead of ``old`` while the regime lasts.

    Each portfolio is scored by ``beta'w · market_mean - risk_aversion/2 · w'Σw`` per session:
    the only expected return used is the regime's own market mean (from the HMM), passed to the
    assets through their betas to the equal-weight market, because per-asset sample means are
    too noisy (and already optimized on by the portfolios being compared) to rank them. ``Σ``
    and the betas are weighted by the regime's filtered probability on each past session, so
    they describe that regime; cash earns 0. The daily difference is multiplied by the regime's
    expected duration ``sessions``. Uses the history up to the decision only.
    """
    return _switch_gain(history, regime_probability.to_numpy(), regime_probability.index, new,
                        old, market_mean=market_mean, risk_aversion=risk_aversion,
                        sessions=sessions)


def _switch_gain(history: pd.DataFrame, probability: np.ndarray, dates: pd.Index,
                 new: pd.Series, old: pd.Series, *, market_mean: float, risk_aversion: float,
                 sessions: float) -> float:
    """:func:`expected_switch_gain` with the regime's probability as an array by ``dates``
    (what a decision holds), read on the return dates by a binary search of two increasing
    datetime indexes (``reindex`` builds a hash table of every date for each history; any
    other index is reindexed the usual way): the same numbers."""
    values = history.to_numpy(dtype=float)
    if np.isfinite(values).all():  # pct_change's numbers, row-major as pandas returns them
        x, on = np.ascontiguousarray(values[1:] / values[:-1] - 1.0), history.index[1:]
    else:
        returns = history.pct_change().iloc[1:]
        x, on = returns.to_numpy(), returns.index
    p = _on_dates(probability, dates, on)
    if p.sum() <= 1.0:  # less than one session's worth of evidence about this regime
        return 0.0
    x = np.column_stack([x, x.mean(axis=1)])  # last column: the equal-weight market
    cov_all = np.atleast_2d(np.cov(x, rowvar=False, aweights=p))
    cov, market_cov, market_var = cov_all[:-1, :-1], cov_all[:-1, -1], cov_all[-1, -1]
    beta = market_cov / market_var if market_var > 0 else np.ones(len(cov))
    w_new, w_old = _on_columns(new, history.columns), _on_columns(old, history.columns)

    def utility(w: np.ndarray) -> float:
        return float(beta @ w * market_mean - 0.5 * risk_aversion * w @ cov @ w)

    return (utility(w_new) - utility(w_old)) * float(sessions)


def _on_columns(weights: pd.Series, columns: pd.Index) -> np.ndarray:
    """``weights.reindex(list(columns)).fillna(0.0).to_numpy()``; the weights' own values
    (missing ones 0) when they are already on ``columns`` (the decision's portfolios are)."""
    if weights.index.equals(columns) and weights.dtype == float:
        w = weights.to_numpy()
        return np.where(np.isnan(w), 0.0, w)
    return weights.reindex(list(columns)).fillna(0.0).to_numpy()


def _on_dates(values: np.ndarray, dates: pd.Index, on: pd.Index) -> np.ndarray:
    """``pd.Series(values, dates).reindex(on).fillna(0.0).to_numpy()``."""
    if (isinstance(dates, pd.DatetimeIndex) and isinstance(on, pd.DatetimeIndex)
            and dates.dtype == on.dtype and len(dates)):
        a, b = dates.asi8, on.asi8
        if (np.diff(a) > 0).all() and (np.diff(b) > 0).all():
            pos = np.minimum(a.searchsorted(b), len(a) - 1)
            out = np.where(a[pos] == b, np.asarray(values, dtype=float)[pos], 0.0)
            return np.where(np.isnan(out), 0.0, out)
    return pd.Series(values, index=dates).reindex(on).fillna(0.0).to_numpy()
