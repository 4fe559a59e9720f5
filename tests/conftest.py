"""Shared fixtures: one small index built once per session from the shipped corpus, and the
web app over it (Flask's tutorial shape: ``app`` and ``client``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from corpus import corpus_files
from index import build_index
from searcher import Searcher
from webui import create_app
from webui.extension import close_searcher


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


@pytest.fixture(scope="session")
def app(corpus_index: Path) -> Iterator[Flask]:
    """The web app over the corpus index, its Searcher closed at the end of the session."""
    web_app = create_app({"BANTIN_INDEX": str(corpus_index), "TESTING": True})
    yield web_app
    close_searcher(web_app)


@pytest.fixture(scope="session")
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def empty_client(tmp_path: Path) -> FlaskClient:
    """An app whose index folder holds nothing."""
    return create_app({"BANTIN_INDEX": str(tmp_path), "TESTING": True}).test_client()


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
