"""The n-gram counts of the language model as sorted numpy arrays, their sums and their files.

Kept apart from counting text (:mod:`searcher.lm_text`) and from scoring (:mod:`searcher.lm`)
because both sides need it: the writer adds and subtracts counts per Whoosh segment, the
searcher memory-maps the summed arrays. Bigrams and trigrams are 64-bit keys combined from
their syllables' hashes (sorted, so lookups are ``searchsorted``); counts are exact, so sums
and differences give what a recount would.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Bump when what the folders hold or mean changes; other versions are ignored.
FORMAT_VERSION = 4  # 3: photo captions are counted too; 4: a delta beside the model
LM_DIR = "lm"
SEGMENTS = "segments"
#: Per segment, the counts of its bulletins deleted since the segment was counted.
REMOVED = "removed"
MODEL = "model"
#: What changed since ``model`` was summed (signed counts), added to it at lookup.
DELTA = "delta"
_META = "meta.json"
_MULTIPLIER = np.array([0x9E3779B97F4A7C15], dtype=np.uint64)


def syllable_hash(syllable: str) -> int:
    """Stable 64-bit hash of one canonical syllable."""
    return int.from_bytes(
        hashlib.blake2b(syllable.encode("utf-8"), digest_size=8).digest(), "little"
    )


def combine(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The key of an n-gram from its prefix's key and its last syllable's hash (uint64 arrays;
    array arithmetic wraps silently). Syllable hashes are uniform 64-bit values, so one
    multiply-add keeps distinct n-grams apart as well as a stronger mix, at a third of the
    cost in the decoder's inner loop."""
    return left * _MULTIPLIER + right


def summed_rows(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique keys with their summed count rows, rows of zeros dropped (a sort
    and a ``reduceat``: ``np.add.at`` is an order of magnitude slower on millions of keys)."""
    if keys.size == 0:
        return keys.astype(np.uint64), counts.reshape(0, *counts.shape[1:]).astype(np.int64)
    order = np.argsort(keys, kind="stable")  # timsort: merges the parts' sorted runs
    keys = keys[order]
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    total = np.add.reduceat(counts[order].astype(np.int64), starts, axis=0)
    keep = (total.reshape(starts.size, -1) != 0).any(axis=1)
    return keys[starts][keep], total[keep]


@dataclass
class Counts:
    """Exact n-gram counts: syllables with (all, Title, UPPER) counts, bigram keys with (all,
    Title Title) counts, trigram keys with counts."""

    syllables: list[str]
    unigrams: np.ndarray  # int64 (V, 3)
    bigram_keys: np.ndarray  # uint64, ascending
    bigrams: np.ndarray  # int64 (B, 2)
    trigram_keys: np.ndarray  # uint64, ascending
    trigrams: np.ndarray  # int64 (T,)

    @property
    def size(self) -> int:
        """Rows held: what a delta is weighed by against its model."""
        return len(self.syllables) + self.bigram_keys.size + self.trigram_keys.size

    @classmethod
    def empty(cls) -> Counts:
        nothing = np.zeros(0, np.uint64)
        rows = np.zeros((0, 3), np.int64)
        return cls([], rows, nothing, rows[:, :2], nothing, np.zeros(0, np.int64))

    @classmethod
    def summed(cls, parts: list[tuple[Counts, int]]) -> Counts:
        """Σ sign × counts over ``parts`` ((counts, +1 or -1) pairs)."""
        if not parts:
            return cls.empty()
        everyone = itertools.chain.from_iterable(counts.syllables for counts, _ in parts)
        index = {syllable: i for i, syllable in enumerate(dict.fromkeys(everyone))}
        total = np.zeros((len(index), 3), np.int64)
        for counts, sign in parts:
            rows = np.fromiter(map(index.__getitem__, counts.syllables), np.int64)
            total[rows] += sign * counts.unigrams  # a part lists each syllable once
        names = sorted(s for s, i in index.items() if total[i].any())
        return cls(
            names,
            total[[index[s] for s in names]].reshape(-1, 3),
            *summed_rows(
                np.concatenate([c.bigram_keys for c, _ in parts]),
                np.concatenate([s * c.bigrams for c, s in parts]),
            ),
            *summed_rows(
                np.concatenate([c.trigram_keys for c, _ in parts]),
                np.concatenate([s * c.trigrams for c, s in parts]),
            ),
        )

    def save(self, folder: Path, meta: dict[str, object]) -> None:
        """Write into a fresh folder, renamed into place: readers see all of it or none, and
        files shared by hard links with another generation are never written over."""
        staging = folder.parent / f".tmp-{folder.name}-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        encoded = [s.encode("utf-8") for s in self.syllables]
        offsets = np.zeros(len(encoded) + 1, np.int64)
        np.cumsum([len(s) for s in encoded], out=offsets[1:])
        (staging / "syllables.bin").write_bytes(b"".join(encoded))
        arrays = {
            "syllable_off": offsets,
            "syllable_hashes": np.array([syllable_hash(s) for s in self.syllables], np.uint64),
            "unigrams": self.unigrams,
            "bigram_keys": self.bigram_keys,
            "bigrams": self.bigrams,
            "trigram_keys": self.trigram_keys,
            "trigrams": self.trigrams,
        }
        for name, values in arrays.items():
            # Count tables column by column: the decoder reads one column at a time.
            np.save(staging / f"{name}.npy", np.asfortranarray(values))
        (staging / _META).write_text(json.dumps({"format": FORMAT_VERSION, **meta}), "utf-8")
        old = folder.parent / f".old-{folder.name}-{uuid.uuid4().hex[:8]}"
        if folder.exists():
            folder.rename(old)
        staging.rename(folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> Counts:
        """The counts in ``folder`` (memory-mapped), or OSError/ValueError when unreadable."""
        mode = "r" if mmap else None
        arrays = {
            name: np.load(folder / f"{name}.npy", mmap_mode=mode).view(np.ndarray)
            for name in ("syllable_off", "unigrams", "bigram_keys", "bigrams", "trigram_keys")
        }
        blob = (folder / "syllables.bin").read_bytes()
        offsets = arrays.pop("syllable_off").tolist()
        syllables = [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets)]
        trigrams = np.load(folder / "trigrams.npy", mmap_mode=mode).view(np.ndarray)
        return cls(syllables, trigrams=trigrams, **arrays)

    @staticmethod
    def load_hashes(folder: Path) -> np.ndarray:
        return np.load(folder / "syllable_hashes.npy", mmap_mode="r").view(np.ndarray)


def read_meta(folder: Path) -> dict | None:
    try:
        meta = json.loads((folder / _META).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return meta if meta.get("format") == FORMAT_VERSION else None


def _lookup(keys: np.ndarray, table: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The value of each key in the sorted ``table`` (0 for absent keys).

    The keys are searched in sorted order: numpy's binary search then starts each key from the
    previous one's place, so a query's few thousand keys touch far fewer pages of a table of
    millions (decoding at 95,000 bulletins about a quarter faster)."""
    if table.size == 0:
        return np.zeros(keys.shape, np.int64)
    flat = keys.ravel()
    order = np.argsort(flat)
    ordered = flat[order]
    where = np.searchsorted(table, ordered)
    hits = table.take(where, mode="clip") == ordered
    found = np.empty(flat.shape, np.int64)
    found[order] = np.where(hits, values.take(where, mode="clip"), 0)
    return found.reshape(keys.shape)


class LayeredCounts:
    """A generation's counts as the decoder sees them: the memory-mapped model plus the small
    delta an update writes beside it (:mod:`searcher.lm_write`).

    An update of fifty bulletins would otherwise rewrite the whole model (hundreds of MB at
    95,000 bulletins) for a change of a few thousand n-grams; instead the model stays shared
    with the previous generation and each lookup adds the delta's count. Syllables only the
    delta knows are appended after the model's, so the sums equal the counts of a rebuild.
    """

    def __init__(
        self, base: Counts, delta: Counts | None = None, hashes: np.ndarray | None = None
    ) -> None:
        self.base = base
        self.delta = delta if delta is not None and delta.size else None
        if hashes is None or hashes.size != len(base.syllables):
            hashes = np.array([syllable_hash(s) for s in base.syllables], dtype=np.uint64)
        self.syllables = base.syllables
        self.unigrams = base.unigrams
        self.hashes = hashes
        if self.delta is not None:
            self._add_unigrams(self.delta)

    def _add_unigrams(self, delta: Counts) -> None:
        ids = {syllable: i for i, syllable in enumerate(self.syllables)}
        extra = [syllable for syllable in delta.syllables if syllable not in ids]
        ids.update({syllable: len(self.syllables) + i for i, syllable in enumerate(extra)})
        unigrams = np.zeros((len(ids), 3), np.int64)
        unigrams[: len(self.syllables)] = self.unigrams
        rows = np.fromiter(map(ids.__getitem__, delta.syllables), np.int64, len(delta.syllables))
        unigrams[rows] += delta.unigrams
        self.syllables = [*self.syllables, *extra]
        self.unigrams = unigrams
        added = np.array([syllable_hash(s) for s in extra], dtype=np.uint64)
        self.hashes = np.concatenate([self.hashes, added])

    @property
    def has_bigrams(self) -> bool:
        return bool(self.base.bigram_keys.size or (self.delta and self.delta.bigram_keys.size))

    def bigram(self, keys: np.ndarray, column: int = 0) -> np.ndarray:
        """Count column ``column`` (0 all, 1 Title Title) of each bigram key (0 when unseen)."""
        found = _lookup(keys, self.base.bigram_keys, self.base.bigrams[:, column])
        if self.delta is not None:
            found = found + _lookup(keys, self.delta.bigram_keys, self.delta.bigrams[:, column])
        return found

    def trigram(self, keys: np.ndarray) -> np.ndarray:
        found = _lookup(keys, self.base.trigram_keys, self.base.trigrams)
        if self.delta is not None:
            found = found + _lookup(keys, self.delta.trigram_keys, self.delta.trigrams)
        return found

    def summed(self) -> Counts:
        """The counts as one table, as a rebuild would write them (tests, tools)."""
        parts = [(self.base, 1)] + ([(self.delta, 1)] if self.delta is not None else [])
        return Counts.summed(parts)
