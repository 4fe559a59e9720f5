"""Building and updating the index: atomic publish, updates by content hash, bad input, locks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from corpus import corpus_files
from index import NothingIndexedError, build_index, update_index
from searcher import IndexLockedError, Searcher
from searcher.storage import generation_names, writer_lock


def jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def bulletin(i: int, body: str = "") -> dict:
    return {
        "id": f"doc-{i}",
        "title": f"Bản tin số {i} về cải cách hành chính",
        "body": body or f"Ủy ban nhân dân xã tổ chức hội nghị lần {i}.",
    }


def test_shipped_corpus_indexes_all_five(corpus_index: Path) -> None:
    with Searcher(corpus_index) as s:
        assert s.doc_count() == 5
        assert s.doc("002_205483f94943f1e4").locality == "Huyện Tân Kỳ"


@pytest.mark.parametrize(
    "furniture",
    ["Xuất bản thông tin", "Chi tiết bài viết", "Có thể bạn quan tâm", "image advertisement"],
)
def test_portal_furniture_is_not_searchable(searcher: Searcher, furniture: str) -> None:
    results = searcher.search(f'"{furniture}"')
    assert results.total == 0


def test_mixed_folder_indexes_good_files_and_reports_bad_ones(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    jsonl(folder / "good.jsonl", [bulletin(1), bulletin(2)])
    (folder / "broken.jsonl").write_text(
        '{"id": "x", "title": "T", "body": "B"}\n{"id": \n', "utf-8"
    )
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 8)
    report = build_index([folder], tmp_path / "ix")
    assert report.indexed == 3  # two good lines and the good line of broken.jsonl
    reasons = {Path(s.source.split(":")[0]).name: s.reason for s in report.skipped}
    assert set(reasons) == {"broken.jsonl", "empty.txt", "binary.txt"}
    assert all(reason for reason in reasons.values())


def test_files_are_walked_like_the_readers_walk_them(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / ".hidden").mkdir(parents=True)
    good = jsonl(folder / "good.jsonl", [bulletin(1)])
    jsonl(folder / ".hidden" / "old.jsonl", [bulletin(2)])
    (folder / "notes.md").write_text("# not a bulletin", "utf-8")
    report = build_index([folder, good, tmp_path / "missing.jsonl"], tmp_path / "ix")
    assert report.indexed == 1
    # Each file once (no duplicate id from good.jsonl given twice); in a folder, files of an
    # unsupported kind and hidden ones are left out silently; a missing path is reported.
    assert [(Path(s.source).name, s.reason) for s in report.skipped] == [
        ("missing.jsonl", "no such file or directory")
    ]


def test_nothing_indexed_is_an_error_and_keeps_the_old_index(tmp_path: Path) -> None:
    build_index([jsonl(tmp_path / "a.jsonl", [bulletin(1)])], tmp_path / "ix")
    (tmp_path / "bad.txt").write_bytes(b"")
    with pytest.raises(NothingIndexedError) as caught:
        build_index([tmp_path / "bad.txt"], tmp_path / "ix")
    assert caught.value.report.skipped
    with Searcher(tmp_path / "ix") as s:
        assert s.doc("doc-1") is not None


def test_duplicate_ids_keep_the_first(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "a.jsonl", [bulletin(1), {**bulletin(1), "title": "Khác"}])
    report = build_index([path], tmp_path / "ix")
    assert report.indexed == 1
    assert "duplicate" in report.skipped[0].reason


def test_update_adds_changes_and_removes_by_content(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    jsonl(source / "a.jsonl", [bulletin(1), bulletin(2)])
    jsonl(source / "b.jsonl", [bulletin(3)])
    build_index([source], tmp_path / "ix")

    jsonl(source / "a.jsonl", [bulletin(1), bulletin(2, body="Nội dung mới về chuyển đổi số.")])
    (source / "b.jsonl").unlink()
    jsonl(source / "c.jsonl", [bulletin(4)])
    report = update_index([source], tmp_path / "ix")
    assert (report.added, report.updated, report.removed, report.unchanged) == (1, 1, 1, 1)
    with Searcher(tmp_path / "ix") as s:
        assert s.doc_count() == 3
        assert s.doc("doc-3") is None
        assert {h.id for h in s.search("chuyen doi so").hits} == {"doc-2"}


def test_update_leaves_bulletins_of_other_paths_alone(tmp_path: Path) -> None:
    first = jsonl(tmp_path / "a.jsonl", [bulletin(1)])
    second = jsonl(tmp_path / "b.jsonl", [bulletin(2)])
    build_index([first, second], tmp_path / "ix")
    report = update_index([first], tmp_path / "ix")
    assert report.removed == 0 and report.unchanged == 1
    with Searcher(tmp_path / "ix") as s:
        assert s.doc_count() == 2


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "a.jsonl", [bulletin(1)])
    with writer_lock(tmp_path / "ix"), pytest.raises(IndexLockedError, match="already"):
        build_index([path], tmp_path / "ix")


def test_only_recent_generations_are_kept(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "a.jsonl", [bulletin(1)])
    for _ in range(4):
        build_index([path], tmp_path / "ix")
    assert len(generation_names(tmp_path / "ix")) == 2


_SLOW_BUILD = textwrap.dedent(
    """
    import sys
    from index import build_index
    build_index([sys.argv[1]], sys.argv[2], jobs=1)
    """
)


@pytest.mark.parametrize("kill_after", [0.2, 1.0, 2.5])
def test_killed_rebuild_leaves_the_old_index_serving(tmp_path: Path, kill_after: float) -> None:
    index_dir = tmp_path / "ix"
    build_index(corpus_files(), index_dir)
    big = jsonl(
        tmp_path / "big.jsonl",
        [bulletin(i, body="Ủy ban nhân dân huyện họp bàn kế hoạch. " * 40) for i in range(3000)],
    )
    process = subprocess.Popen(
        [sys.executable, "-c", _SLOW_BUILD, str(big), str(index_dir)],
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    time.sleep(kill_after)
    process.send_signal(signal.SIGKILL)
    process.wait()
    with Searcher(index_dir) as s:
        count = s.doc_count()
        assert count in (5, 3000)  # the old index, or the new one if it was already published
        assert s.search("cải cách hành chính").total > 0
    # The next rebuild is not disturbed by what the killed one left behind.
    build_index(corpus_files(), index_dir)
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".tmp-")]
    with Searcher(index_dir) as s:
        assert s.doc_count() == 5
