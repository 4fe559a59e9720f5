"""A syllable n-gram model of the indexed text, written beside each generation.

Accent restoration needs to know which accented syllables follow which: "hoi nghi so ket" is
"hội nghị sơ kết" because "sơ kết" follows "hội nghị" in the bulletins, not "số kết". At index
time every title and body is cut at punctuation into runs of syllables (lower-cased, the tone
placed as :func:`searcher.analysis.canonical_syllable` places it, so old and new placement
agree), and unigram, bigram and trigram counts are kept, with how often each syllable (and
pair) was written Capitalised or in CAPITALS, so a suggestion keeps "Phan Văn Giáp".

Layout: ``<generation>/lm/segments/<segment id>/`` holds the counts of one Whoosh segment's live
bulletins and ``<generation>/lm/model/`` their sum, which the searcher memory-maps. Bigrams and
trigrams are 64-bit hashes of their syllables (sorted, so lookups are ``searchsorted``); counts
are exact, so an update gives the model a rebuild would. A segment never changes once written;
when an update deletes bulletins from it, their counts are subtracted (recounted from their
stored text, which Whoosh keeps until the segment is merged away); a segment made by an update
or a merge is counted from its own bulletins. The model is the sum of the segment counts: an
update recounts only new bulletins and deleted ones, then adds arrays.

Scoring is stupid backoff (Brants et al. 2007): the relative frequency of the longest seen
n-gram, times :data:`BACKOFF` per order backed off.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import math
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from searcher.analysis import canonical_syllable, fold
from searcher.suggest import one_edit

#: Bump when what the folders hold or mean changes; other versions are ignored.
FORMAT_VERSION = 2
LM_DIR = "lm"
_SEGMENTS = "segments"
_MODEL = "model"
_META = "meta.json"
#: Stupid backoff's factor per order backed off.
BACKOFF = 0.4
#: "backoff" (stupid backoff) or "interpolated" (Jelinek–Mercer, weights MIX).
SMOOTHING = "backoff"
#: Unigram, bigram and trigram weights of the interpolated model.
MIX = (0.1, 0.3, 0.6)
#: Accented forms considered per typed syllable, most frequent first.
FORMS_PER_SYLLABLE = 12
#: Paths kept per step of the beam search.
BEAM = 16
#: A restoration is confident when every syllable's choice beats the best path that chose
#: otherwise by this much (natural log: the chosen reading is at least 20 times likelier).
CONFIDENT_MARGIN = math.log(20.0)
#: Readings kept per model (a search decodes its query twice: suggestion, highlights).
DECODED_CACHE = 64
#: Typed syllables whose candidates are kept per model.
CHOICE_CACHE = 20_000
#: Cost of one edit when correcting a misspelt syllable (natural log of probability).
EDIT_COST = 7.0
#: The same for a syllable the index knows: it was probably typed as meant ("chin" may be
#: "chín"), so only a much likelier reading rewrites it ("hanh chin" → "hành chính").
EDIT_COST_KNOWN = 12.0
#: Completion looks for a next syllable among this many most frequent ones.
COMPLETION_FOLLOWERS = 3000
_BREAK = re.compile(r"[.!?;:\n\"“”()\[\]…–—\-]+")
_WORD = re.compile(r"[^\W\d_]+")
_MASK = (1 << 64) - 1
_MULTIPLIER = np.array([0x9E3779B97F4A7C15], dtype=np.uint64)
_LOWER, _TITLE, _UPPER = 0, 1, 2


def syllable_hash(syllable: str) -> int:
    """Stable 64-bit hash of one canonical syllable."""
    return int.from_bytes(
        hashlib.blake2b(syllable.encode("utf-8"), digest_size=8).digest(), "little"
    )


def _combine(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The key of an n-gram from its prefix's key and its last syllable's hash (uint64 arrays;
    array arithmetic wraps silently). Syllable hashes are uniform 64-bit values, so one
    multiply-add keeps distinct n-grams apart as well as a stronger mix, at a third of the
    cost in the decoder's inner loop."""
    return left * _MULTIPLIER + right


def _casing(surface: str) -> int:
    if len(surface) > 1 and surface.isupper():
        return _UPPER
    return _TITLE if surface[:1].isupper() else _LOWER


def runs(text: str) -> Iterable[list[str]]:
    """The syllable runs of ``text`` as written (split at punctuation and at digits)."""
    for piece in _BREAK.split(text):
        words = _WORD.findall(piece)
        if words:
            yield words


# --- counts ---------------------------------------------------------------------------------


def _summed(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique keys with their summed count rows, rows summing to zero dropped."""
    if keys.size == 0:
        return keys.astype(np.uint64), counts.reshape(0, *counts.shape[1:]).astype(np.int64)
    unique, inverse = np.unique(keys, return_inverse=True)
    total = np.zeros((unique.size, *counts.shape[1:]), dtype=np.int64)
    np.add.at(total, inverse.reshape(-1), counts)
    keep = total.reshape(unique.size, -1)[:, 0] != 0
    return unique[keep], total[keep]


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

    @classmethod
    def empty(cls) -> Counts:
        nothing = np.zeros(0, np.uint64)
        rows = np.zeros((0, 3), np.int64)
        return cls([], rows, nothing, rows[:, :2], nothing, np.zeros(0, np.int64))

    @classmethod
    def of_texts(cls, texts: Iterable[str]) -> Counts:
        """Count the syllables, pairs and triples of ``texts`` (each text on its own)."""
        ids: dict[str, int] = {}
        uni: list[list[int]] = []
        run_ids: list[np.ndarray] = []
        run_title: list[np.ndarray] = []
        for text in texts:
            for words in runs(text):
                row = []
                titles = []
                for word in words:
                    key = canonical_syllable(word)
                    index = ids.get(key)
                    if index is None:
                        index = ids[key] = len(uni)
                        uni.append([0, 0, 0])
                    casing = _casing(word)
                    counts = uni[index]
                    counts[0] += 1
                    if casing:
                        counts[casing] += 1
                    row.append(index)
                    titles.append(casing == _TITLE)
                run_ids.append(np.array(row, dtype=np.int64))
                run_title.append(np.array(titles, dtype=bool))
        if not ids:
            return cls.empty()
        syllables = list(ids)
        hashes = np.array([syllable_hash(s) for s in syllables], dtype=np.uint64)
        pairs, pair_title, tri = [], [], []
        for row, titles in zip(run_ids, run_title, strict=True):
            if row.size < 2:
                continue
            h = hashes[row]
            key2 = _combine(h[:-1], h[1:])
            pairs.append(key2)
            pair_title.append(titles[:-1] & titles[1:])
            if row.size > 2:
                tri.append(_combine(key2[:-1], h[2:]))
        bigram_keys = np.concatenate(pairs) if pairs else np.zeros(0, np.uint64)
        title = np.concatenate(pair_title) if pair_title else np.zeros(0, bool)
        bigrams = np.stack([np.ones(bigram_keys.size, np.int64), title.astype(np.int64)], axis=1)
        trigram_keys = np.concatenate(tri) if tri else np.zeros(0, np.uint64)
        order = np.argsort(syllables, kind="stable")
        return cls(
            [syllables[i] for i in order],
            np.array(uni, dtype=np.int64)[order],
            *_summed(bigram_keys, bigrams),
            *_summed(trigram_keys, np.ones(trigram_keys.size, np.int64)),
        )

    @classmethod
    def summed(cls, parts: list[tuple[Counts, int]]) -> Counts:
        """Σ sign × counts over ``parts`` ((counts, +1 or -1) pairs)."""
        syllables: dict[str, np.ndarray] = {}
        for counts, sign in parts:
            for syllable, row in zip(counts.syllables, counts.unigrams, strict=True):
                previous = syllables.get(syllable)
                syllables[syllable] = sign * row if previous is None else previous + sign * row
        names = sorted(s for s, row in syllables.items() if row[0] != 0)
        unigrams = np.array([syllables[s] for s in names], np.int64).reshape(-1, 3)
        if not parts:
            return cls.empty()
        return cls(
            names,
            unigrams,
            *_summed(
                np.concatenate([c.bigram_keys for c, _ in parts]),
                np.concatenate([s * c.bigrams for c, s in parts]),
            ),
            *_summed(
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


# --- writing beside a generation ------------------------------------------------------------


def _bulletin_text(stored: dict) -> str:
    return f"{stored.get('title', '')}\n{stored.get('body', '')}"


def write_language_model(generation_path: str | os.PathLike[str]) -> str | None:
    """Bring a finished generation's model up to date; returns why not, or None.

    Optional like the fast path: a failure removes the model and the searcher falls back to
    the vocabulary restorer, never failing the build.
    """
    root = Path(generation_path) / LM_DIR
    try:
        _write(Path(generation_path), root)
    except Exception as error:  # an optional file must never fail the build
        shutil.rmtree(root, ignore_errors=True)
        return f"language model not written ({type(error).__name__}: {error})"
    return None


def _write(generation_path: Path, root: Path) -> None:
    from whoosh import index as whoosh_index

    segments_dir = root / _SEGMENTS
    segments_dir.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.open_dir(str(generation_path))
    state: dict[str, list[int]] = {}
    try:
        with ix.reader() as reader:
            leaves = [reader] if reader.is_atomic() else [leaf for leaf, _ in reader.leaf_readers()]
            for leaf in leaves:
                segment_id = leaf.segment().segment_id()
                deleted = _deleted(leaf)
                state[segment_id] = [leaf.doc_count_all(), len(deleted)]
                _update_segment(segments_dir / segment_id, leaf, deleted)
    finally:
        ix.close()
    for entry in segments_dir.iterdir():
        if entry.name not in state:
            shutil.rmtree(entry, ignore_errors=True)
    model = root / _MODEL
    meta = read_meta(model)
    if meta is not None and meta.get("segments") == state:
        return
    parts = [(Counts.load(segments_dir / sid, mmap=False), 1) for sid in sorted(state)]
    Counts.summed(parts).save(model, {"segments": state})


def _deleted(leaf: object) -> list[int]:
    """The segment's deleted document numbers (Whoosh keeps their stored fields)."""
    if not leaf.has_deletions():  # type: ignore[attr-defined]
        return []
    return [d for d in range(leaf.doc_count_all()) if leaf.is_deleted(d)]  # type: ignore[attr-defined]


def _update_segment(folder: Path, leaf: object, deleted: list[int]) -> None:
    """Count a new segment's live bulletins, or subtract those deleted since it was counted."""
    meta = read_meta(folder)
    doc_count = leaf.doc_count_all()  # type: ignore[attr-defined]
    if meta is not None and meta.get("doc_count") == doc_count:
        counted = set(meta.get("deleted", []))
        if counted == set(deleted):
            return
        if counted <= set(deleted):
            newly = [d for d in deleted if d not in counted]
            removed = Counts.of_texts(_bulletin_text(leaf.stored_fields(d)) for d in newly)  # type: ignore[attr-defined]
            current = Counts.load(folder, mmap=False)
            Counts.summed([(current, 1), (removed, -1)]).save(
                folder, {"doc_count": doc_count, "deleted": deleted}
            )
            return
    skip = set(deleted)
    texts = (
        _bulletin_text(leaf.stored_fields(d))  # type: ignore[attr-defined]
        for d in range(doc_count)
        if d not in skip
    )
    Counts.of_texts(texts).save(folder, {"doc_count": doc_count, "deleted": deleted})


# --- the model at query time ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Restoration:
    """The best reading of a query and how sure the model is of it."""

    words: list[str]
    #: Every syllable with a choice beat every kept alternative by CONFIDENT_MARGIN.
    confident: bool


class LanguageModel:
    """The generation's n-gram model, memory-mapped; tables for decoding built on first use."""

    def __init__(self, counts: Counts, hashes: np.ndarray | None = None) -> None:
        self.counts = counts
        self._hashes = hashes
        self.smoothing = SMOOTHING
        #: Recent readings: a search restores its query for the suggestion and highlights.
        self._decoded: dict[tuple[tuple[str, ...], bool], Restoration] = {}
        self._choice_cache: dict[tuple[str, bool], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.total = int(counts.unigrams[:, 0].sum()) if counts.unigrams.size else 0

    @classmethod
    def open(cls, generation_path: Path) -> LanguageModel | None:
        """The model of a generation, or None when it has none (or an unreadable one)."""
        folder = Path(generation_path) / LM_DIR / _MODEL
        if read_meta(folder) is None:
            return None
        try:
            return cls(Counts.load(folder), Counts.load_hashes(folder))
        except (OSError, ValueError):
            return None

    @cached_property
    def _tables(self) -> tuple[dict[str, int], dict[str, list[int]], np.ndarray]:
        syllables = self.counts.syllables
        ids = {s: i for i, s in enumerate(syllables)}
        totals = self.counts.unigrams[:, 0]
        forms: dict[str, list[int]] = {}
        for i, s in enumerate(syllables):
            forms.setdefault(fold(s), []).append(i)
        for key, found in forms.items():
            found.sort(key=lambda i: -totals[i])
            forms[key] = found[:FORMS_PER_SYLLABLE]
        hashes = self._hashes
        if hashes is None or hashes.size != len(syllables):
            hashes = np.array([syllable_hash(s) for s in syllables], dtype=np.uint64)
        return ids, forms, hashes

    @cached_property
    def _folded_sorted(self) -> list[str]:
        return sorted(self._tables[1])

    def knows(self, folded_syllable: str) -> bool:
        return folded_syllable in self._tables[1]

    def _lookup(self, keys: np.ndarray, table: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The value of each key in the sorted ``table`` (0 for absent keys)."""
        if table.size == 0:
            return np.zeros(keys.shape, np.int64)
        where = np.searchsorted(table, keys)
        return np.where(table.take(where, mode="clip") == keys, values.take(where, mode="clip"), 0)

    def _choices(self, word: str, correct: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A word's candidate ids, their hashes and their backed-off unigram score plus edit
        penalty (kept: queries repeat syllables)."""
        key = (word, correct)
        found = self._choice_cache.get(key)
        if found is None:
            _, _, hashes = self._tables
            options = self._options(word, correct)
            ids = np.array([i for i, _ in options], np.int64)
            safe = np.maximum(ids, 0)
            unseen = np.log(self.counts.unigrams[safe, 0] + 0.1) - math.log(self.total + 1.0)
            unseen[ids < 0] = math.log(0.1) - math.log(self.total + 1.0)
            penalty = np.array([p for _, p in options])
            found = (ids, hashes[safe], unseen + 2 * math.log(BACKOFF) + penalty)
            if len(self._choice_cache) < CHOICE_CACHE:
                self._choice_cache[key] = found
        return found

    # --- decoding -------------------------------------------------------------------------

    def _options(self, word: str, correct: bool) -> list[tuple[int, float]]:
        """(syllable id, penalty) choices for one typed word; id -1 keeps it as typed."""
        ids, forms, _ = self._tables
        folded = fold(word)
        if folded != word and word in ids:  # typed with accents and known: kept as typed
            return [(ids[word], 0.0)]
        own = [(i, 0.0) for i in forms.get(folded, [])]
        if correct and folded.isalpha() and len(folded) <= 12:
            cost = EDIT_COST if not own else EDIT_COST_KNOWN
            for edit in one_edit(folded):
                own.extend((i, -cost) for i in forms.get(edit, [])[:3])
        return own or [(-1, 0.0)]

    def decode(self, words: list[str], correct: bool = False) -> Restoration:
        """The likeliest accented reading of ``words`` (folded or accented, lower case).

        A beam search over each word's accented forms, scored by the trigram model with
        stupid backoff; ``correct`` also tries one-edit spelling corrections."""
        if not words:
            return Restoration([], True)
        key = (tuple(words), correct)
        if key in self._decoded:
            return self._decoded[key]
        if len(self._decoded) >= DECODED_CACHE:
            self._decoded.pop(next(iter(self._decoded)))
        self._decoded[key] = restoration = self._decode(words, correct)
        return restoration

    def _decode(self, words: list[str], correct: bool) -> Restoration:
        beam = self._search(words, correct)
        best_score, best = beam[0]
        confident = True
        for position in range(len(words)):
            rivals = [score for score, path in beam[1:] if path[position] != best[position]]
            if rivals and best_score - rivals[0] < CONFIDENT_MARGIN:
                confident = False
                break
        return Restoration(self._surfaces(best, words), confident)

    def _search(
        self, words: list[str], correct: bool, choices: dict[int, list[int]] | None = None
    ) -> list[tuple[float, list[int]]]:
        """The final beam: (log probability, syllable ids; -1 for a word kept as typed),
        best first, no two paths ending in the same two syllables. ``choices`` replaces the
        syllables tried at some positions (completion)."""
        _, _, hashes = self._tables
        counts = self.counts
        bigram_keys, bigram_counts = counts.bigram_keys, counts.bigrams[:, 0]
        log_backoff = math.log(BACKOFF)
        scores = np.zeros(1)
        paths = np.zeros((1, 0), np.int64)
        # Each path's last pair: its key and count (the next step's trigram context).
        last_pair = np.zeros(1, np.uint64)
        last_count = np.zeros(1, np.int64)
        for position, word in enumerate(words):
            if choices and position in choices:
                ids = np.array(choices[position], np.int64)
                base = np.log(counts.unigrams[ids, 0] + 0.1) - math.log(self.total + 1.0)
                h, line = hashes[ids], base + 2 * log_backoff
            else:
                ids, h, line = self._choices(word, correct)
            logp = line[None, :]
            if position:
                prev = paths[:, -1]
                prev_hash = hashes[np.maximum(prev, 0)]
                pair = _combine(prev_hash[:, None], h)
                c2 = self._lookup(pair, bigram_keys, bigram_counts)
                c2[prev < 0] = 0
                c2[:, ids < 0] = 0
                c1 = np.maximum(counts.unigrams[np.maximum(prev, 0), 0], 1)[:, None]
                c3 = c_ctx = None
                if position > 1:
                    c_ctx = last_count
                    if c_ctx.any():
                        triple = _combine(last_pair[:, None], h)
                        c3 = self._lookup(triple, counts.trigram_keys, counts.trigrams)
                        c3[c2 == 0] = 0
                if self.smoothing == "interpolated":
                    logp = _interpolated(line - 2 * log_backoff, c1, c2, c_ctx, c3)
                else:
                    bigram = np.log(np.maximum(c2, 1) / c1) + log_backoff
                    logp = np.where(c2 > 0, bigram, logp)
                    if c3 is not None and c_ctx is not None:
                        trigram = np.log(np.maximum(c3, 1) / np.maximum(c_ctx, 1)[:, None])
                        logp = np.where(c3 > 0, trigram, logp)
            total = scores[:, None] + logp
            rows, columns = _prune(paths, ids, total)
            scores = total[rows, columns]
            paths = np.concatenate([paths[rows], ids[columns][:, None]], axis=1)
            if position:
                last_pair, last_count = pair[rows, columns], c2[rows, columns]
        return [(float(score), path) for score, path in zip(scores, paths.tolist(), strict=True)]

    def _surfaces(self, path: list[int], words: list[str]) -> list[str]:
        """Each syllable of ``path`` as the bulletins write it: Capitalised when a pair it forms
        with a neighbour is mostly written Capitalised Capitalised ("Sa Đéc", "Văn Giáp");
        a syllable in no known pair follows its own most frequent casing; in CAPITALS when
        most of its occurrences are. A syllable the model lacks stays as typed."""
        _, _, hashes = self._tables
        keys, pairs = self.counts.bigram_keys, self.counts.bigrams
        ids = np.array(path, np.int64)
        titled = np.zeros(len(path), bool)
        paired = np.zeros(len(path), bool)
        if len(path) > 1 and keys.size:
            pair = _combine(hashes[np.maximum(ids[:-1], 0)], hashes[np.maximum(ids[1:], 0)])
            where = np.searchsorted(keys, pair)
            hit = (keys.take(where, mode="clip") == pair) & (ids[:-1] >= 0) & (ids[1:] >= 0)
            total = pairs[:, 0].take(where, mode="clip")
            names = hit & (2 * pairs[:, 1].take(where, mode="clip") > total)
            titled[:-1] |= names
            titled[1:] |= names
            paired[:-1] |= hit
            paired[1:] |= hit
        rows = self.counts.unigrams[np.maximum(ids, 0)].tolist()
        surfaces = []
        for i, typed, (total, title, upper), by_pair, in_pair in zip(
            path, words, rows, titled.tolist(), paired.tolist(), strict=True
        ):
            text = self.counts.syllables[i] if i >= 0 else typed
            if i >= 0 and 2 * upper > total:
                text = text.upper()
            elif i >= 0 and (by_pair if in_pair else 2 * title > total):
                text = text[:1].upper() + text[1:]
            surfaces.append(text)
        return surfaces

    def restore(self, words: list[str]) -> list[str]:
        return self.decode(words).words

    def correct(self, folded_words: list[str]) -> list[str] | None:
        """Folded words with misspellings fixed by one edit each, or None when nothing better."""
        corrected = [fold(w) for w in self.decode(folded_words, correct=True).words]
        return corrected if corrected != folded_words else None

    # --- completion -----------------------------------------------------------------------

    def complete(self, prefix: str, limit: int = 8) -> list[str]:
        """Continuations of what was typed, ranked by the model: the last (partial) syllable
        completed after the restored earlier ones, each followed by its likeliest next one."""
        words = prefix.lower().split()
        if not words:
            return []
        _, forms, _ = self._tables
        partial = fold(words[-1])
        keys = self._folded_sorted
        candidates: list[int] = []
        for key in keys[bisect.bisect_left(keys, partial) :][:5000]:
            if not key.startswith(partial):
                break
            candidates.extend(forms[key])
        if partial != words[-1]:  # typed with accents: only forms that keep them
            candidates = [i for i in candidates if self.counts.syllables[i].startswith(words[-1])]
        if not candidates:
            return []
        following = {len(words) - 1: candidates, len(words): self._frequent.tolist()}
        beam = self._search([*words, ""], False, following)
        results: list[str] = []
        for _, path in beam:
            phrase = self._surfaces(path, [*words, ""])
            results += [" ".join(phrase[:-1]), " ".join(phrase)]
        return list(dict.fromkeys(results))[:limit]

    @cached_property
    def _frequent(self) -> np.ndarray:
        """The most frequent syllables: where completion looks for a next syllable."""
        totals = self.counts.unigrams[:, 0]
        return np.argsort(-totals, kind="stable")[:COMPLETION_FOLLOWERS]


def _prune(paths: np.ndarray, ids: np.ndarray, total: np.ndarray) -> tuple[list[int], list[int]]:
    """The best :data:`BEAM` extensions of ``paths`` (scores ``total``, paths × ``ids``), one
    per final pair of syllables, best first: their rows (paths) and columns (syllables)."""
    order = _best_first(-total.reshape(-1))
    last = paths[:, -1].tolist() if paths.shape[1] else [-1] * paths.shape[0]
    options = ids.tolist()
    states: set[tuple[int, int]] = set()
    rows: list[int] = []
    columns: list[int] = []
    for index in order:
        row, column = divmod(index, len(options))
        state = (last[row], options[column])
        if state in states:
            continue  # a better path already ends in the same two syllables
        states.add(state)
        rows.append(row)
        columns.append(column)
        if len(rows) == BEAM:
            break
    return rows, columns


def _interpolated(
    unigram: np.ndarray,
    c1: np.ndarray,
    c2: np.ndarray,
    c_ctx: np.ndarray | None,
    c3: np.ndarray | None,
) -> np.ndarray:
    """log of a fixed-weight mix of the trigram, bigram and unigram relative frequencies
    (Jelinek–Mercer); without a seen context the trigram's weight goes to the bigram."""
    bigram = c2 / c1
    if c3 is None or c_ctx is None:
        mixed = (1 - MIX[0]) * bigram + MIX[0] * np.exp(unigram)
        return np.log(mixed)
    trigram = c3 / np.maximum(c_ctx, 1)[:, None]
    seen = (c_ctx > 0)[:, None]
    with_context = MIX[2] * trigram + MIX[1] * bigram + MIX[0] * np.exp(unigram)
    without = (1 - MIX[0]) * bigram + MIX[0] * np.exp(unigram)
    return np.log(np.where(seen, with_context, without))


def _best_first(costs: np.ndarray) -> Iterator[int]:
    """Indices of ``costs``, lowest first: the few a beam needs are sorted alone, the rest
    only when those end in repeated states."""
    few = 4 * BEAM
    if costs.size <= few:
        yield from np.argsort(costs, kind="stable").tolist()
        return
    head = np.argpartition(costs, few)[:few]
    head = head[np.argsort(costs[head], kind="stable")].tolist()
    yield from head
    taken = set(head)
    yield from (i for i in np.argsort(costs, kind="stable").tolist() if i not in taken)
