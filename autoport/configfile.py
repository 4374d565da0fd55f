"""The config edge: YAML text into a validated pydantic model, or one ``ConfigError``.

Every settings file (backtest, regime, stress scenarios, alert rules, gates, ...) goes through
here, so each bad key or value gets the same kind of message: the file, the key, the problem.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from autoport.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)


def validation_problems(exc: ValidationError, limit: int = 8) -> str:
    """``key.sub: message; ...`` for the first ``limit`` problems pydantic found."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors()[:limit]
    )


def read_text(path: str | Path) -> str:
    """The text of a settings file; a binary or unreadable file is a ``ConfigError``."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{p} is not a text file (byte {exc.start} is not UTF-8); pass a YAML file"
        ) from None
    except OSError as exc:
        raise ConfigError(f"could not read {p}: {exc.strerror or exc}") from None


def parse_mapping(text: str, source: str) -> dict[str, Any]:
    """YAML text that must hold a mapping (an empty file is an empty mapping)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source} must hold a mapping of settings (key: value)")
    return raw


def read_mapping(path: str | Path | None, bundled: str | None = None) -> tuple[dict, str]:
    """The user's file or the bundled ``configs/<bundled>``; returns (mapping, source name)."""
    if path is None:
        if bundled is None:
            return {}, "defaults"
        text = resources.files("autoport.configs").joinpath(bundled).read_text()
        return parse_mapping(text, f"bundled {bundled}"), f"bundled {bundled}"
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist; pass an existing YAML file")
    return parse_mapping(read_text(p), str(p)), str(p)


def validate(model: type[Model], raw: dict[str, Any], source: str) -> Model:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"invalid config in {source} ({validation_problems(exc)})") from None


def load(
    model: type[Model],
    path: str | Path | None = None,
    *,
    bundled: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> Model:
    """File (or bundled default) merged with non-None ``overrides``, then validated."""
    raw, source = read_mapping(path, bundled)
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return validate(model, raw, source)
