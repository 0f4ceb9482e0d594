"""Where the data folders (parsers/, rules/, fluentd/) are.

In a wheel they are installed inside the package as ``osloganalyze/_data/<name>``;
in a source checkout they are the top-level folders of the repository.
"""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"osla data folder {name!r} not found (broken install?)")
