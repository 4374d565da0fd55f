"""Re-run a candidate's evaluation on the held-out test period, from its logged config.

Promotion never trusts the numbers a run reported about itself: each run kind (the run's
``command`` tag) has an evaluator here that reloads the run's data, checks its content hash
against the one the run recorded, and recomputes the test-period figures.

- ``backtest``: the logged :class:`~autoport.backtest.BacktestConfig` re-run through zipline on
  the test period beside 1/N and a max-Sharpe MPT reference at the same window and caps;
- ``train-agent``: the DQN agent's own test-period evaluation on the run's logged pyfunc model.

Evaluators take a :class:`RunRecord` (plain data fetched by ``promotion.registry``) and a
:class:`Toolkit` and return an :class:`Evaluation`; they never touch MLflow themselves. The
toolkit carries what lives above the core (building a strategy by name, evaluating a DQN model):
the caller hands it in, so the core never imports the strategies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pydantic import ValidationError

from autoport import configfile
from autoport import data as data_mod
from autoport import metrics as metrics_mod
from autoport.benchmarks import equal_weight_index
from autoport.decision import Strategy
from autoport.errors import AutoportError, ConfigError, DataError
from autoport.promotion.gates import GatesConfig

BUNDLED_SOURCE = "bundled:sp500_dataset"


@dataclass(frozen=True)
class RunRecord:
    """What promotion needs to know about a logged run (no MLflow objects inside)."""

    run_id: str
    experiment: str
    run_name: str
    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float]
    config: dict[str, Any] | None
    model_uri: str | None = None

    @property
    def command(self) -> str:
        return self.tags.get("command", "")


@dataclass
class Evaluation:
    """Re-evaluated test-period figures and what the report shows beside them."""

    kind: str
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    metrics: dict[str, float]
    curves: dict[str, pd.Series] = field(default_factory=dict)  # daily returns per series
    weights: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    var_summary: dict | None = None
    model_config: dict[str, Any] | None = None  # what a config-only candidate registers
    problems: list[str] = field(default_factory=list)  # each one is a failing gate
    episodes: pd.DataFrame | None = None  # per-episode figures (agents), plotted in the report


@dataclass(frozen=True)
class Toolkit:
    """What the evaluators use from above the core, handed in by the caller.

    ``make_strategy(name, **params)`` builds a strategy (``autoport.strategies.make_strategy``);
    ``evaluate_model(model_uri, prices, config)`` re-runs a DQN model's test-period evaluation
    and returns its figures (None when no agent evaluator is installed).
    """

    make_strategy: Callable[..., Strategy]
    evaluate_model: Callable[..., dict] | None = None


# --------------------------------------------------------------------------- data of a run


def _raw_source(source: str) -> pd.DataFrame:
    if source == BUNDLED_SOURCE or source.startswith("bundled:"):
        return data_mod.bundled_prices()
    return data_mod.read_price_file(source)


def _validated(frame: pd.DataFrame) -> pd.DataFrame:
    try:
        return data_mod.validate_prices(frame)
    except DataError:
        return data_mod.validate_prices(frame, ffill=True)


def run_prices(record: RunRecord, end_hint: object | None = None) -> tuple[pd.DataFrame, bool]:
    """The full panel of the run's data source, and whether the run's data hash is found in it.

    A run recorded the hash of the panel it used: the whole source or the source cut at its
    ``end``. Both candidates are recomputed; either matching means the data are unchanged.
    """
    source = record.params.get("data_source")
    if not source:
        raise DataError(
            f"run {record.run_id} recorded no data_source parameter; it cannot be re-evaluated"
        )
    full = _validated(_raw_source(source))
    recorded = record.params.get("data_hash")
    candidates = [full]
    if end_hint:
        cut = full.loc[: pd.Timestamp(str(end_hint))]
        if len(cut) >= 2:
            candidates.append(cut)
    match = recorded is not None and any(
        data_mod.content_hash(frame) == recorded for frame in candidates
    )
    return full, match


COMMIT_TAG = "mlflow.source.git.commit"


@dataclass(frozen=True)
class CodeVersion:
    """The code evaluating a candidate: its commit (None outside git) and autoport's version."""

    commit: str | None
    version: str | None = None

    @classmethod
    def of_run(cls, record: RunRecord) -> CodeVersion:
        """What the run recorded (the pre-MLflow-tag ``git_commit`` tag for older runs)."""
        commit = record.tags.get(COMMIT_TAG) or record.tags.get("git_commit")
        version = record.tags.get("version.autoport")
        return cls(None if commit in (None, "", "unknown") else commit,
                   None if version in (None, "", "absent") else version)


def code_version_match(record: RunRecord, current: CodeVersion) -> tuple[float, str]:
    """1.0 when the run's code is the evaluating code, 0.0 when not, NaN when unknowable.

    Both sides know a commit: the commits must be equal. Neither does (an installed wheel
    built outside git, run outside any git work tree): the autoport versions must be equal.
    Only one side knows a commit: a mismatch, since the code cannot be shown to be the same.
    Returns the figure and a note saying which rule decided.
    """
    ran = CodeVersion.of_run(record)
    if ran.commit is not None and current.commit is not None:
        same = ran.commit == current.commit
        return float(same), "" if same else (
            f"code version mismatch: the run was made at commit {ran.commit[:12]}, this code is "
            f"{current.commit[:12]}")
    if ran.commit is None and current.commit is None:
        if ran.version is None or current.version is None:
            return float("nan"), "code version unknown: no commit and no autoport version"
        same = ran.version == current.version
        return float(same), (
            f"no git commit on either side: compared autoport versions ({ran.version} "
            f"{'==' if same else '!='} {current.version})")
    which = "the run" if ran.commit is None else "this code"
    return 0.0, (f"code version mismatch: {which} has no git commit while the other has one "
                 f"({ran.commit or current.commit})")


Evaluator = Callable[[RunRecord, GatesConfig, CodeVersion, Toolkit], Evaluation]


def _test_window(gates: GatesConfig, prices: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(gates.test_period.start)
    end = pd.Timestamp(gates.test_period.end) if gates.test_period.end else prices.index[-1]
    if start > prices.index[-1]:
        raise DataError(
            f"the test period starts {start.date()} but the run's data end "
            f"{prices.index[-1].date()}; set test_period.start in the gates file"
        )
    return start, min(end, prices.index[-1])


def var_metrics(
    returns: pd.Series, gates: GatesConfig
) -> tuple[dict[str, float], dict | None, str]:
    """Breach rate and Kupiec p-value of a causal one-day VaR on ``returns``; NaN if too short."""
    from autoport.risk.var_backtest import backtest_var

    try:
        result = backtest_var(
            returns.dropna(), model=gates.var.model, confidence=gates.var.confidence,
            window=gates.var.window,
        )
    except AutoportError as exc:
        nan = float("nan")
        return ({"var_breach_rate": nan, "kupiec_pvalue": nan},
                None, f"VaR coverage not measured: {exc}")
    summary = result.summary()
    return (
        {"var_breach_rate": float(summary["breach_rate"]),
         "kupiec_pvalue": float(summary["kupiec_pvalue"]),
         "var_observations": float(summary["observations"])},
        summary,
        "",
    )


def regime_accuracy(
    records: list[dict], market_levels: pd.Series, *, decline: float = 0.20,
    recovery: float = 0.20,
) -> float | None:
    """Share of decisions whose detected regime matches the ex-post bull/bear dating.

    ``records`` are the backtest's decision records; a strategy with a regime detector puts
    ``regime`` in each. The reference is the peak-to-trough dating of ``market_levels`` over
    its whole history (``sideways`` counts as "not bear"). None when no detector is inside.
    """
    from autoport.regime.dating import bull_bear_labels
    from autoport.regime.evaluation import BEAR_VS_REST, agreement

    detected = {pd.Timestamp(r["date"]): r["regime"] for r in records if "regime" in r}
    if not detected:
        return None
    reference = bull_bear_labels(market_levels.dropna(), decline=decline, recovery=recovery)
    return agreement(pd.Series(detected), reference, collapse=BEAR_VS_REST)


# --------------------------------------------------------------------------- backtest runs


def _reference_arguments(cfg) -> dict[str, Any]:
    """The max-Sharpe MPT every optimizer configuration has to beat, at the run's window/caps."""
    return {"window": cfg.window, "objective": "max_sharpe", "max_weight": cfg.max_weight,
            "risk_free_rate": cfg.risk_free}


def _reference_settings(strategy_params: dict[str, Any]) -> dict[str, float]:
    """The dating thresholds of the regime config the strategy ran with (its ``config``
    parameter, else the bundled ``configs/regime.yaml``); an unreadable one is an error, never
    silently the defaults, since the thresholds decide ``regime_accuracy``."""
    from autoport.regime.config import load_config

    try:
        reference = load_config(strategy_params.get("config")).reference
    except ConfigError as exc:
        raise ConfigError(f"regime_accuracy needs the run's regime config: {exc}") from None
    return {"decline": reference.decline, "recovery": reference.recovery}


def evaluate_backtest(
    record: RunRecord, gates: GatesConfig, current_code: CodeVersion, toolkit: Toolkit
) -> Evaluation:
    """Re-run a backtest's logged config through zipline on the test period."""
    from autoport.backtest import BacktestConfig, run_backtest, trading_window
    from autoport.engines import zipline_engine

    if record.config is None:
        raise ConfigError(
            f"run {record.run_id} has no config.json artifact; re-run the backtest to log it"
        )
    try:
        logged = BacktestConfig.model_validate(record.config)
    except ValidationError as exc:
        raise configfile.invalid(f"logged config of run {record.run_id} (this code rejects it)",
                                 exc) from None
    full, hash_ok = run_prices(record, end_hint=logged.end)
    start, end = _test_window(gates, full)
    cfg = logged.model_copy(update={"start": start.date(), "end": end.date()})
    source = record.params.get("data_source", "")
    index_levels = data_mod.bundled_benchmark() if source.startswith("bundled:") else None
    outcome = run_backtest(cfg, full, make_strategy=toolkit.make_strategy,
                           index_levels=index_levels)
    notes = [
        f"re-ran the logged {logged.strategy} config through zipline on "
        f"{outcome.start.date()}..{outcome.end.date()} (seed {logged.seed})",
    ]
    strategy_metrics = outcome.strategy.metrics
    curves = {logged.strategy: outcome.strategy.returns, "1/N": outcome.baseline.returns}
    ref_args = _reference_arguments(cfg)
    if logged.strategy == "mpt" and cfg.strategy_arguments() == ref_args:
        reference = strategy_metrics
        notes.append("the candidate is itself the max-Sharpe MPT reference")
    else:
        t0, t1 = trading_window(full, cfg)
        bench = outcome.index_returns
        result = zipline_engine.run(
            toolkit.make_strategy("mpt", **ref_args), full, start=t0, end=t1, costs=cfg.costs,
            capital=cfg.capital, rebalance=cfg.rebalance, benchmark_returns=bench,
        )
        reference = metrics_mod.summary(result.returns, positions=result.positions,
                                        transactions=result.transactions,
                                        risk_free=cfg.risk_free)
        curves["max-Sharpe MPT"] = result.returns
    if outcome.index_returns is not None:
        curves["S&P 500"] = outcome.index_returns.fillna(0.0)
    figures: dict[str, float] = dict(strategy_metrics)
    figures.update({f"equal_weight_{k}": v for k, v in outcome.baseline.metrics.items()})
    figures.update({f"max_sharpe_{k}": v for k, v in reference.items()})
    if outcome.index_metrics:
        figures.update({f"index_{k}": v for k, v in outcome.index_metrics.items()})
    var_figures, var_summary, var_note = var_metrics(outcome.strategy.returns, gates)
    figures.update(var_figures)
    if var_note:
        notes.append(var_note)
    market = index_levels if index_levels is not None else equal_weight_index(full)
    accuracy = None
    if any("regime" in r for r in outcome.strategy.records):
        accuracy = regime_accuracy(outcome.strategy.records, market,
                                   **_reference_settings(cfg.strategy_params))
    if accuracy is not None:
        figures["regime_accuracy"] = accuracy
        notes.append("regime_accuracy: detected regime at each decision against the "
                     "peak-to-trough bull/bear dating of "
                     + ("the S&P 500" if index_levels is not None else "the 1/N index"))
    figures["data_hash_match"] = 1.0 if hash_ok else 0.0
    figures["code_version_match"], code_note = code_version_match(record, current_code)
    if code_note:
        notes.append(code_note)
    if not hash_ok:
        notes.append(
            f"data hash mismatch: the run recorded {record.params.get('data_hash')} but "
            f"{source} now hashes differently"
        )
    return Evaluation(
        kind="backtest", start=outcome.start, end=outcome.end, metrics=figures, curves=curves,
        weights=outcome.strategy.weights, notes=notes, var_summary=var_summary,
        model_config=logged.model_dump(mode="json"),
    )


# --------------------------------------------------------------------------- train-agent runs


def evaluate_agent(
    record: RunRecord, gates: GatesConfig, current_code: CodeVersion, toolkit: Toolkit
) -> Evaluation:
    """The DQN agent's evaluation (``toolkit.evaluate_model``) on the run's logged model."""
    evaluate_model = toolkit.evaluate_model
    if evaluate_model is None:
        return Evaluation(
            kind="train-agent", start=None, end=None,
            metrics={"code_version_match": code_version_match(record, current_code)[0]},
            problems=["DQN evaluator not available; the agent cannot be re-evaluated"],
        )
    if record.model_uri is None:
        raise ConfigError(
            f"train-agent run {record.run_id} logged no MLflow model; nothing to promote"
        )
    full, hash_ok = run_prices(record, end_hint=(record.config or {}).get("end"))
    result = evaluate_model(record.model_uri, full, record.config)
    figures = {k: float(v) for k, v in result.items() if _is_number(v)}
    figures["data_hash_match"] = 1.0 if hash_ok else 0.0
    figures["code_version_match"], code_note = code_version_match(record, current_code)
    curves = {k: v for k, v in result.items() if isinstance(v, pd.Series)}
    curves.pop("returns", None)
    notes = [f"re-ran the DQN test-period evaluation of {record.model_uri}"]
    if code_note:
        notes.append(code_note)
    episodes = None
    if isinstance(result.get("episodes"), list) and result["episodes"]:
        episodes = pd.DataFrame(result["episodes"])
    protocol = (record.config or {}).get("protocol", {})
    start = pd.Timestamp(protocol["test_start"]) if protocol.get("test_start") else None
    end = pd.Timestamp(protocol["test_end"]) if protocol.get("test_end") else full.index[-1]
    if isinstance(result.get("returns"), pd.Series):
        curves["agent"] = result["returns"]
    returns = result.get("returns")
    if isinstance(returns, pd.Series):
        var_figures, _, var_note = var_metrics(returns, gates)
        figures.update(var_figures)
        if var_note:
            notes.append(var_note)
    return Evaluation(kind="train-agent", start=start, end=end if start is not None else None,
                      metrics=figures, curves=curves, notes=notes, episodes=episodes)


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return True
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return not isinstance(value, (str, bytes)) and not hasattr(value, "__len__")


EVALUATORS: dict[str, Evaluator] = {
    "backtest": evaluate_backtest,
    "train-agent": evaluate_agent,
}


def evaluator_for(record: RunRecord) -> Evaluator:
    try:
        return EVALUATORS[record.command]
    except KeyError:
        kind = record.command or "(no command tag)"
        raise ConfigError(
            f"run {record.run_id} is a {kind!r} run; only {', '.join(sorted(EVALUATORS))} runs "
            "can be promoted"
        ) from None
