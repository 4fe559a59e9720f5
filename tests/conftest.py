"""Shared fixtures: one small index built once per session from the shipped corpus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from corpus import corpus_files
from index import build_index
from searcher import Searcher


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the five shipped bulletins (pyvi loads once for the whole session)."""
    index_dir = tmp_path_factory.mktemp("corpus-index")
    build_index(corpus_files(), index_dir)
    return index_dir


@pytest.fixture(scope="session")
def searcher(corpus_index: Path) -> Iterator[Searcher]:
    with Searcher(corpus_index) as opened:
        yield opened


@pytest.fixture
def write_jsonl(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write bulletins as a JSON Lines file and return its path."""
    import json

    def write(records: list[dict], name: str = "bulletins.jsonl") -> Path:
        path = tmp_path / name
        path.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
        )
        return path

    return write
