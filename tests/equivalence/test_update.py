"""Updates cost in proportion to the change: shared files, hashes before segmenting, exact search.

An update's new generation hard-links the live one's unchanged files (Whoosh segments, side
files, catalog) and writes only the new segment, the new table of contents and what depends
on them; these tests check the sharing on disk, that the shared files are never written into,
that only new and changed bulletins are segmented, and that searches answer as a rebuild does.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from test_fastpath import QUERIES, assert_same_answers, synthetic_bulletins, write

import index.build
import index.documents
from index import build_index, update_index
from searcher import Searcher
from searcher.fastpath import store, weights
from searcher.lm import LM_DIR
from searcher.storage import read_current

BASE, NEW, CHANGED, REMOVED = 120, 30, 6, 5


def inputs(folder: Path, *, add: bool, change: bool, remove: bool) -> list[Path]:
    """The base file, edited in place (changed bodies keep their lines; the removed bulletins
    are its last lines, so no other line moves), and a file of new bulletins."""
    records = synthetic_bulletins(BASE + NEW, seed=11)
    base, new = records[:BASE], records[BASE:]
    if change:
        for record in base[10 : 10 + CHANGED]:
            record["body"] += " Nội dung được cập nhật về cải cách hành chính."
    if remove:
        base = base[:-REMOVED]
    folder.mkdir(exist_ok=True)
    files = [write(folder / "base.jsonl", base)]
    if add:
        files.append(write(folder / "new.jsonl", new))
    return files


def snapshot(generation: Path) -> dict[str, tuple[int, str]]:
    """Every file of a generation: (inode, SHA-256 of its bytes)."""
    found = {}
    for root, _dirs, files in os.walk(generation):
        for name in files:
            path = Path(root) / name
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[str(path.relative_to(generation))] = (path.stat().st_ino, digest)
    return found


def results(searcher: Searcher, queries: list[str]) -> list[list[tuple[str, float]]]:
    return [
        [(hit.id, hit.score) for hit in searcher.search(query, per_page=100).hits]
        for query in queries
    ]


def every_hit(searcher: Searcher, query: str) -> set[str]:
    """The ids of every document ``query`` matches, page after page (pages are capped)."""
    found: set[str] = set()
    page = 1
    while True:
        answer = searcher.search(query, page=page, per_page=100)
        found |= {hit.id for hit in answer.hits}
        if not answer.hits or len(found) >= answer.total:
            assert len(found) == answer.total, query
            return found
        page += 1


def assert_same_results(
    got: list[list[tuple[str, float]]], expected: list[list[tuple[str, float]]]
):
    """The same ids in the same order, scores equal to the last bits a float64 sum's order
    can change (the fast path adds a document's fields in another order than Whoosh, and
    Whoosh in an order its segment's term counts set)."""
    assert [[doc for doc, _ in hits] for hits in got] == [
        [doc for doc, _ in hits] for hits in expected
    ]
    for mine, theirs in zip(got, expected, strict=True):
        assert [score for _, score in mine] == pytest.approx(
            [score for _, score in theirs], rel=1e-12
        )


@pytest.fixture
def updated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, dict[str, tuple[int, str]], Path]:
    """An index built from the base file, then updated with additions, changes and removals:
    (index folder, the first generation's files before the update, the input folder).

    The update grows this small index by a fifth, so its average lengths drift by more than
    the default tolerance; a wide one keeps the older weight parts in use, which also puts
    the searcher's widened pruning slack to a hard test.
    """
    monkeypatch.setattr(weights, "TOLERANCE", 0.5)
    build_index(inputs(tmp_path / "in", add=False, change=False, remove=False), tmp_path / "ix")
    before = snapshot(read_current(tmp_path / "ix").path)
    files = inputs(tmp_path / "in", add=True, change=True, remove=True)
    report = update_index(files, tmp_path / "ix")
    assert (report.added, report.updated, report.removed) == (NEW, CHANGED, REMOVED)
    assert report.unchanged == BASE - CHANGED - REMOVED
    return tmp_path / "ix", before, tmp_path / "in"


def test_update_hard_links_the_unchanged_files(
    updated: tuple[Path, dict[str, tuple[int, str]], Path],
) -> None:
    index_dir, before, _ = updated
    first, second = (index_dir / name for name in sorted(os.listdir(index_dir)) if "gen-" in name)
    after = snapshot(second)
    shared = {name for name in after if name in before and after[name][0] == before[name][0]}
    old_segments = {name for name in before if name.startswith("MAIN_") and "." in name}
    assert old_segments and old_segments <= shared  # the Whoosh segment files themselves
    side = {name for name in shared if name.startswith(store.SIDE_DIR + os.sep)}
    assert side and any(name.startswith("catalog" + os.sep) for name in shared)
    # What is not shared is what the update wrote: the new segment and its side files, the
    # new table of contents, the metadata and the input files' signatures.
    written = set(after) - shared
    assert "meta.json" in written and any(name.endswith(".toc") for name in written)
    rewritten = {
        "meta.json",
        "manifest.json",
        "MAIN_WRITELOCK",
        os.path.join("catalog", "inputs.json"),
    }
    # The language model is the sum of per-segment counts: the counts of the segment the
    # update deleted bulletins from are rewritten without them, and so is the sum.
    recounted = {name for name in written if Path(name).parts[0] == LM_DIR}
    assert {name for name in written if name in before} <= rewritten | recounted
    # Shared bytes are a large part of the new generation: the update is small.
    sizes = {name: (second / name).stat().st_size for name in after}
    assert sum(sizes[name] for name in written) < sum(sizes[name] for name in shared)
    # The previous generation, still kept for readers mid-switch, is byte for byte as it was.
    assert snapshot(first) == before


def test_update_equals_a_rebuild_and_the_fast_path_equals_whoosh(
    updated: tuple[Path, dict[str, tuple[int, str]], Path], tmp_path: Path
) -> None:
    index_dir, _, folder = updated
    build_index(sorted(folder.iterdir()), tmp_path / "rebuilt")
    with (
        Searcher(index_dir) as fast,
        Searcher(index_dir, fast=False) as plain,
        Searcher(tmp_path / "rebuilt") as rebuilt,
    ):
        assert fast._current().fast.weights is not None  # the older segment's are still used
        assert 0 < fast._current().fast.weight_error <= weights.TOLERANCE
        assert_same_answers(fast, plain, QUERIES)
        assert_same_results(results(fast, QUERIES), results(plain, QUERIES))
        assert fast.doc_count() == rebuilt.doc_count() == BASE - REMOVED + NEW
        # Whoosh counts the replaced and removed documents in its statistics until their
        # segment is merged, so scores differ from a rebuild's and a top page of a query that
        # matches more than a page may hold other documents at its edge; what matches is the
        # same, every page of it.
        for query in QUERIES:
            assert every_hit(fast, query) == every_hit(rebuilt, query), query


def test_an_update_that_only_adds_equals_a_rebuild_exactly(tmp_path: Path) -> None:
    build_index(inputs(tmp_path / "in", add=False, change=False, remove=False), tmp_path / "ix")
    files = inputs(tmp_path / "in", add=True, change=False, remove=False)
    update_index(files, tmp_path / "ix")
    build_index(files, tmp_path / "rebuilt")
    with (
        Searcher(tmp_path / "ix") as fast,
        Searcher(tmp_path / "ix", fast=False) as plain,
        Searcher(tmp_path / "rebuilt") as rebuilt,
        Searcher(tmp_path / "rebuilt", fast=False) as rebuilt_plain,
    ):
        expected = results(rebuilt_plain, QUERIES)
        assert_same_results(results(rebuilt, QUERIES), expected)
        # Whoosh on both: the same ranking, and the same scores but for the order of the
        # float64 sum: Whoosh's And and Or build their matcher trees by each clause's size in
        # the document's own segment, and the update's new bulletins have a segment of theirs.
        assert_same_results(results(plain, QUERIES), expected)
        assert_same_results(results(fast, QUERIES), expected)


def test_only_new_and_changed_bulletins_are_segmented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_index(inputs(tmp_path / "in", add=False, change=False, remove=False), tmp_path / "ix")
    segmented_ids: list[str] = []
    real = index.build.segmented

    def counting(items, jobs, options):  # type: ignore[no-untyped-def]
        for item, source_path in real(items, jobs, options):
            segmented_ids.append(item.id)
            yield item, source_path

    monkeypatch.setattr(index.build, "segmented", counting)
    files = inputs(tmp_path / "in", add=True, change=True, remove=True)
    report = update_index(files, tmp_path / "ix")
    assert len(segmented_ids) == report.added + report.updated == NEW + CHANGED
    read: list[str] = []
    real_read = index.documents.read_file
    monkeypatch.setattr(
        index.documents, "read_file", lambda path: read.append(path) or real_read(path)
    )
    again = update_index(files, tmp_path / "ix")  # nothing changed: nothing read or segmented
    assert (again.added, again.updated, again.removed) == (0, 0, 0)
    assert again.unchanged == BASE - REMOVED + NEW
    assert read == [] and len(segmented_ids) == NEW + CHANGED
    os.utime(files[1])  # touched: read again, and found unchanged by content
    touched = update_index(files, tmp_path / "ix")
    assert (touched.added, touched.updated, touched.unchanged) == (0, 0, BASE - REMOVED + NEW)
    assert [Path(path).name for path in read] == [files[1].name]


def test_weight_parts_are_rewritten_past_the_tolerance_and_stay_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_index(inputs(tmp_path / "in", add=False, change=False, remove=False), tmp_path / "ix")
    before = snapshot(read_current(tmp_path / "ix").path)
    monkeypatch.setattr(weights, "TOLERANCE", 0.0)  # any drift is too much
    update_index(inputs(tmp_path / "in", add=True, change=True, remove=True), tmp_path / "ix")
    after = snapshot(read_current(tmp_path / "ix").path)
    parts = [name for name in before if name.startswith(os.path.join(store.SIDE_DIR, "weights"))]
    assert parts and all(after[name][0] != before[name][0] for name in parts)  # rewritten
    segment = next(name for name in before if name.endswith(".seg"))
    assert after[segment][0] == before[segment][0]  # the segment itself is still shared
    with Searcher(tmp_path / "ix") as fast, Searcher(tmp_path / "ix", fast=False) as plain:
        assert fast._current().fast.weight_error == 0.0
        assert_same_results(results(fast, QUERIES), results(plain, QUERIES))
