"""Walk-forward and combinatorial purged cross-validation of a strategy against 1/N.

``folds`` holds the layouts (pure functions of a session count, checked against skfolio);
``run`` trades each fold's test blocks on the fast engine, one Ray task a fold. See
:func:`plan` for how a layout is placed on a price panel.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from autoport.errors import ConfigError
from autoport.walkforward.folds import (
    Fold, Scheme, combinatorial_folds, estimation_rows, walk_forward_folds,
)
from autoport.walkforward.run import FoldResult, WalkForwardResult, check_history, run_folds

__all__ = [
    "Fold", "FoldResult", "Plan", "Scheme", "WalkForwardResult", "WalkForwardSettings",
    "check_history", "combinatorial_folds", "estimation_rows", "plan", "run_folds",
    "walk_forward_folds",
]


class WalkForwardSettings(BaseModel):
    """How the folds are laid out (sessions throughout); None means "from the strategy"."""

    model_config = ConfigDict(extra="forbid")

    scheme: Scheme = Scheme.CPCV
    groups: int = Field(6, ge=3, description="CPCV: consecutive groups the sessions are cut into")
    test_groups: int = Field(2, ge=1, description="CPCV: groups tested together in a fold")
    train: int | None = Field(None, ge=1, description="rolling/expanding: the (first) training "
                              "window; default the strategy's minimum history")
    test: int = Field(252, ge=2, description="rolling/expanding: sessions in a test window")
    purge: int = Field(21, ge=0, description="sessions dropped from estimation on each side of "
                       "a test block (a monthly decision's outcome spans about 21)")
    embargo: int = Field(21, ge=0, description="CPCV: further sessions dropped after a test block")
    warmup: int | None = Field(None, ge=0, description="CPCV: first sessions always kept for "
                               "estimation, never tested; default minimum history + purge")


@dataclass(frozen=True)
class Plan:
    folds: list[Fold]
    warmup: int  # rows of the panel ahead of the split index (never tested)
    settings: WalkForwardSettings  # with the defaults filled in


def plan(n_sessions: int, settings: WalkForwardSettings, min_history: int) -> Plan:
    """Place the layout on a panel of ``n_sessions`` rows for a strategy that needs
    ``min_history`` rows up to and including its first decision.

    CPCV splits the rows after a warm-up (the first group would otherwise have no past to
    estimate from); walk-forward splits every row, its first training window being the
    warm-up. The embargo must be shorter than a test window or group.
    """
    s = settings
    if s.scheme is Scheme.CPCV:
        if s.test_groups >= s.groups:
            raise ConfigError(f"--test-groups ({s.test_groups}) must be below --groups "
                              f"({s.groups})")
        warmup = s.warmup if s.warmup is not None else min_history + s.purge
        if warmup >= n_sessions:
            from autoport.errors import DataError

            raise DataError(f"{n_sessions} sessions are too few: the strategy needs a warm-up "
                            f"of {warmup} before the first fold; pass a longer period")
        folds = combinatorial_folds(n_sessions - warmup, n_groups=s.groups,
                                    n_test_groups=s.test_groups, purge=s.purge,
                                    embargo=s.embargo)
        return Plan(folds, warmup, s.model_copy(update={"warmup": warmup}))
    if s.embargo >= s.test:
        raise ConfigError(f"--embargo ({s.embargo}) must be shorter than a test window "
                          f"(--test {s.test})")
    train = s.train if s.train is not None else min_history
    folds = walk_forward_folds(n_sessions, test_size=s.test, train_size=train, purge=s.purge,
                               expanding=s.scheme is Scheme.EXPANDING)
    return Plan(folds, 0, s.model_copy(update={"train": train}))
