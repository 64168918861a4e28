"""Writing a config file in a test and reading it back, or the problems found in it."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Config, ConfigError, load_config


def load_text(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_config(path, {})


def problems_in(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text)
    return [str(p) for p in caught.value.problems]
