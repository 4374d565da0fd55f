"""Settings of `autoport monitor`: a YAML file (``--config``) merged with the CLI options.

Precedence: the defaults below, then the file, then any option given on the command line.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from autoport import configfile


class MonitorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    horizon: str = "1d"  # a duration (1d, 5d, 1h, 30min) or a bar count (12bars)
    ewma_lambda: float = Field(default=0.94, gt=0.0, lt=1.0)
    fhs_window: int = Field(default=500, ge=20)  # bars of standardised book returns
    spike_sd: float = Field(default=10.0, ge=0.0)  # bad-tick screen; 0 turns it off
    alerts: Path | None = None  # alert rules YAML; None = bundled configs/alerts.yaml
    notify: str | None = None  # command run per alert, the alert JSON on its stdin
    notify_timeout: float = Field(default=10.0, gt=0.0)
    poll: float = Field(default=0.01, gt=0.0, le=5.0)  # seconds between looks at a followed file


def load_monitor_config(path: Path | None, overrides: dict | None = None) -> MonitorConfig:
    return configfile.load(MonitorConfig, path, overrides=overrides)
