"""Promotion gates: a YAML list of checks on the re-evaluated test-period metrics.

Each gate compares one metric with either a fixed ``threshold`` or another metric of the same
evaluation (``reference``, e.g. the strategy's Sharpe against equal weight's). A gate may name
the run kinds it ``applies_to`` (the run's ``command`` tag); a gate whose metric the evaluation
did not produce fails, unless it says ``required: false`` (then it is skipped and says so).
A metric that is NaN never passes.

Two optional top-level keys judge the selection rather than the test period: a run whose
settings came out of ``autoport sweep`` must have a deflated Sharpe ratio of at least
``deflated_sharpe_min`` and a probability of backtest overfitting of at most ``pbo_max``, both
as the sweep's parent run logged them (they describe the search, which promotion cannot
re-run). Runs not chosen by a sweep skip them.

It reads the YAML file it is given and compares numbers; nothing else (no MLflow, no data).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from autoport import configfile
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from autoport.errors import ConfigError

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
}

DEFAULT_TEST_START = date(2018, 1, 1)


class GateSpec(BaseModel):
    """One gate as written in YAML."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    comparison: str
    threshold: float | None = None
    reference: str | None = Field(None, description="another metric to compare against")
    applies_to: list[str] | None = Field(None, description="run commands; default all")
    required: bool = True
    description: str = ""

    @model_validator(mode="after")
    def _one_bound(self) -> GateSpec:
        if self.comparison not in COMPARISONS:
            raise ValueError(
                f"gate {self.name!r}: comparison {self.comparison!r} is not one of "
                f"{', '.join(COMPARISONS)}"
            )
        if (self.threshold is None) == (self.reference is None):
            raise ValueError(
                f"gate {self.name!r}: give exactly one of 'threshold' (a number) or "
                "'reference' (another metric's name)"
            )
        return self


class TestPeriod(BaseModel):
    """The held-out period every candidate is re-evaluated on (``end`` None: end of data)."""

    __test__ = False  # not a pytest class
    model_config = ConfigDict(extra="forbid")

    start: date = DEFAULT_TEST_START
    end: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> TestPeriod:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"test_period.end {self.end} must be after start {self.start}")
        return self


class VaRCheck(BaseModel):
    """How the VaR coverage gate forecasts: causal one-day VaR on the test-period returns."""

    model_config = ConfigDict(extra="forbid")

    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    window: int = Field(250, ge=20, description="sessions of returns behind each forecast")
    model: str = "filtered_historical"


class GatesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    test_period: TestPeriod = TestPeriod()
    var: VaRCheck = VaRCheck()
    deflated_sharpe_min: float | None = Field(
        None, ge=0, le=1, description="sweep-chosen runs: the sweep's deflated Sharpe ratio "
        "(a probability) must be at least this")
    pbo_max: float | None = Field(
        None, ge=0, le=1, description="sweep-chosen runs: the sweep's probability of backtest "
        "overfitting must be at most this")
    gates: list[GateSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> GatesConfig:
        names = [g.name for g in self.gates]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"gate names must be unique; repeated: {', '.join(dupes)}")
        return self


@dataclass(frozen=True)
class GateResult:
    """The verdict of one gate. ``passed`` is None when the gate was skipped."""

    name: str
    metric: str
    comparison: str
    value: float | None
    threshold: float | None
    reference: str | None
    passed: bool | None
    note: str = ""

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "FAIL", None: "skipped"}[self.passed]

    def as_dict(self) -> dict:
        return asdict(self)


def default_gates_path() -> Path:
    """``configs/gates.yaml`` as installed with the package (``autoport.configs``)."""
    from importlib import resources

    return Path(str(resources.files("autoport.configs").joinpath("gates.yaml")))


def load_gates(path: str | Path | None = None) -> GatesConfig:
    """Read and validate a gates file; one ``ConfigError`` names every bad entry."""
    path = Path(path) if path is not None else default_gates_path()
    if not path.is_file():
        raise ConfigError(f"gates file {path} does not exist; pass --gates PATH")
    raw = configfile.parse_mapping(configfile.read_text(path), f"gates file {path}")
    try:
        return GatesConfig.model_validate(raw)
    except ValidationError as exc:
        raise configfile.invalid(f"gates file {path}", exc) from None


def _number(value: object) -> float | None:
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out


def check_gates(
    metrics: Mapping[str, float | None], gates: list[GateSpec], command: str
) -> list[GateResult]:
    """Compare ``metrics`` with every gate that applies to runs of ``command``."""
    results = []
    for gate in gates:
        if gate.applies_to is not None and command not in gate.applies_to:
            results.append(GateResult(
                gate.name, gate.metric, gate.comparison, None, gate.threshold, gate.reference,
                None, f"applies to {', '.join(gate.applies_to)} runs only",
            ))
            continue
        value = _number(metrics.get(gate.metric))
        bound = gate.threshold if gate.reference is None else _number(metrics.get(gate.reference))
        missing = [
            name for name, v in ((gate.metric, value), (gate.reference, bound))
            if name is not None and v is None
        ]
        if missing:
            note = f"not measured for this run: {', '.join(missing)}"
            passed = None if not gate.required else False
            results.append(GateResult(
                gate.name, gate.metric, gate.comparison, value, bound, gate.reference, passed,
                note + ("" if gate.required else " (optional gate)"),
            ))
            continue
        if math.isnan(value) or math.isnan(bound):
            results.append(GateResult(
                gate.name, gate.metric, gate.comparison, value, bound, gate.reference, False,
                "value is NaN (could not be computed on the test period)",
            ))
            continue
        passed = bool(COMPARISONS[gate.comparison](value, bound))
        results.append(GateResult(
            gate.name, gate.metric, gate.comparison, value, bound, gate.reference, passed,
            gate.description,
        ))
    return results


SELECTION_GATES = (  # (config key, metric the sweep's parent run logs, comparison)
    ("deflated_sharpe_min", "deflated_sharpe", ">="),
    ("pbo_max", "pbo", "<="),
)


def check_selection_gates(
    config: GatesConfig, sweep_run_id: str | None, sweep_metrics: Mapping[str, float] | None,
) -> list[GateResult]:
    """The deflated-Sharpe and PBO gates for a run chosen by the sweep ``sweep_run_id``
    (``sweep_metrics``: what that sweep's parent run logged; None if it could not be read).
    Skipped for a run no sweep chose; a gate not set in the file is not listed."""
    results = []
    for key, metric, comparison in SELECTION_GATES:
        bound = getattr(config, key)
        if bound is None:
            continue
        if sweep_run_id is None:
            results.append(GateResult(key, metric, comparison, None, bound, None, None,
                                      "the run's settings were not chosen by a sweep"))
            continue
        value = _number((sweep_metrics or {}).get(metric))
        if value is None or math.isnan(value):
            results.append(GateResult(
                key, metric, comparison, value, bound, None, False,
                f"sweep run {sweep_run_id} has no {metric} logged"
                + ("" if sweep_metrics is not None else " (the run could not be read)")))
            continue
        passed = bool(COMPARISONS[comparison](value, bound))
        results.append(GateResult(
            key, metric, comparison, value, bound, None, passed,
            f"{key}: the {metric} of sweep run {sweep_run_id} that chose these settings is "
            f"{value:.3f}, {'within' if passed else 'beyond'} the gate's {bound:g}"))
    return results


def all_passed(results: list[GateResult]) -> bool:
    """Every applicable gate passed (skipped gates do not count); at least one was checked."""
    checked = [r for r in results if r.passed is not None]
    return bool(checked) and all(r.passed for r in checked)
