"""The config edge: YAML text into a validated pydantic model, or one ``ConfigError``.

Every settings file (backtest, regime, stress scenarios, alert rules, gates, ...) goes through
here, so each bad key or value gets the same kind of message: the file, the key, the problem.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from autoport.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)


def validation_problems(
    exc: ValidationError,
    limit: int = 8,
    *,
    label: Callable[[tuple], str | None] | None = None,
) -> str:
    """``key.sub: message; ...`` for the first ``limit`` problems pydantic found.

    The one wording of a rejected setting across every config: the dotted key (``config``
    for the whole mapping) and pydantic's message without its "Value error, " prefix.
    ``label(loc)`` may name a location better (a scenario by its name rather than its index).
    """
    errors = exc.errors()
    parts = []
    for err in errors[:limit]:
        loc = tuple(err["loc"])
        where = (label(loc) if label is not None else None) or ".".join(map(str, loc))
        parts.append(f"{where or 'config'}: {err['msg'].removeprefix('Value error, ')}")
    if len(errors) > limit:
        parts.append(f"and {len(errors) - limit} more")
    return "; ".join(parts)


def invalid(what: str, exc: ValidationError, **kwargs: Any) -> ConfigError:
    """The ``ConfigError`` for settings a model rejected: ``invalid WHAT: key: problem; ...``."""
    return ConfigError(f"invalid {what}: {validation_problems(exc, **kwargs)}")


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


def read_mapping(
    path: str | Path | None, bundled: str | None = None, *, kind: str = "config file"
) -> tuple[dict, str]:
    """The user's file or the bundled ``configs/<bundled>``; returns (mapping, source name).

    ``kind`` names the file in the message when it is missing ("scenario file", ...).
    """
    if path is None:
        if bundled is None:
            return {}, "options"  # nothing read: only the caller's overrides follow
        text = resources.files("autoport.configs").joinpath(bundled).read_text()
        return parse_mapping(text, f"bundled {bundled}"), f"bundled {bundled}"
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{kind} {p} does not exist; pass an existing YAML file")
    return parse_mapping(read_text(p), str(p)), str(p)


def validate(
    model: type[Model], raw: dict[str, Any], source: str, options: dict[str, Any] | None = None
) -> Model:
    """``model`` from ``raw``; a key that came from a command-line option is named as one.

    ``options`` maps the keys taken from options to their values: their problems read
    ``--key-name: ...`` and the message does not blame a file the user did not pass.
    """
    given = {k for k, v in (options or {}).items() if v is not None}

    def label(loc: tuple) -> str | None:
        if loc and loc[0] in given:
            return "--" + str(loc[0]).replace("_", "-")
        return None

    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        from_options = all(e["loc"] and e["loc"][0] in given for e in exc.errors())
        what = "options" if from_options else f"config in {source}"
        raise invalid(what, exc, label=label) from None


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
    return validate(model, raw, source, overrides)
