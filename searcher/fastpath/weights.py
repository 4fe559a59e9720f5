"""Precomputed BM25F weights of every posting, as float32, for one generation's statistics.

Computing a posting's weight costs more than everything else a query does with it (seven
passes of float arithmetic), and a common word has a hundred thousand postings. The weights
depend on the generation's statistics (document count, average field lengths, each term's
document frequency over all segments), which change only when the indexer publishes a new
generation; so it computes them then, once, into ``fastpath/weights/``, recording the
statistics used. A searcher uses them only while the statistics it sees are the same.

float32 keeps them half the size of float64 and within 2**-24 of the exact value each; the
engine ranks with them and then recomputes the exact (float64, Whoosh's arithmetic) scores of
the few documents that can reach the page, so answers stay exact.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from whoosh.util.numeric import byte_to_length

from searcher.fastpath.store import FIELDS, SegmentFiles, side_dir

#: Bump when the files' meaning changes; other versions are ignored.
WEIGHTS_VERSION = 1
WEIGHTS_DIR = "weights"
#: The Searcher's BM25F parameters (searcher.searcher._weighting); checked again at open.
B, K1 = 0.75, 1.2
_BYTE_TO_LENGTH = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
_CHUNK = 1 << 22


@dataclass(frozen=True)
class Statistics:
    """Everything a posting's weight depends on besides the posting itself."""

    segments: tuple[str, ...]
    doc_count_all: int
    avg_lengths: dict[str, float]
    boosts: dict[str, float]
    B: float
    K1: float


def norms(segments: list[SegmentFiles], stats: Statistics, field: str) -> np.ndarray:
    """``K1 * ((1 - B) + B * fl / avgfl)`` per document: Whoosh's order of operations."""
    lengths = np.concatenate([s.fields[field].lengths for s in segments])
    fl = _BYTE_TO_LENGTH[lengths]
    return stats.K1 * ((1 - stats.B) + stats.B * fl / stats.avg_lengths[field])


def global_df(segments: list[SegmentFiles], field: str) -> list[np.ndarray]:
    """Per segment, each term's postings over all segments (Whoosh's doc_frequency)."""
    counts = [np.diff(s.fields[field].term_ptr) for s in segments]
    if len(segments) == 1:
        return counts
    totals = [c.copy() for c in counts]
    for i, mine in enumerate(segments):
        files = mine.fields[field]
        order = files.hash_term  # term ordinals in hash order
        for j, other in enumerate(segments):
            if i == j:
                continue
            theirs = other.fields[field]
            where = np.searchsorted(theirs.hashes, files.hashes)
            where[where == theirs.hashes.size] = 0
            for k in np.flatnonzero(theirs.hashes[where] == files.hashes).tolist():
                term = files.term(int(order[k]))
                ordinal = theirs.find(term)
                if ordinal is not None:
                    totals[i][order[k]] += int(counts[j][ordinal])
    return totals


def compute(segments: list[SegmentFiles], stats: Statistics) -> list[dict[str, np.ndarray]]:
    """float32 weights of every posting, per segment and field, in posting order."""
    result: list[dict[str, np.ndarray]] = [{} for _ in segments]
    offsets = np.cumsum([0] + [s.doc_count for s in segments])
    for field in FIELDS:
        norm = norms(segments, stats, field)
        dfs = global_df(segments, field)
        boost = stats.boosts[field]
        for index, segment in enumerate(segments):
            files = segment.fields[field]
            idf = np.array(
                [math.log(stats.doc_count_all / (df + 1)) + 1 for df in dfs[index].tolist()]
            )
            out = np.empty(files.docs.size, dtype=np.float32)
            term_of = np.repeat(np.arange(idf.size), np.diff(files.term_ptr))
            for start in range(0, files.docs.size, _CHUNK):
                stop = min(start + _CHUNK, files.docs.size)
                tf = files.freqs[start:stop].astype(np.float64)
                tf *= boost
                docs = files.docs[start:stop].astype(np.int64) + offsets[index]
                weights = idf[term_of[start:stop]] * ((tf * (stats.K1 + 1)) / (tf + norm[docs]))
                out[start:stop] = weights
            result[index][field] = out
    return result


def _folder(generation_path: Path) -> Path:
    return side_dir(generation_path) / WEIGHTS_DIR


def write(generation_path: Path, segments: list[SegmentFiles], stats: Statistics) -> None:
    """Compute and store the weights of a generation (replacing any others)."""
    root = side_dir(generation_path)
    staging = root / f".tmp-weights-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    for segment, fields in zip(segments, compute(segments, stats), strict=True):
        for field, weights in fields.items():
            np.save(staging / f"{segment.segment_id}.{field}.npy", weights)
    meta = {"version": WEIGHTS_VERSION, **asdict(stats)}
    (staging / "stats.json").write_text(json.dumps(meta), encoding="utf-8")
    final = _folder(generation_path)
    old = root / f".old-weights-{uuid.uuid4().hex[:8]}"
    if final.exists():
        final.rename(old)
    os.rename(staging, final)
    shutil.rmtree(old, ignore_errors=True)


def load(
    generation_path: Path, segments: list[SegmentFiles], stats: Statistics
) -> list[dict[str, np.ndarray]] | None:
    """The stored weights if they were computed for exactly these statistics, else None."""
    folder = _folder(generation_path)
    try:
        meta = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.pop("version", None) != WEIGHTS_VERSION:
        return None
    meta["segments"] = tuple(meta.get("segments", ()))
    if meta != asdict(stats) | {"segments": stats.segments}:
        return None
    try:
        loaded = []
        for segment in segments:
            fields = {}
            for field in FIELDS:
                path = folder / f"{segment.segment_id}.{field}.npy"
                weights = np.load(path, mmap_mode="r").view(np.ndarray)
                if weights.shape != segment.fields[field].docs.shape:
                    return None
                fields[field] = weights
            loaded.append(fields)
    except (OSError, ValueError):
        return None
    return loaded
