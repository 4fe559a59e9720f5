"""Hits read from the page files equal those read from Whoosh's stored records, key for key.

:mod:`searcher.fastpath.pages` replaces Whoosh's stored fields in a page; every document's
fields must read the same, and every hit's ``to_dict()`` must be the same with and without the
files, after an update (deleted and replaced bulletins) too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from test_fastpath import FILTERS, QUERIES, synthetic_bulletins, write

from index import build_index, update_index
from searcher import Searcher
from searcher.fastpath.pages import FIELDS, pages_dir
from searcher.fastpath.store import side_dir
from searcher.storage import read_current


def _records(count: int, seed: int) -> list[dict[str, Any]]:
    """Synthetic bulletins with every optional field present in some and absent in others."""
    records = synthetic_bulletins(count, seed=seed)
    for i, record in enumerate(records):
        if i % 4 == 0:
            record["author"] = f"Phóng viên {i}"
        if i % 5 == 0:
            record["url"] = f"https://portal.example.gov.vn/tin-tuc/{i}?a=1&b=ư"
        if i % 7 == 0:
            record["title"] = f"<b>“{record['title']}” & Đ</b>"
    return records


def _answers(searcher: Searcher, pages: bool) -> list[dict[str, Any]]:
    opened = searcher._current()
    assert opened.fast is not None, "the fast path should serve this index"
    assert (opened.fast.pages is not None) is pages
    answers = []
    cases = [(filters, "relevance") for filters in FILTERS] + [({}, "date")]
    for query in [*QUERIES, ""]:
        for filters, sort in cases:
            got = searcher.search(query, per_page=100, sort=sort, **filters).to_dict()
            got.pop("took_ms")
            answers.append(got)
    return answers


@contextmanager
def _without_pages(index_dir: Path) -> Iterator[None]:
    """The live generation's page files moved aside for the block."""
    folder = pages_dir(side_dir(read_current(index_dir).path))
    aside = folder.with_name(".aside-pages")
    folder.rename(aside)
    try:
        yield
    finally:
        aside.rename(folder)


def _assert_pages_read_as_whoosh(index_dir: Path) -> None:
    """Every live document's page fields are Whoosh's non-empty ones (a segment's files are
    written once: documents deleted later keep theirs, and are never hits)."""
    with Searcher(index_dir) as searcher:
        opened = searcher._current()
        assert opened.fast is not None and opened.fast.pages is not None
        reader = opened.searcher.reader()
        held = 0
        for docnum in range(reader.doc_count_all()):
            if reader.is_deleted(docnum):
                continue
            got = opened.fast.pages.get(docnum)
            stored = reader.stored_fields(docnum)
            assert got == {name: stored[name] for name in FIELDS if stored.get(name)}
            held += 1
        assert held == reader.doc_count()


def _assert_same_hits(index_dir: Path) -> None:
    with Searcher(index_dir) as searcher:
        expected = _answers(searcher, pages=True)
    with _without_pages(index_dir), Searcher(index_dir) as searcher:
        assert _answers(searcher, pages=False) == expected


def test_hits_are_the_same_with_and_without_the_page_files(tmp_path: Path) -> None:
    source = write(tmp_path / "a.jsonl", _records(160, seed=21))
    build_index([source], tmp_path / "ix")
    _assert_pages_read_as_whoosh(tmp_path / "ix")
    _assert_same_hits(tmp_path / "ix")


def test_after_an_update_with_deleted_and_replaced_bulletins(tmp_path: Path) -> None:
    records = _records(160, seed=22)
    source = write(tmp_path / "a.jsonl", records)
    build_index([source], tmp_path / "ix")
    changed = records[20:] + _records(30, seed=23)[:30]
    changed[len(changed) - 30 :] = [
        dict(r, id=f"mới {i}") for i, r in enumerate(changed[len(changed) - 30 :])
    ]
    changed[0] = dict(changed[0], title="Tiêu đề đã sửa", author="Người sửa")
    changed[1] = {key: value for key, value in changed[1].items() if key != "date"}
    write(source, changed)
    report = update_index([source], tmp_path / "ix")
    assert report.removed and report.added and report.updated
    generation = read_current(tmp_path / "ix")
    segments = [p for p in pages_dir(side_dir(generation.path)).iterdir()]
    assert len(segments) >= 2  # the old segment (with its deletions) and the update's
    _assert_pages_read_as_whoosh(tmp_path / "ix")
    _assert_same_hits(tmp_path / "ix")


@pytest.mark.parametrize("damage", ["truncated", "meta"])
def test_damaged_page_files_are_not_read(tmp_path: Path, damage: str) -> None:
    source = write(tmp_path / "a.jsonl", _records(60, seed=24))
    build_index([source], tmp_path / "ix")
    with Searcher(tmp_path / "ix") as searcher:
        expected = searcher.search("ủy ban nhân dân").to_dict()
    folder = next(pages_dir(side_dir(read_current(tmp_path / "ix").path)).iterdir())
    if damage == "truncated":
        blob = folder / "blob.bin"
        blob.write_bytes(blob.read_bytes()[:-10])
    else:
        (folder / "meta.json").write_text("{}", encoding="utf-8")
    with Searcher(tmp_path / "ix") as searcher:
        fast = searcher._current().fast
        assert fast is not None and fast.pages is None
        got = searcher.search("ủy ban nhân dân").to_dict()
    assert got["hits"] and [h["id"] for h in got["hits"]] == [h["id"] for h in expected["hits"]]
    assert got["hits"] == expected["hits"]
