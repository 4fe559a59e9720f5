"""The bulletins shipped with bantin: the default corpus of `bantin index`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def corpus_files() -> list[Path]:
    """Paths of the shipped bulletin files, wherever the package is installed."""
    folder = Path(str(resources.files(__name__)))
    return sorted(folder.glob("*.txt"))
