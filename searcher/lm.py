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
from collections.abc import Collection
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
from searcher.lm_prior import DictionaryPrior, dictionary_prior
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
#: Readings kept per model: a search decodes its query twice (suggestion, highlights), and
#: people ask the same queries again (a reading is a few short strings; 64 was too few for
#: one round of the 151 unaccented queries of the page benchmark to be met again).
DECODED_CACHE = 2048
#: Typed syllables whose candidates are kept per model.
CHOICE_CACHE = 20_000
#: Cost of one edit when correcting a misspelt syllable (natural log of probability).
EDIT_COST = 7.0
#: The same for a syllable the index knows: it was probably typed as meant ("chin" may be
#: "chín"), so only a much likelier reading rewrites it ("hanh chin" → "hành chính").
EDIT_COST_KNOWN = 12.0
#: Pseudo-count a pair of syllables inside a dictionary word adds to the index's count of it
#: (:mod:`searcher.lm_prior`): worth a few occurrences, so it decides where a small index has
#: seen too little and is outweighed where a large one has seen enough.
PRIOR_WEIGHT = 16.0
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

    def __init__(self, counts: Counts | LayeredCounts, use_prior: bool = True) -> None:
        self.counts = counts if isinstance(counts, LayeredCounts) else LayeredCounts(counts)
        self.smoothing = SMOOTHING
        #: Whether the dictionary's pairs (:mod:`searcher.lm_prior`) add to the index's counts.
        self.use_prior = use_prior
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
    def _prior(self) -> DictionaryPrior | None:
        return dictionary_prior() if self.use_prior else None

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
        if not correct and self.smoothing == "backoff":
            best, margins = self._viterbi([self._choices(word, False) for word in words])
            confident = bool((margins >= CONFIDENT_MARGIN).all())
            return Restoration(self._surfaces(best, words), confident)
        beam = self._search(words, correct, self._attested(words) if correct else ())
        best_score, best = beam[0]
        confident = True
        for position in range(len(words)):
            rivals = [score for score, path in beam[1:] if path[position] != best[position]]
            if rivals and best_score - rivals[0] < CONFIDENT_MARGIN:
                confident = False
                break
        return Restoration(self._surfaces(best, words), confident)

    def _viterbi(self, steps: list[tuple[np.ndarray, ...]]) -> tuple[list[int], np.ndarray]:
        """The likeliest path over the candidates of each position (ids, hashes, unigram
        scores, as :meth:`_choices` gives them) under the same trigram model as the beam, found
        exactly: states are pairs of candidates, every table is looked up once for the whole
        query, and each step is three array operations. Returns the path's syllable ids and,
        per position, how far the best path that reads it otherwise falls behind (max-marginals
        from a forward and a backward pass)."""
        width = max(step[0].size for step in steps)
        size = len(steps)
        ids = np.full((size, width), -2, np.int64)  # -2: padding, -1: kept as typed
        hashes = np.zeros((size, width), np.uint64)
        line = np.full((size, width), -np.inf)
        for i, (found, h, scores) in enumerate(steps):
            ids[i, : found.size], hashes[i, : found.size], line[i, : found.size] = found, h, scores
        if size == 1:
            return [int(ids[0, line[0].argmax()])], _margins(line)
        log_backoff = math.log(BACKOFF)
        counts = self.counts
        # Pairs (position i-1, i) for i = 1 … size-1: keys, the index's counts, with the prior.
        pair, seen, c2 = self._pairs(ids[:-1], hashes[:-1], ids[1:], hashes[1:])
        c1 = np.maximum(counts.unigrams[np.maximum(ids[:-1], 0), 0], 1)[:, :, None]
        bigram = np.log(np.maximum(c2, 1e-9) / c1) + log_backoff
        pairs = np.where(c2 > 0, bigram, line[1:, None, :])
        # Triples (i-2, i-1, i) for i = 2 … size-1: only those whose two pairs were seen.
        triples = np.broadcast_to(pairs[1:, None], (size - 2, width, width, width)).copy()
        j, a, b, c = np.nonzero((seen[:-1, :, :, None] > 0) & (seen[1:, None, :, :] > 0))
        triple = combine(pair[j, a, b], hashes[j + 2, c])
        c3 = counts.trigram(triple)
        hit = c3 > 0
        j, a, b, c = j[hit], a[hit], b[hit], c[hit]
        triples[j, a, b, c] = np.log(c3[hit] / seen[j, a, b])
        # Forward: best score of a path ending in each pair; backward: of the rest after it.
        forward = [line[0][:, None] + pairs[0]]
        back = []
        for step in triples:
            total = forward[-1][:, :, None] + step
            back.append(total.argmax(axis=0))
            forward.append(total.max(axis=0))
        after = [np.zeros((width, width))]
        for step in triples[::-1]:
            after.append((step + after[-1][None, :, :]).max(axis=2))
        after.reverse()
        through = [f + r for f, r in zip(forward, after, strict=True)]
        last, final = np.unravel_index(forward[-1].argmax(), forward[-1].shape)
        path = [int(final), int(last)]
        for pointer in back[::-1]:
            last, final = pointer[last, final], last
            path.append(int(last))
        path.reverse()
        columns = np.array(path)
        marginals = np.stack([through[0].max(axis=1), *(t.max(axis=0) for t in through)])
        return [int(x) for x in ids[np.arange(size), columns]], _margins(marginals, columns)

    def _search(
        self,
        words: list[str],
        correct: bool,
        kept: Collection[int] = (),
        choices: dict[int, list[int]] | None = None,
    ) -> list[tuple[float, list[int]]]:
        """The final beam: (log probability, syllable ids; -1 for a word kept as typed),
        best first, no two paths ending in the same two syllables. ``correct`` tries one-edit
        corrections except at the positions ``kept``; ``choices`` replaces the syllables
        tried at some positions (completion)."""
        _, _, hashes = self._tables
        counts = self.counts
        log_backoff = math.log(BACKOFF)
        steps = []
        for position, word in enumerate(words):
            if choices and position in choices:
                ids = np.array(choices[position], np.int64)
                base = np.log(counts.unigrams[ids, 0] + 0.1) - math.log(self.total + 1.0)
                steps.append((ids, hashes[ids], base + 2 * log_backoff))
            else:
                steps.append(self._choices(word, correct and position not in kept))
        scores = np.zeros(1)
        paths = np.zeros((1, 0), np.int64)
        # Each path's last column (its syllable's place among its candidates), and its last
        # pair's key and count (the next step's trigram context).
        columns = np.zeros(1, np.int64)
        last_pair = np.zeros(1, np.uint64)
        last_count = np.zeros(1, np.int64)
        for position, (ids, h, line) in enumerate(steps):
            logp = line[None, :]
            if position:
                previous = steps[position - 1]
                pair, seen, c2 = self._pairs(previous[0][columns], previous[1][columns], ids, h)
                prev = paths[:, -1]
                c1 = np.maximum(counts.unigrams[np.maximum(prev, 0), 0], 1)[:, None]
                c3 = c_ctx = None
                if position > 1:
                    c_ctx = last_count
                    need = (seen > 0) & (c_ctx > 0)[:, None]  # a triple seen needs both
                    if need.any():
                        triple = combine(last_pair[:, None], h)
                        c3 = np.zeros(need.shape, np.int64)
                        c3[need] = counts.trigram(triple[need])
                if self.smoothing == "interpolated":
                    logp = _interpolated(line - 2 * log_backoff, c1, c2, c_ctx, c3)
                else:
                    bigram = np.log(np.maximum(c2, 1e-9) / c1) + log_backoff
                    logp = np.where(c2 > 0, bigram, logp)
                    if c3 is not None and c_ctx is not None:
                        trigram = np.log(np.maximum(c3, 1) / np.maximum(c_ctx, 1)[:, None])
                        logp = np.where(c3 > 0, trigram, logp)
            total = scores[:, None] + logp
            rows, chosen = _prune(columns, steps[position - 1][0].size if position else 1, total)
            scores = total[rows, chosen]
            paths = np.concatenate([paths[rows], ids[chosen][:, None]], axis=1)
            if position:
                last_pair, last_count = pair[rows, chosen], seen[rows, chosen]
            columns = chosen
        return [(float(score), path) for score, path in zip(scores, paths.tolist(), strict=True)]

    def _pairs(
        self, left: np.ndarray, left_hashes: np.ndarray, right: np.ndarray, hashes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The left × right matrices of pair keys, of the index's counts of the pairs, and of
        those counts with the dictionary's pseudo-counts added (ids and their hashes, or stacks
        of them; a pair with a word the model lacks counts nothing)."""
        pair = combine(left_hashes[..., :, None], hashes[..., None, :])
        known = (left >= 0)[..., :, None] & (right >= 0)[..., None, :]
        keys = pair[known]  # not the padding of a query's shorter candidate lists
        seen = np.zeros(pair.shape, np.int64)
        seen[known] = self.counts.bigram(keys)
        counted = seen.astype(float)
        if self._prior is not None:  # the dictionary's pairs: pseudo-counts
            counted[known] += PRIOR_WEIGHT * self._prior.contains(keys)
        return pair, seen, counted

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

    def _attested(self, words: list[str]) -> set[int]:
        """Positions whose syllable, as restored without corrections, forms a pair with a
        neighbour that the bulletins hold: typed as meant, so a correction leaves them. A held
        out title is never matched whole, and a frequent look-alike phrase would otherwise
        rewrite it ("cháy tàu lặn Nga" → "cháy tại căn nhà")."""
        _, _, hashes = self._tables
        ids = np.array(self._viterbi([self._choices(word, False) for word in words])[0])
        if ids.size < 2:
            return set()
        pair = combine(hashes[np.maximum(ids[:-1], 0)], hashes[np.maximum(ids[1:], 0)])
        seen = self.counts.bigram(pair) > 0
        seen &= (ids[:-1] >= 0) & (ids[1:] >= 0)
        return set(np.flatnonzero(seen).tolist()) | set((np.flatnonzero(seen) + 1).tolist())

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
        beam = self._search([*words, ""], False, choices=following)
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


def _margins(scores: np.ndarray, chosen: np.ndarray | None = None) -> np.ndarray:
    """Per position (row), how far the best score of any other column falls behind the
    chosen one's (the best when none is given); infinite without a rival."""
    if chosen is None:
        chosen = scores.argmax(axis=1)
    rows = np.arange(scores.shape[0])
    best = scores[rows, chosen]
    others = scores.copy()
    others[rows, chosen] = -np.inf
    return best - others.max(axis=1)


def _prune(groups: np.ndarray, size: int, total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best :data:`BEAM` extensions of the paths (scores ``total``: paths × next
    syllables; ``groups``: each path's last syllable, a number below ``size``), one per final
    pair of syllables, best first: their rows (paths) and columns (syllables). Array work
    only: a title is ~15 steps."""
    best = np.full((size, total.shape[1]), -np.inf)
    np.maximum.at(best, groups, total)  # the best path of each state
    flat = best.reshape(-1)
    chosen = np.flatnonzero(flat > -np.inf)
    if chosen.size > BEAM:  # every state scoring at least the BEAM-th best (ties included)
        chosen = np.flatnonzero(flat >= -np.partition(-flat, BEAM - 1)[BEAM - 1])
    group, columns = np.divmod(chosen, total.shape[1])
    # Each state's path: the first (lowest row) of its group with the state's best score.
    owners = np.where(groups[:, None] == group[None, :], total[:, columns], -np.inf)
    rows = owners.argmax(axis=0)
    # Best first; among equal scores, the extension met first in row-major order.
    order = np.lexsort((rows * total.shape[1] + columns, -flat[chosen]))[:BEAM]
    return rows[order], columns[order]


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
