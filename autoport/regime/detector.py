"""One entry point for online regime detection from prices and a detector config.

The CLI, the environment's optional regime features and the autopilot all need the same thing:
online (no look-ahead) regime probabilities for every session of a price panel after the
first fit. Building the features and running the online detector in one place keeps their settings
from drifting apart.
"""

from __future__ import annotations

import pandas as pd

from autoport.regime.config import DetectorConfig, load_config
from autoport.regime.features import build_features
from autoport.errors import DataError
from autoport.regime.hmm import RegimeResult
from autoport.regime.online import OnlineRegimeFilter


def detect(
    prices: pd.DataFrame | pd.Series,
    detector: DetectorConfig | None = None,
    *,
    extra: pd.DataFrame | None = None,
    on_fit=None,
) -> RegimeResult:
    """Online regimes of ``prices`` under ``detector`` (default: the bundled ``configs/regime.yaml``).

    The probability on date ``t`` uses prices up to ``t`` only, from a model fitted on sessions
    before ``t``'s refit segment: the batch run of
    :class:`~autoport.regime.online.OnlineRegimeFilter` (``detector.refit_every``), the filter
    the environment, the regime strategy and the autopilot run incrementally.
    ``on_fit(done, total)`` follows the refits (a progress bar).
    """
    det = detector if detector is not None else load_config().detector
    feats = build_features(prices, extra=extra, **det.feature_kwargs())
    if len(feats) <= det.min_train:
        raise DataError(
            f"{len(feats)} sessions of features leave nothing to label after min_train "
            f"{det.min_train}; pass a longer history or lower min_train"
        )
    online = OnlineRegimeFilter.from_detector(det)
    online.on_fit = on_fit
    return online.run(feats)
