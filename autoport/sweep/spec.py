"""A sweep spec: what is searched, over which settings, scored on which period.

A spec is YAML the user writes (examples in ``experiments/sweeps/``)::

    target: backtest            # backtest | train-agent
    strategy: mpt               # backtest only: mpt | regime | autopilot | ...
    base_config: configs/backtest.yaml
    space:                      # dotted paths into the base config
      window: {grid: [126, 252, 504]}
      max_weight: {uniform: [0.1, 0.4]}
      costs.slippage_bps: {choice: [2, 5, 10]}
      strategy_params.risk_aversion: {loguniform: [0.1, 10]}
      rebalance_every: {int: [1, 12]}          # inclusive bounds
    trials: 16                  # samples drawn (a grid is crossed with them, as Ray Tune does)
    search: random              # random | grid | optuna (TPE through Ray Tune's OptunaSearch)
    seeds: [0, 1, 2]            # each trial runs once per seed; its score is the mean
    metric: sharpe              # maximised on the validation period
    validation: {start: 2007-01-01, end: 2014-12-31}
    test: {start: 2015-01-01, end: 2022-12-31}

Only the validation period is seen while searching; the test period is scored once, for the
chosen settings, after the search. Everything here is checked before any trial starts, so a bad
spec costs one message and no compute. Pure: parsing and checks only (Ray lives in the runner).
"""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from autoport import configfile
from autoport.errors import ConfigError


class Target(str, Enum):
    BACKTEST = "backtest"
    TRAIN_AGENT = "train-agent"


class SearchAlgorithm(str, Enum):
    RANDOM = "random"
    GRID = "grid"
    OPTUNA = "optuna"


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must come after start {self.start}")
        return self

    def overlaps(self, other: Period) -> bool:
        return self.start <= other.end and other.start <= self.end


# What each target reports on its validation period, i.e. what a spec may maximise.
BACKTEST_METRICS = ("annual_return", "sharpe", "sortino", "calmar", "max_drawdown")
AGENT_METRICS = ("success_rate", "mean_excess_sharpe")
DEFAULT_PERIODS = {
    Target.BACKTEST: (Period(start=date(2007, 1, 1), end=date(2014, 12, 31)),
                      Period(start=date(2015, 1, 1), end=date(2022, 12, 31))),
}


# Config keys a search may not move: the periods and seeds are the spec's (or the protocol's).
FIXED_KEYS = {
    Target.BACKTEST: ("start", "end", "seed", "strategy", "selected_through", "allow_in_sample"),
    Target.TRAIN_AGENT: ("protocol", "seed"),
}
FIXED_REASON = {
    Target.BACKTEST: "the spec sets the strategy, the seeds and the validation and test periods",
    Target.TRAIN_AGENT: "the agent's protocol (train, validation and test periods) is fixed "
                        "and the seeds are the spec's",
}

KINDS = ("choice", "grid", "uniform", "loguniform", "integer")  # "integer" is spelled int in YAML


class Dimension(BaseModel):
    """One searched setting: exactly one of the distribution keys."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    choice: list[Any] | None = None
    grid: list[Any] | None = None
    uniform: tuple[float, float] | None = None
    loguniform: tuple[float, float] | None = None
    integer: tuple[int, int] | None = Field(None, alias="int", description="inclusive range")

    @model_validator(mode="after")
    def _one_kind(self) -> Dimension:
        given = [k for k in KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of choice, grid, uniform, loguniform, int")
        kind = given[0]
        if kind in ("choice", "grid") and not getattr(self, kind):
            raise ValueError(f"{kind} needs at least one value")
        if kind in ("uniform", "loguniform", "integer"):
            low, high = getattr(self, kind)
            if not low < high:
                shown = "int" if kind == "integer" else kind
                raise ValueError(f"{shown} needs low < high; got [{low}, {high}]")
            if kind == "loguniform" and low <= 0:
                raise ValueError(f"loguniform needs positive bounds; got [{low}, {high}]")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in KINDS if getattr(self, k) is not None)

    def example(self) -> Any:
        """One value inside the dimension (its first choice or lower bound), for checks."""
        value = getattr(self, self.kind)
        return value[0]

    def extremes(self) -> list[Any]:
        """Every choice, or both bounds of a range: what the checks before a sweep try."""
        return list(getattr(self, self.kind))


class SweepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: Target
    strategy: str | None = None
    base_config: str | None = None
    space: dict[str, Dimension]
    trials: int = Field(16, ge=1, le=100_000)
    search: SearchAlgorithm = SearchAlgorithm.RANDOM
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    metric: str
    validation: Period | None = None
    test: Period | None = None
    scheduler: str | None = Field(None, description="train-agent only: asha")

    @model_validator(mode="after")
    def _coherent(self) -> SweepSpec:
        if not self.space:
            raise ValueError("space is empty: name at least one setting to search")
        metrics = BACKTEST_METRICS if self.target is Target.BACKTEST else AGENT_METRICS
        if self.metric not in metrics:
            raise ValueError(
                f"metric {self.metric!r} is not reported by {self.target.value} on validation; "
                f"use one of {', '.join(metrics)}"
            )
        if self.target is Target.BACKTEST:
            if not self.strategy:
                raise ValueError("a backtest sweep names its strategy (e.g. strategy: mpt)")
            default_validation, default_test = DEFAULT_PERIODS[Target.BACKTEST]
            self.validation = self.validation or default_validation
            self.test = self.test or default_test
            if self.validation.overlaps(self.test):
                raise ValueError(
                    f"validation {self.validation.start}..{self.validation.end} overlaps test "
                    f"{self.test.start}..{self.test.end}: the test period must stay unseen"
                )
        else:
            if self.validation or self.test:
                raise ValueError(
                    "train-agent keeps its protocol's periods (configs/dqn.yaml: train, "
                    "validation, test); remove validation/test from the spec"
                )
            if self.strategy:
                raise ValueError("strategy is for backtest sweeps; train-agent has none")
        if self.scheduler is not None:
            if self.target is not Target.TRAIN_AGENT or self.scheduler != "asha":
                raise ValueError("scheduler: asha is the one early-stopping rule, for "
                                 "train-agent sweeps only")
        fixed = [k for k in self.space if k.split(".")[0] in FIXED_KEYS[self.target]]
        if fixed:
            raise ValueError(
                f"{', '.join(fixed)} cannot be searched: {FIXED_REASON[self.target]}")
        grids = [k for k, d in self.space.items() if d.kind == "grid"]
        if self.search is SearchAlgorithm.OPTUNA and grids:
            raise ValueError(f"optuna cannot search a grid ({', '.join(grids)}): use choice")
        if self.search is SearchAlgorithm.GRID and len(grids) != len(self.space):
            others = [k for k in self.space if k not in grids]
            raise ValueError(f"search: grid needs grid values for every setting; "
                             f"{', '.join(others)} are not grids")
        return self


def trial_count(spec: SweepSpec) -> int:
    """How many trials Ray Tune runs: every grid crossed with each draw (one draw for grid)."""
    grid = 1
    for dim in spec.space.values():
        if dim.kind == "grid":
            grid *= len(dim.grid)
    return grid * (1 if spec.search is SearchAlgorithm.GRID else spec.trials)


def load_spec(path) -> SweepSpec:
    """The spec file, validated; one ``ConfigError`` naming the file and the bad keys."""
    raw, source = configfile.read_mapping(path)
    return configfile.validate(SweepSpec, raw, source)


def apply(config: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
    """A copy of the nested ``config`` with each dotted path of ``point`` set to its value."""
    out = _deep_copy(config)
    for path, value in point.items():
        node = out
        *parents, leaf = path.split(".")
        for key in parents:
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"space key {path!r}: {key!r} is a value, not a group")
            node = child
        node[leaf] = value
    return out


def check_space(spec: SweepSpec, base: dict[str, Any], validate) -> None:
    """Refuse a searched key the base config does not have, or a value it rejects.

    ``validate(mapping)`` is the target's own config check (it raises ``ConfigError``); each
    dimension's choices (or a range's two bounds) are applied alone, so the message names the
    one bad key.
    """
    for path, dim in spec.space.items():
        head = path.split(".")[0]
        try:
            for value in dim.extremes():
                validate(apply(base, {path: value}))
        except ConfigError as exc:
            raise ConfigError(
                f"space key {path!r} does not fit the {spec.target.value} config: {exc}. "
                f"Searchable keys are the config's own (e.g. {head} must be one of its fields)"
            ) from None


def _deep_copy(value):
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def check_periods_within(
    periods: dict[str, tuple[date | None, date | None]], start: str | None, end: str | None
) -> None:
    """Refuse a spec period that reaches outside ``--start``..``--end``.

    ``--start``/``--end`` narrow the prices every trial (and the final test) reads, so a
    validation or test period outside them would be scored on data the sweep was told not to
    use. ``periods`` maps a name to its ``(first, last)`` dates; ``None`` is open (the agent's
    training runs from the first date, its test to the last).
    """
    from autoport.data import parse_date

    lo = parse_date(start).date() if start is not None else None
    hi = parse_date(end).date() if end is not None else None
    for label, (first, last) in periods.items():
        shown = f"the {label} period {first or 'first date'}..{last or 'last date'}"
        fix = f"or move the {label} period in the spec"
        if lo is not None and first is not None and first < lo:
            raise ConfigError(f"{shown} starts before --start {lo}; pass an earlier --start {fix}")
        if lo is not None and last is not None and last <= lo:
            raise ConfigError(f"{shown} ends before --start {lo}; pass an earlier --start {fix}")
        if hi is not None and last is not None and last > hi:
            raise ConfigError(f"{shown} ends after --end {hi}; pass a later --end {fix}")
        if hi is not None and first is not None and first >= hi:
            raise ConfigError(f"{shown} starts after --end {hi}; pass a later --end {fix}")
