"""The syllable n-gram model at query time: accent restoration, spelling and completion.

Accent restoration needs to know which accented syllables follow which: "hoi nghi so ket" is
"hội nghị sơ kết" because "sơ kết" follows "hội nghị" in the bulletins, not "số kết". The
counts (:mod:`searcher.lm_counts`, written at publish by :mod:`searcher.lm_write` from text
counted by :mod:`searcher.lm_text`) keep unigrams, bigrams and trigrams with how often each
syllable (and pair) was written Capitalised or in CAPITALS, so a suggestion keeps
"Phan Văn Giáp".

Scoring is stupid backoff (Brants et al. 2007): the relative frequency of the longest seen
n-gram, times :data:`BACKOFF` per order backed off.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from searcher.analysis import fold
from searcher.lm_counts import (
    DELTA,
    LM_DIR,
    MODEL,
    Counts,
    LayeredCounts,
    combine,
    read_meta,
)
from searcher.suggest import one_edit

__all__ = ["LM_DIR", "Counts", "LanguageModel", "LayeredCounts", "Restoration"]

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


@dataclass(frozen=True, slots=True)
class Restoration:
    """The best reading of a query and how sure the model is of it."""

    words: list[str]
    #: Every syllable with a choice beat every kept alternative by CONFIDENT_MARGIN.
    confident: bool


class LanguageModel:
    """The generation's n-gram model, memory-mapped; tables for decoding built on first use."""

    def __init__(self, counts: Counts | LayeredCounts) -> None:
        self.counts = counts if isinstance(counts, LayeredCounts) else LayeredCounts(counts)
        self.smoothing = SMOOTHING
        #: Recent readings: a search restores its query for the suggestion and highlights.
        self._decoded: dict[tuple[tuple[str, ...], bool], Restoration] = {}
        self._choice_cache: dict[tuple[str, bool], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        unigrams = self.counts.unigrams
        self.total = int(unigrams[:, 0].sum()) if unigrams.size else 0

    @classmethod
    def open(cls, generation_path: Path) -> LanguageModel | None:
        """The model of a generation (its summed counts plus the delta of the updates since),
        or None when it has none or an unreadable one."""
        root = Path(generation_path) / LM_DIR
        meta = read_meta(root / MODEL)
        if meta is None:
            return None
        try:
            delta = None
            if (root / DELTA).exists():
                delta_meta = read_meta(root / DELTA)
                if delta_meta is None or delta_meta.get("base") != meta.get("id"):
                    return None  # the model alone would be stale
                delta = Counts.load(root / DELTA, mmap=False)
            base = Counts.load(root / MODEL)
            return cls(LayeredCounts(base, delta, Counts.load_hashes(root / MODEL)))
        except (OSError, ValueError):
            return None

    @cached_property
    def _tables(self) -> tuple[dict[str, int], dict[str, list[int]], np.ndarray]:
        syllables = self.counts.syllables
        ids = {s: i for i, s in enumerate(syllables)}
        totals = self.counts.unigrams[:, 0]
        forms: dict[str, list[int]] = {}
        for i, s in enumerate(syllables):
            if totals[i] > 0:  # a syllable an update removed everywhere is no longer a form
                forms.setdefault(fold(s), []).append(i)
        for key, found in forms.items():
            found.sort(key=lambda i: -totals[i])
            forms[key] = found[:FORMS_PER_SYLLABLE]
        return ids, forms, self.counts.hashes

    @cached_property
    def _folded_sorted(self) -> list[str]:
        return sorted(self._tables[1])

    def knows(self, folded_syllable: str) -> bool:
        return folded_syllable in self._tables[1]

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
                pair = combine(prev_hash[:, None], h)
                c2 = counts.bigram(pair)
                c2[prev < 0] = 0
                c2[:, ids < 0] = 0
                c1 = np.maximum(counts.unigrams[np.maximum(prev, 0), 0], 1)[:, None]
                c3 = c_ctx = None
                if position > 1:
                    c_ctx = last_count
                    if c_ctx.any():
                        triple = combine(last_pair[:, None], h)
                        c3 = counts.trigram(triple)
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
        ids = np.array(path, np.int64)
        titled = np.zeros(len(path), bool)
        paired = np.zeros(len(path), bool)
        if len(path) > 1 and self.counts.has_bigrams:
            pair = combine(hashes[np.maximum(ids[:-1], 0)], hashes[np.maximum(ids[1:], 0)])
            total = self.counts.bigram(pair)
            hit = (total > 0) & (ids[:-1] >= 0) & (ids[1:] >= 0)
            names = hit & (2 * self.counts.bigram(pair, 1) > total)
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
