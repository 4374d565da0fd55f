"""Reuse a regime model logged by ``autoport regime``, by its MLflow run id.

The run holds ``model.json`` (the fitted HMM, its scaler and state names) and ``config.json``
(the detector settings that built its features), so a backtest or the agent can filter new data
through exactly that model without refitting it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from autoport import tracking
from autoport.errors import ConfigError, DataError
from autoport.regime.config import DetectorConfig
from autoport.regime.hmm import HMMFit, fit_from_dict


@dataclass(frozen=True)
class LoggedModel:
    run_id: str
    fit: HMMFit
    detector: DetectorConfig

    def check_out_of_sample(self, first_decision: pd.Timestamp) -> None:
        """Refuse to label dates the model was trained on: that would be look-ahead."""
        if first_decision <= self.fit.train_end:
            raise DataError(
                f"the regime model of run {self.run_id} was trained on data to "
                f"{self.fit.train_end.date()}, so using it on {first_decision.date()} would look "
                "ahead; start the backtest after that date (--start) or fit the model with "
                "`autoport regime --as-of` an earlier date"
            )


def parse_run_id(ref: str) -> str:
    """``RUN_ID``, ``runs:/RUN_ID`` or ``runs:/RUN_ID/<path>`` → ``RUN_ID``."""
    text = ref.strip()
    if text.startswith("runs:/"):
        text = text[len("runs:/") :].split("/")[0]
    if not text or "/" in text or ":" in text:
        raise ConfigError(
            f"{ref!r} is not a regime run; pass the MLflow run id printed by `autoport regime` "
            "(or runs:/RUN_ID)"
        )
    return text


def load_logged_model(ref: str) -> LoggedModel:
    """The HMM and detector settings of an ``autoport regime`` run."""
    run_id = parse_run_id(ref)
    fit = fit_from_dict(tracking.load_json_artifact(run_id, "model.json", "autoport regime"))
    config = tracking.load_json_artifact(run_id, "config.json", "autoport regime")
    try:
        detector = DetectorConfig.model_validate(config["detector"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"run {run_id} has no usable detector settings in config.json ({exc}); "
            "it was not logged by `autoport regime`"
        ) from None
    return LoggedModel(run_id, fit, detector)
