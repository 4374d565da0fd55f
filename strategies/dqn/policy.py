"""A trained DQN as a map from observations to an action and its long-only weights.

The observation carries the menu of allocations (see :mod:`autoport.envs.features`), so the
chosen action's weights are read from the observation itself: observations → weights, with
nothing else to supply. :mod:`autoport.strategies.dqn.pyfunc` wraps this class as an MLflow model.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from autoport.envs import features
from autoport.envs.config import EnvConfig
from autoport.errors import DataError, TrackingError

POLICY_FILE = "policy.zip"
SPEC_FILE = "spec.json"


class PolicyMapper:
    """``action(obs)`` for the env loop, ``predict(obs_batch)`` for the MLflow signature."""

    def __init__(self, model, env_config: EnvConfig, tickers: list[str],
                 seen_until: date | None = None) -> None:
        """``seen_until``: the last date of the data the model was trained or selected on (the
        end of its validation period); a backtest before it would score the model in sample."""
        self.model = model
        self.env_config = env_config
        self.tickers = list(tickers)
        self.seen_until = seen_until

    @property
    def action_names(self) -> list[str]:
        return list(self.env_config.actions)

    def action(self, obs: np.ndarray) -> int:
        """The greedy action: the Q-network's argmax, as ``model.predict(obs,
        deterministic=True)`` gives it. An SB3 DQN's MLP is called directly (one forward pass
        under ``torch.inference_mode``): ``predict``'s wrappers (eval mode, observation checks
        and preprocessing, ``no_grad``) cost twice the tiny network itself.

        Inside a backtest every torch call runs cold (the menu's numpy work between two
        decisions evicts torch's code and tables from the caches): each costs 10-30 µs there
        against 1-5 µs in a loop, so what counts is how many there are. The features extractor
        (``Flatten`` of a float32 row, and the float cast before it: both identity here) and
        the argmax are left out of torch: the MLP's output goes to numpy, whose argmax picks
        the first maximum as torch's does (half the action's time in a backtest).
        """
        obs = np.asarray(obs, dtype=np.float32)
        mlp = self._mlp()
        if mlp is None:
            action, _ = self.model.predict(obs, deterministic=True)
            return int(action)
        import torch

        if not obs.flags.writeable:  # torch.from_numpy warns on a read-only array
            obs = obs.copy()
        with torch.inference_mode():
            q_values = mlp(torch.from_numpy(obs.reshape(1, -1)))
        return int(q_values.numpy()[0].argmax())

    def _mlp(self):
        """The SB3 DQN's Q-network MLP in eval mode (what ``predict`` switches to), when its
        features extractor only flattens a 1-d Box observation; None for any other model (its
        own ``predict`` is used)."""
        policy = getattr(self.model, "policy", None)
        q_net = getattr(policy, "q_net", None)
        space = getattr(policy, "observation_space", None)
        if (q_net is None or type(space).__name__ != "Box" or len(space.shape) != 1
                or type(getattr(q_net, "features_extractor", None)).__name__
                != "FlattenExtractor" or not hasattr(q_net, "q_net")):
            return None
        if policy.training:
            policy.set_training_mode(False)
        return q_net.q_net

    def predict(self, observations: np.ndarray) -> pd.DataFrame:
        """One row per observation: ``action``, ``action_name``, a weight per ticker and
        ``CASH`` (all summing to 1; cash is non-zero only for the defensive item)."""
        obs = np.atleast_2d(np.asarray(observations, dtype=np.float32))
        n, size = len(self.tickers), features.obs_size(len(self.tickers), self.env_config)
        if obs.shape[1] != size:
            raise DataError(f"observations have {obs.shape[1]} values; this model expects {size}")
        actions, _ = self.model.predict(obs, deterministic=True)
        actions = np.asarray(actions, dtype=int).reshape(-1)
        offset = features.menu_offset(n, self.env_config)
        rows = []
        for row, a in zip(obs, actions, strict=True):
            rows.append(row[offset + a * n : offset + (a + 1) * n].astype(float))
        frame = pd.DataFrame(rows, columns=self.tickers)
        frame["CASH"] = (1.0 - frame.sum(axis=1)).clip(lower=0.0)
        frame.insert(0, "action_name", [self.action_names[a] for a in actions])
        frame.insert(0, "action", actions)
        return frame

    def check_tickers(self, tickers: list[str]) -> None:
        if list(tickers) != self.tickers:
            raise DataError(
                f"the model was trained on {self.tickers}; the prices hold {list(tickers)}. "
                "Pass prices with the same tickers in the same order"
            )

    def save(self, folder: Path) -> dict[str, str]:
        """Write the SB3 policy and the spec; return MLflow ``artifacts`` paths."""
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save(folder / POLICY_FILE)
        spec = {"tickers": self.tickers, "env": self.env_config.model_dump(mode="json"),
                "seen_until": self.seen_until.isoformat() if self.seen_until else None}
        (folder / SPEC_FILE).write_text(json.dumps(spec, indent=2))
        return {"policy": str(folder / POLICY_FILE), "spec": str(folder / SPEC_FILE)}

    @classmethod
    def load(cls, policy_path: str, spec_path: str) -> PolicyMapper:
        from stable_baselines3 import DQN

        spec = json.loads(Path(spec_path).read_text())
        model = DQN.load(policy_path, device="cpu")
        seen = spec.get("seen_until")
        return cls(model, EnvConfig.model_validate(spec["env"]), spec["tickers"],
                   date.fromisoformat(seen) if seen else None)


def load_policy(model_uri: str) -> PolicyMapper:
    """The mapper inside a logged model (``runs:/ID/model`` or ``models:/NAME@alias``)."""
    from autoport import tracking

    loaded = tracking.load_pyfunc(model_uri)
    try:
        mapper = loaded.unwrap_python_model().mapper
    except AttributeError:
        raise TrackingError(
            f"{model_uri} is not an autoport DQN policy model; log one with autoport train-agent"
        ) from None
    if mapper.seen_until is None:  # logged before models recorded it: the run's protocol says
        mapper.seen_until = _validation_end_of(loaded.metadata.run_id, model_uri)
    return mapper


def _validation_end_of(run_id: str | None, model_uri: str) -> date:
    """The end of the validation period in the training run's logged config."""
    from autoport import tracking

    try:
        config = tracking.load_json_artifact(run_id, "config.json", "autoport train-agent")
        return date.fromisoformat(str(config["protocol"]["validation_end"]))
    except (TrackingError, KeyError, TypeError, ValueError):
        raise TrackingError(
            f"cannot tell which dates {model_uri} was trained and selected on (no seen_until in "
            "its spec and no protocol in its run's config.json); retrain it with "
            "`autoport train-agent`, which records them"
        ) from None
