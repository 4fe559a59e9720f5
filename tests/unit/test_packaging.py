"""Packaging: a regular (non-editable) install must carry every module and data file."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_directory_is_installed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    installed = set(find_packages(str(ROOT), include=include))
    for top in ("searcher", "index", "webui", "corpus"):
        for init in (ROOT / top).rglob("__init__.py"):
            package = ".".join(init.parent.relative_to(ROOT).parts)
            assert package in installed, f"{package} would be missing from a regular install"


def test_shipped_corpus_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "*.txt" in config["tool"]["setuptools"]["package-data"]["corpus"]
    assert len(list((ROOT / "corpus").glob("*.txt"))) == 5
