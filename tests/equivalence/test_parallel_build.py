"""Rebuilds on several cores and the rebuild's segment writer: same index, same answers."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.writing import SegmentWriter

from index import build_index, update_index
from index.documents import (
    BuildOptions,
    attach_segmentations,
    segmenter_texts,
    whoosh_fields,
)
from index.readers import read_file
from index.writer import RebuildWriter, TermPool
from searcher import Searcher
from searcher.analysis import default_segmenter
from searcher.errors import BantinError
from searcher.fastpath.store import write_side_files
from searcher.schema import build_schema
from searcher.storage import read_current

TEXT = (
    "Ủy ban nhân dân huyện tổ chức hội nghị sơ kết công tác cải cách hành chính năm 2022 "
    "theo Quyết định 1822/QĐ-UBND ngày 05/7/2022 của TP.HCM về chuyển đổi số và xây dựng "
    "nông thôn mới tại các xã hòa bình thủy lợi khỏe mạnh Đắk Lắk, bạn bán bàn ban"
)  # the last words fold to one term
WORDS = TEXT.split(" ")


def bulletins(count: int) -> list[dict]:
    """Varied bulletins: every one has its own mix of words, so postings differ per term."""
    records = []
    for i in range(count):
        body = " ".join(WORDS[(i * k) % len(WORDS)] for k in range(1, 60 + i % 17))
        title = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(6))
        records.append({"id": f"b-{i}", "title": title, "body": f"{body}. Số {i}."})
    return records


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def index_contents(folder: Path) -> dict:
    """Everything a reader can see: stored fields, lengths, every posting with its stats."""
    ix = whoosh_index.open_dir(str(folder))
    with ix.reader() as reader:
        contents: dict = {"stored": list(reader.all_stored_fields())}
        for field in reader.indexed_field_names():
            contents[("lengths", field)] = [
                reader.doc_field_length(n, field) for n in range(reader.doc_count_all())
            ]
            for term, info in reader.iter_field(field):
                matcher = reader.postings(field, term)
                postings = []
                while matcher.is_active():
                    postings.append((matcher.id(), matcher.weight(), matcher.value()))
                    matcher.next()
                stats = (info.weight(), info.doc_frequency(), info.min_length(), info.max_length())
                contents[(field, term)] = (stats, info.max_weight(), postings)
    ix.close()
    return contents


def write_segment(folder: Path, writer_class: type, source: Path, **options: object) -> dict:
    folder.mkdir()
    ix = whoosh_index.create_in(str(folder), build_schema())
    writer = writer_class(ix, **options)
    batch = [(bulletin, str(source)) for bulletin in read_file(source)]
    segmentations = default_segmenter().segment_many(segmenter_texts(batch))
    for item, source_path in attach_segmentations(batch, segmentations):
        writer.add_document(**whoosh_fields(item, source_path))
    spilled = len(writer.pool.runs)
    writer.commit()
    ix.close()
    return {"spilled": spilled, "contents": index_contents(folder)}


@pytest.mark.parametrize(("limitmb", "blocklimit"), [(256, 128), (0, 128), (256, 4)])
def test_rebuild_writer_writes_what_whoosh_writes(
    tmp_path: Path, limitmb: int, blocklimit: int
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", bulletins(40))
    # limitmb=0 spills a run per field of each bulletin, and merging 3 runs at a time merges
    # runs too; blocks of 4 postings give common terms many blocks.
    options = {"limitmb": limitmb, "max_open_runs": 3}
    codec = W3Codec(blocklimit=blocklimit)
    whoosh = write_segment(tmp_path / "whoosh", SegmentWriter, source, limitmb=256, codec=codec)
    ours = write_segment(tmp_path / "ours", RebuildWriter, source, **options, codec=codec)
    assert (ours["spilled"] > 3) == (limitmb == 0)
    assert ours["contents"] == whoosh["contents"]


def test_term_pool_needs_document_order(tmp_path: Path) -> None:
    pool = TermPool(None, limitmb=1)
    pool.add(("body", b"x", 5, 1.0, b""))
    with pytest.raises(ValueError, match="document order"):
        pool.add(("body", b"y", 4, 1.0, b""))


def test_parallel_rebuild_answers_like_a_serial_one(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", bulletins(30))
    options = BuildOptions(batch_size=4)  # batches for both workers
    serial = build_index([source], tmp_path / "serial", jobs=1, options=options)
    seen: list[int] = []
    parallel = build_index(
        [source], tmp_path / "parallel", jobs=2, progress=seen.append, options=options
    )
    assert serial.indexed == parallel.indexed == sum(seen) == 30
    ix = whoosh_index.open_dir(str(read_current(tmp_path / "parallel").path))
    assert len(ix._segments()) == 2
    ix.close()
    assert_same_answers(tmp_path / "serial", tmp_path / "parallel", 30)


def assert_same_answers(one: Path, two: Path, count: int) -> None:
    """Both indexes hold ``count`` bulletins and answer queries with the same hits and scores."""
    with Searcher(one) as first_searcher, Searcher(two) as second_searcher:
        assert first_searcher.doc_count() == second_searcher.doc_count() == count
        for query in ("cai cach hanh chinh", "thủy lợi", '"chuyển đổi số"', "1822/QĐ-UBND"):
            first = first_searcher.search(query, per_page=100)
            second = second_searcher.search(query, per_page=100)
            assert first.total == second.total > 0
            assert sorted((h.id, round(h.score, 6)) for h in first.hits) == sorted(
                (h.id, round(h.score, 6)) for h in second.hits
            )


def test_a_dead_worker_fails_the_build_and_keeps_the_old_index(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", bulletins(30))
    index_dir = tmp_path / "ix"
    build_index([write_jsonl(tmp_path / "old.jsonl", bulletins(2))], index_dir)
    live = read_current(index_dir).name

    def kill_a_worker(_count: int) -> None:
        for child in multiprocessing.active_children():
            if child.name.startswith("bantin-index"):
                os.kill(child.pid, signal.SIGKILL)
                return

    with pytest.raises(BantinError, match="worker"):
        build_index(
            [source],
            index_dir,
            jobs=2,
            progress=kill_a_worker,
            options=BuildOptions(batch_size=2),
        )
    assert read_current(index_dir).name == live
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("bantin")]
    assert not [e for e in index_dir.iterdir() if e.name.startswith(".tmp-")]
    with Searcher(index_dir) as s:
        assert s.doc_count() == 2


# --- segments closed at a memory budget, and their fast-path side files ---------------------


def side_files(generation: Path) -> dict[str, bytes]:
    folder = generation / "fastpath"
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def decoded_side_files(generation: Path, scratch: Path) -> dict[str, bytes]:
    """The side files made the other way: decoded from the Whoosh segments on disk."""
    shutil.copytree(generation, scratch)
    shutil.rmtree(scratch / "fastpath")
    assert write_side_files(scratch, jobs=1) > 0
    return side_files(scratch)


@pytest.mark.parametrize("jobs", [1, 2])
def test_segments_close_at_the_budget_with_their_side_files(tmp_path: Path, jobs: int) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", bulletins(40))
    one = build_index([source], tmp_path / "one")
    # Batches for both workers; a budget of a few bulletins' postings.
    options = BuildOptions(batch_size=4, segment_mb=0.05)
    many = build_index([source], tmp_path / "many", jobs=jobs, options=options)
    generation = read_current(tmp_path / "many").path
    ix = whoosh_index.open_dir(str(generation))
    segments = [segment.segment_id() for segment in ix._segments()]
    ix.close()
    assert len(segments) > 3 * jobs
    written = side_files(generation)
    assert {name.split("/")[0] for name in written} == {*segments, "weights", "pages"}
    assert {name.split("/")[1] for name in written if name.startswith("pages/")} == {*segments}
    assert written == decoded_side_files(generation, tmp_path / "decoded")
    assert one.indexed == many.indexed == 40
    assert_same_answers(tmp_path / "one", tmp_path / "many", 40)


def test_side_files_after_an_update_equal_decoded_ones(tmp_path: Path) -> None:
    records = bulletins(30)
    source = write_jsonl(tmp_path / "in.jsonl", records)
    build_index([source], tmp_path / "ix", options=BuildOptions(segment_mb=0.1))
    records[3]["body"] += " Bổ sung thủy lợi."
    write_jsonl(source, [*records[:20], *bulletins(35)[30:]])
    report = update_index([source], tmp_path / "ix")
    assert (report.added, report.updated, report.removed) == (5, 1, 10)
    generation = read_current(tmp_path / "ix").path
    assert side_files(generation) == decoded_side_files(generation, tmp_path / "decoded")
