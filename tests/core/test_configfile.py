"""The one wording of a rejected setting, shared by every config file."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from autoport import configfile
from autoport.errors import ConfigError


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = Field(ge=1)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "x"
    items: list[Inner] = []

    @field_validator("name")
    @classmethod
    def _short(cls, v: str) -> str:
        if len(v) > 3:
            raise ValueError("at most 3 letters")
        return v


def _error(raw) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        Settings.model_validate(raw)
    return info.value


def test_problems_name_the_dotted_key_and_drop_pydantics_prefix():
    exc = _error({"name": "long", "items": [{"size": 0}], "colour": 1})
    assert configfile.validation_problems(exc) == (
        "name: at most 3 letters; items.0.size: Input should be greater than or equal to 1; "
        "colour: Extra inputs are not permitted")
    assert configfile.validation_problems(exc, limit=1) == "name: at most 3 letters; and 2 more"
    named = configfile.validation_problems(
        exc, label=lambda loc: f"item {loc[1]}" if loc[0] == "items" else None)
    assert "item 0: Input should be" in named and "name: at most" in named


def test_invalid_is_one_config_error_and_load_uses_it(tmp_path):
    error = configfile.invalid("settings file s.yaml", _error(None))
    assert isinstance(error, ConfigError)
    assert str(error) == ("invalid settings file s.yaml: config: Input should be a valid "
                          "dictionary or instance of Settings")
    path = tmp_path / "s.yaml"
    path.write_text("name: abcd\n")
    with pytest.raises(ConfigError, match=f"^invalid config in {path}: name: at most 3 letters$"):
        configfile.load(Settings, path)
    with pytest.raises(ConfigError, match="^invalid options: --colour: Extra inputs"):
        configfile.load(Settings, overrides={"colour": 2})
