"""Side files of the fast path: one folder per Whoosh segment, beside the segment, versioned.

``<generation>/fastpath/<segment id>/`` holds, for each text field, the segment's postings as
flat arrays (see :class:`searcher.fastpath.decode.FieldPostings`) plus a hash table for term
lookup, and ``meta.json`` with :data:`FORMAT_VERSION`; ``<generation>/fastpath/weights/`` holds,
per segment, every posting's precomputed weight part (:mod:`~searcher.fastpath.weights`) and
the average lengths it was computed for; ``<generation>/fastpath/pages/`` the stored fields of
a page's hits (:mod:`~searcher.fastpath.pages`). A segment never changes once written (Whoosh
records deletions in the table of contents), so its files stay valid for as long as it lives:
an update shares them with the previous generation (hard links), adds files for new or merged
segments, rewrites a segment's weight parts only when the average lengths drift too far, and
drops the files of vanished segments. Files are replaced by renaming, never written into.

Folders are written under a temporary name and renamed into place, so a reader sees a whole
folder or none. Anything missing, unreadable or of another version makes the searcher serve
that generation through plain Whoosh, never wrong answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from searcher.fastpath import weights
from searcher.fastpath.decode import FieldPostings, UnsupportedSegment, decode_field
from searcher.fastpath.pages import PAGES_DIR, page_folders
from searcher.fastpath.passages import passage_folders, passages_dir
from searcher.fastpath.phrases import acronym_phrases, phrase_docs_in
from searcher.fastpath.scoring import K1, B, Statistics, collection_statistics
from searcher.fastpath.segment_files import write_segment_folders
from searcher.lm_write import write_language_model
from searcher.schema import TEXT_FIELDS, folded_name

#: Bump whenever what the folders hold or mean changes; other versions are ignored.
FORMAT_VERSION = 2
#: Bump when the weight files' meaning changes; other versions are ignored.
WEIGHTS_VERSION = 2
SIDE_DIR = "fastpath"
META = "meta.json"
WEIGHTS_DIR = "weights"
#: Fields with postings in the side files: each text field and its folded companion.
FIELDS = tuple(name for field in TEXT_FIELDS for name in (field, folded_name(field)))
#: Segments with fewer documents than this are decoded in the writing process itself.
_PARALLEL_FROM = 5_000

_ARRAYS = ("hashes", "hash_term", "term_off", "term_ptr", "docs", "freqs", "pos_ptr")
_ARRAYS += ("positions", "lengths")


def term_hash(term: bytes) -> int:
    """Stable 64-bit hash of a term's UTF-8 bytes (the lookup key of the side files)."""
    return int.from_bytes(hashlib.blake2b(term, digest_size=8).digest(), "little")


@dataclass
class FieldFiles:
    """One field of one segment, memory-mapped from its side files."""

    hashes: np.ndarray  # uint64, ascending
    hash_term: np.ndarray  # int32: term ordinal of each hash
    terms: bytes  # UTF-8 terms, back to back, in term order
    term_off: np.ndarray  # int64: byte offsets into ``terms``
    term_ptr: np.ndarray  # int64: posting range of each term
    docs: np.ndarray  # int32, segment-local
    freqs: np.ndarray  # uint16 / uint32
    pos_ptr: np.ndarray  # int64: position range of each term
    positions: np.ndarray  # uint16 / uint32
    lengths: np.ndarray  # uint8 per document (Whoosh's length byte)
    #: Documents of the acronym table's phrases, found when the files were written.
    phrases: dict[tuple[str, ...], np.ndarray] = field(default_factory=dict)

    def find(self, term: str) -> int | None:
        """The ordinal of ``term`` in this field, or None."""
        raw = term.encode("utf-8")
        key = np.uint64(term_hash(raw))
        i = int(np.searchsorted(self.hashes, key))
        while i < self.hashes.size and self.hashes[i] == key:
            ordinal = int(self.hash_term[i])
            if self.terms[self.term_off[ordinal] : self.term_off[ordinal + 1]] == raw:
                return ordinal
            i += 1
        return None

    def term(self, ordinal: int) -> str:
        return self.terms[self.term_off[ordinal] : self.term_off[ordinal + 1]].decode("utf-8")


@dataclass
class SegmentFiles:
    """All fields of one segment."""

    segment_id: str
    doc_count: int
    fields: dict[str, FieldFiles]
    nbytes: int


def side_dir(generation_path: Path) -> Path:
    return Path(generation_path) / SIDE_DIR


def _weights_dir(generation_path: Path) -> Path:
    return side_dir(generation_path) / WEIGHTS_DIR


# --- writing --------------------------------------------------------------------------------


def write_side_files(generation_path: str | os.PathLike[str], jobs: int | None = None) -> int:
    """Make the fast-path side files of a generation complete; returns the segments written.

    Called on a finished (not yet live) generation by the indexer, and usable on an existing
    generation to add side files it lacks. Segments that already have valid folders are kept;
    folders of segments no longer in the index are removed.
    """
    from whoosh import index as whoosh_index

    generation_path = Path(generation_path)
    root = side_dir(generation_path)
    root.mkdir(exist_ok=True)
    ix = whoosh_index.open_dir(str(generation_path))
    try:
        with ix.reader() as reader:
            leaves = [reader] if reader.is_atomic() else [leaf for leaf, _ in reader.leaf_readers()]
            wanted = {leaf.segment().segment_id(): leaf.doc_count_all() for leaf in leaves}
    finally:
        ix.close()
    for entry in root.iterdir():
        if entry.name in (WEIGHTS_DIR, PAGES_DIR):
            continue  # rewritten below when the statistics changed; pages: below
        if entry.name not in wanted or not _valid(entry, wanted[entry.name]):
            shutil.rmtree(entry, ignore_errors=True)
    missing = [sid for sid in wanted if not (root / sid).is_dir()]
    tasks = [(str(generation_path), sid, name) for sid in missing for name in FIELDS]
    workers = max(1, min(jobs or os.cpu_count() or 1, len(tasks)))
    big = sum(wanted[sid] for sid in missing) >= _PARALLEL_FROM
    if workers > 1 and big:
        context = get_context("forkserver")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            list(pool.map(_write_field_task, tasks))
    else:
        for task in tasks:
            _write_field_task(task)
    for sid in missing:
        _seal(root, sid, wanted[sid])
    _write_weights(generation_path, list(wanted.items()))
    # Passages and page files come from the same stored records: one read of each segment.
    write_segment_folders(generation_path, [passage_folders(generation_path), page_folders(root)])
    return len(missing)


def _write_weights(generation_path: Path, segments: list[tuple[str, int]]) -> None:
    """Store the weight parts of segments that lack them or whose stored ones were computed
    for average lengths that have drifted too far; drop those of vanished segments.

    Each segment's files are written under a temporary name and renamed into place: a file
    shared with another generation (a hard link) is replaced, never written into.
    """
    from whoosh import index as whoosh_index

    ix = whoosh_index.open_dir(str(generation_path))
    try:
        with ix.searcher() as searcher:
            ids = tuple(segment_id for segment_id, _ in segments)
            stats = collection_statistics(searcher, ids, FIELDS, B, K1)
    finally:
        ix.close()
    folder = _weights_dir(generation_path)
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {segment_id for segment_id, _ in segments}
    for entry in folder.iterdir():
        if entry.name.split(".", 1)[0] not in wanted:
            entry.unlink()
    stale = [
        (segment_id, doc_count)
        for segment_id, doc_count in segments
        if _weights_drift(folder, segment_id, stats) is None
    ]
    if not stale:
        return
    loaded = load_segments(generation_path, stale)
    if loaded is None:
        raise UnsupportedSegment("side files unreadable right after writing them")
    for segment in loaded:
        write_segment_weights(generation_path, segment, weights.compute(segment, stats), stats)


def write_segment_weights(
    generation_path: Path, segment: SegmentFiles, parts: dict[str, np.ndarray], stats: Statistics
) -> None:
    """Store one segment's weight parts (see :mod:`~searcher.fastpath.weights`) with the
    statistics they were computed for, replacing any others."""
    folder = _weights_dir(generation_path)
    folder.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    staged: list[tuple[Path, Path]] = []
    for name, values in parts.items():
        temporary = folder / f".tmp-{token}.{name}.npy"
        np.save(temporary, values)
        staged.append((temporary, folder / f"{segment.segment_id}.{name}.npy"))
    meta = {
        "version": WEIGHTS_VERSION,
        "doc_count": segment.doc_count,
        "avg_lengths": stats.avg_lengths,
        "boosts": stats.boosts,
        "B": stats.B,
        "K1": stats.K1,
    }
    temporary = folder / f".tmp-{token}.json"
    temporary.write_text(json.dumps(meta), encoding="utf-8")
    # The metadata last: until it is in place, a reader finds old parts with old metadata
    # (or none), never new parts described as old ones.
    staged.append((temporary, folder / f"{segment.segment_id}.json"))
    for source, target in staged:
        os.replace(source, target)


def _weights_drift(folder: Path, segment_id: str, stats: Statistics) -> float | None:
    """How far the stored parts of a segment may be from those for ``stats`` (relative), or
    None when they are absent, of another version or parameters, or beyond the tolerance."""
    try:
        meta = json.loads((folder / f"{segment_id}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        meta.get("version") != WEIGHTS_VERSION
        or meta.get("boosts") != stats.boosts
        or meta.get("B") != stats.B
        or meta.get("K1") != stats.K1
        or set(meta.get("avg_lengths", ())) != set(stats.avg_lengths)
    ):
        return None
    error = weights.drift(meta["avg_lengths"], stats.avg_lengths)
    return error if error <= weights.TOLERANCE else None


def prepare_fast_path(generation_path: str | os.PathLike[str]) -> str | None:
    """Write a finished generation's side files before it goes live; never fails the build.

    The fast path is an accelerator: if its files cannot be written (an unexpected segment
    layout, a full disk), the generation is published without them and served by plain
    Whoosh. The language model of the suggestions (:mod:`searcher.lm_write`) is written here too,
    as optional. Returns why a file is missing, or None when all are complete.
    """
    model_failure = write_language_model(generation_path)
    try:
        write_side_files(generation_path)
    except Exception as error:  # any failure leaves the plain path, never a broken index
        shutil.rmtree(side_dir(Path(generation_path)), ignore_errors=True)
        shutil.rmtree(passages_dir(Path(generation_path)), ignore_errors=True)
        return f"fast-path side files not written ({type(error).__name__}: {error})"
    return model_failure


def _staging(root: Path, segment_id: str) -> Path:
    return root / f".tmp-{segment_id}"


def _write_field_task(task: tuple[str, str, str]) -> None:
    """Decode one field of one segment and write its arrays (runs in a worker process)."""
    generation_path, segment_id, fieldname = task
    from whoosh import index as whoosh_index

    ix = whoosh_index.open_dir(generation_path)
    try:
        with ix.reader() as reader:
            leaves = [reader] if reader.is_atomic() else [leaf for leaf, _ in reader.leaf_readers()]
            leaf = next(r for r in leaves if r.segment().segment_id() == segment_id)
            postings = decode_field(leaf, fieldname)
    finally:
        ix.close()
    write_segment_field(generation_path, segment_id, fieldname, postings)


def write_segment_field(
    generation_path: str | os.PathLike[str],
    segment_id: str,
    fieldname: str,
    postings: FieldPostings,
) -> None:
    """Write one field of a segment's side files into its staging folder.

    The indexer calls this with the postings it has just written (no decoding them back), then
    :func:`seal_segment` once every field of :data:`FIELDS` is there.
    """
    staging = _staging(side_dir(Path(generation_path)), segment_id)
    staging.mkdir(parents=True, exist_ok=True)
    _write_field(staging, fieldname, postings)


def seal_segment(generation_path: str | os.PathLike[str], segment_id: str, doc_count: int) -> None:
    """Put a segment's staged side files in place (see :func:`write_segment_field`)."""
    _seal(side_dir(Path(generation_path)), segment_id, doc_count)


def _write_field(folder: Path, fieldname: str, postings: FieldPostings) -> None:
    encoded = [term.encode("utf-8") for term in postings.terms]
    if any(b"\0" in term for term in encoded):
        raise UnsupportedSegment("a term holds a NUL byte")
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(term) for term in encoded], out=offsets[1:])
    hashes = np.fromiter((term_hash(term) for term in encoded), dtype=np.uint64, count=len(encoded))
    order = np.argsort(hashes, kind="stable")
    arrays = {
        "hashes": hashes[order],
        "hash_term": order.astype(np.int32),
        "term_off": offsets,
        "term_ptr": postings.term_ptr,
        "docs": postings.docs,
        "freqs": postings.freqs,
        "pos_ptr": postings.pos_ptr,
        "positions": postings.positions,
        "lengths": postings.length_bytes,
    }
    terms = b"".join(encoded)
    files = FieldFiles(terms=terms, **arrays)
    folded = fieldname.endswith("_folded")
    keys: list[str] = []
    found: list[np.ndarray] = []
    for accented, folded_words in acronym_phrases():
        words = folded_words if folded else accented
        keys.append(" ".join(words))
        found.append(phrase_docs_in(files, words).astype(np.int32))
    phrase_ptr = np.zeros(len(found) + 1, dtype=np.int64)
    np.cumsum([f.size for f in found], out=phrase_ptr[1:])
    arrays["phrase_ptr"] = phrase_ptr
    arrays["phrase_docs"] = np.concatenate(found) if found else np.zeros(0, np.int32)
    for name, values in arrays.items():
        np.save(folder / f"{fieldname}.{name}.npy", np.ascontiguousarray(values))
    (folder / f"{fieldname}.terms").write_bytes(terms)
    (folder / f"{fieldname}.phrases").write_text(json.dumps(keys, ensure_ascii=False), "utf-8")


def _seal(root: Path, segment_id: str, doc_count: int) -> None:
    staging = _staging(root, segment_id)
    meta = {"format": FORMAT_VERSION, "segment": segment_id, "doc_count": doc_count}
    meta["fields"] = list(FIELDS)
    (staging / META).write_text(json.dumps(meta), encoding="utf-8")
    final = root / segment_id
    temporary = root / f".old-{uuid.uuid4().hex[:8]}"
    if final.exists():
        final.rename(temporary)
    staging.rename(final)
    shutil.rmtree(temporary, ignore_errors=True)


# --- reading --------------------------------------------------------------------------------


def _meta(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _valid(folder: Path, doc_count: int) -> bool:
    meta = _meta(folder)
    return (
        meta is not None
        and meta.get("format") == FORMAT_VERSION
        and meta.get("doc_count") == doc_count
        and meta.get("fields") == list(FIELDS)
    )


def load_segments(
    generation_path: Path, segments: Iterable[tuple[str, int]]
) -> list[SegmentFiles] | None:
    """Memory-map the side files of ``segments`` ((id, doc count) pairs), or None if any is
    missing, stale or unreadable."""
    root = side_dir(generation_path)
    loaded: list[SegmentFiles] = []
    for segment_id, doc_count in segments:
        folder = root / segment_id
        if not _valid(folder, doc_count):
            return None
        try:
            fields: dict[str, FieldFiles] = {}
            nbytes = 0
            for name in FIELDS:
                # Plain ndarray views of the maps: slicing a np.memmap is several times slower.
                arrays = {
                    key: np.load(folder / f"{name}.{key}.npy", mmap_mode="r").view(np.ndarray)
                    for key in (*_ARRAYS, "phrase_ptr", "phrase_docs")
                }
                terms = (folder / f"{name}.terms").read_bytes()
                nbytes += sum(a.nbytes for a in arrays.values()) + len(terms)
                if arrays["lengths"].size != doc_count:
                    return None
                keys = json.loads((folder / f"{name}.phrases").read_text("utf-8"))
                ptr, docs = arrays.pop("phrase_ptr"), arrays.pop("phrase_docs")
                phrases = {
                    tuple(key.split(" ")): docs[ptr[i] : ptr[i + 1]] for i, key in enumerate(keys)
                }
                fields[name] = FieldFiles(terms=terms, phrases=phrases, **arrays)
        except (OSError, ValueError):
            return None
        loaded.append(SegmentFiles(segment_id, doc_count, fields, nbytes))
    return loaded


def load_weights(
    generation_path: Path, segments: list[SegmentFiles], stats: Statistics
) -> tuple[list[dict[str, np.ndarray]], float] | None:
    """The stored weight parts of ``segments`` with the largest relative error they may have
    for ``stats`` (see :func:`~searcher.fastpath.weights.drift`), or None when any segment's
    are missing, unreadable, or computed for other parameters or too different averages."""
    folder = _weights_dir(generation_path)
    error = 0.0
    try:
        loaded = []
        for segment in segments:
            drift = _weights_drift(folder, segment.segment_id, stats)
            if drift is None:
                return None
            error = max(error, drift)
            fields = {}
            for name in FIELDS:
                path = folder / f"{segment.segment_id}.{name}.npy"
                values = np.load(path, mmap_mode="r").view(np.ndarray)
                if values.shape != segment.fields[name].docs.shape:
                    return None
                fields[name] = values
            loaded.append(fields)
    except (OSError, ValueError):
        return None
    return loaded, error
