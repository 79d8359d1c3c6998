"""Reading the analysts' YAML files (tags aside): one way to find, read and report them."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from weiwan.core.errors import ConfigError
from weiwan.core.yaml_safe import load_yaml


def read_yaml(path: Path | None, name: str, what: str = "file") -> tuple[str, Any]:
    """(source label, parsed YAML) of ``path``, or of the shipped ``name`` when ``None``;
    a file that cannot be read or parsed is a ConfigError naming it."""
    source = str(path) if path else f"{name} (default)"
    try:
        text = (
            path.read_text("utf-8")
            if path
            else resources.files("weiwan.analytics").joinpath(name).read_text("utf-8")
        )
        return source, load_yaml(text) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{source}: cannot read {what}: {exc}") from exc


def problems(exc: ValidationError, empty: str = "(file)") -> str:
    """A pydantic error as "field.path: message; …" for a ConfigError."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or empty}: "
        f"{str(err['msg']).removeprefix('Value error, ')}"
        for err in exc.errors()
    )
