"""Accent restoration, spelling correction and completion from the index's own vocabulary.

The evidence is the index itself: how many bulletins hold each accented syllable, and which
syllable pairs pyvi joined into compound words ("cải_cách", "hành_chính"). A query typed without
accents is restored by a Viterbi search over each syllable's accented forms, scoring syllable
frequency plus a strong bonus for pairs seen as compounds. Built once per index generation.
"""

from __future__ import annotations

import bisect
import itertools
import math
import string
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from searcher.analysis import fold

#: A pair seen as a compound counts this much more than syllable frequency alone.
PAIR_WEIGHT = 3.0
#: Cost of one edit when correcting a misspelt syllable, in log-frequency units.
EDIT_COST = 6.0
#: A correction may change one typed word in this many (and always one). Rewriting most of a
#: query is not fixing a misspelling: a long title typed without accents, found nowhere whole,
#: would otherwise come back as other words that merely occur together somewhere.
WORDS_PER_CHANGE = 4
_ALPHABET = string.ascii_lowercase


def one_edit(word: str) -> set[str]:
    """Every string one deletion, transposition, replacement or insertion away from ``word``."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    candidates = {a + b[1:] for a, b in splits if b}
    candidates |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    candidates |= {a + c + b[1:] for a, b in splits if b for c in _ALPHABET}
    candidates |= {a + c + b for a, b in splits for c in _ALPHABET}
    candidates.discard(word)
    return candidates


def plausible_correction(typed: list[str], corrected: list[str]) -> bool:
    """Whether ``corrected`` changes few enough of the ``typed`` words to be offered."""
    changed = sum(a != b for a, b in zip(typed, corrected, strict=True))
    return changed <= max(1, len(typed) // WORDS_PER_CHANGE)


@dataclass(frozen=True, slots=True)
class _Phrase:
    folded: str
    text: str
    frequency: int


class Vocabulary:
    """Syllable and compound frequencies of one index generation."""

    def __init__(
        self,
        syllables: dict[str, int],
        compounds: dict[str, int],
    ) -> None:
        self.accented_forms: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for syllable, frequency in syllables.items():
            self.accented_forms[fold(syllable)].append((syllable, frequency))
        for forms in self.accented_forms.values():
            forms.sort(key=lambda item: -item[1])
        self.pairs: dict[tuple[str, str], int] = defaultdict(int)
        for compound, frequency in compounds.items():
            parts = compound.split("_")
            for left, right in itertools.pairwise(parts):
                self.pairs[(left, right)] += frequency
        self.folded_pairs: dict[tuple[str, str], int] = defaultdict(int)
        for (left, right), frequency in self.pairs.items():
            self.folded_pairs[(fold(left), fold(right))] += frequency
        phrases = [
            _Phrase(fold(text), text, frequency)
            for text, frequency in (
                *syllables.items(),
                *((c.replace("_", " "), f) for c, f in compounds.items()),
            )
            if frequency > 0 and not text.isdigit()
        ]
        phrases.sort(key=lambda p: (p.folded, -p.frequency))
        self._phrases = phrases
        self._by_left: dict[str, dict[str, int]] | None = None
        self._phrase_keys = [p.folded for p in phrases]

    @classmethod
    def from_terms(cls, terms: Iterable[tuple[str, int]]) -> Vocabulary:
        """Build from (accented term, document frequency) pairs of the accented fields."""
        syllables: dict[str, int] = defaultdict(int)
        compounds: dict[str, int] = defaultdict(int)
        for term, frequency in terms:
            if "_" in term:
                if all(part.isalpha() for part in term.split("_")):
                    compounds[term] += frequency
            elif term.isalpha():
                syllables[term] += frequency
        return cls(dict(syllables), dict(compounds))

    def knows(self, folded_syllable: str) -> bool:
        return folded_syllable in self.accented_forms

    # --- accent restoration ----------------------------------------------------------------

    def restore(self, words: list[str]) -> list[str]:
        """The most likely accented form of each (folded or partly accented) word."""
        candidates = [self._candidates(word) for word in words]
        return self._best_path(words, candidates)

    def _candidates(self, word: str) -> list[tuple[str, float]]:
        forms = self.accented_forms.get(fold(word))
        if not forms:
            return [(word, 0.0)]
        if fold(word) != word:  # typed with accents: keep what was typed
            return [(word, math.log1p(dict(forms).get(word, 0)))]
        return [(form, math.log1p(frequency)) for form, frequency in forms[:12]]

    def _best_path(self, words: list[str], candidates: list[list[tuple[str, float]]]) -> list[str]:
        if not words:
            return []
        # Viterbi: best[i][form] = (score, previous form)
        previous: dict[str, tuple[float, list[str]]] = {
            form: (score, [form]) for form, score in candidates[0]
        }
        for options in candidates[1:]:
            current: dict[str, tuple[float, list[str]]] = {}
            for form, score in options:
                best: tuple[float, list[str]] | None = None
                for prev_form, (prev_score, path) in previous.items():
                    pair = self.pairs.get((prev_form, form), 0)
                    total = prev_score + score + PAIR_WEIGHT * math.log1p(pair)
                    if best is None or total > best[0]:
                        best = (total, path)
                assert best is not None
                current[form] = (best[0], [*best[1], form])
            previous = current
        return max(previous.values(), key=lambda item: item[0])[1]

    # --- spelling correction --------------------------------------------------------------

    def correct(self, folded_words: list[str]) -> list[str] | None:
        """Folded words with misspellings fixed by one edit, or None when nothing better.

        A syllable may change when the change makes a known compound with a neighbour or the
        syllable is unknown; the path with the most pair evidence wins.
        """
        options: list[list[tuple[str, float]]] = []
        for word in folded_words:
            own = [(word, math.log1p(self._folded_frequency(word)))] if self.knows(word) else []
            edits = [
                (candidate, math.log1p(self._folded_frequency(candidate)) - EDIT_COST)
                for candidate in self._edits(word)
            ]
            options.append(own + edits or [(word, 0.0)])
        previous: dict[str, tuple[float, list[str]]] = {w: (s, [w]) for w, s in options[0]}
        for choices in options[1:]:
            previous = self._step(previous, choices)
        corrected = max(previous.values(), key=lambda item: item[0])[1]
        return corrected if corrected != folded_words else None

    def _step(
        self, previous: dict[str, tuple[float, list[str]]], choices: list[tuple[str, float]]
    ) -> dict[str, tuple[float, list[str]]]:
        """One Viterbi step: each choice after the first previous word with the best total.

        Every (previous, choice) total is ``previous score + choice score + PAIR_WEIGHT *
        log1p(pairs)``, the same float operations in the same order as a plain loop would do,
        but the pair bonus is added only where a pair exists (found from each previous word's
        partners): a misspelt query has ~100 candidates a word, thousands of pairs a step.
        """
        paths = [path for _, path in previous.values()]
        totals = np.array([score for score, _ in previous.values()])[:, None] + np.array(
            [score for _, score in choices]
        )
        column = {word: j for j, (word, _) in enumerate(choices)}
        followers = self._followers()
        for i, prev_word in enumerate(previous):
            partners = followers.get(prev_word)
            if not partners:
                continue
            if len(partners) < len(column):
                found = [(column[w], n) for w, n in partners.items() if w in column]
            else:
                found = [(j, partners[w]) for w, j in column.items() if w in partners]
            for j, count in found:
                totals[i, j] += PAIR_WEIGHT * math.log1p(count)
        best = totals.argmax(axis=0).tolist()  # the first of equal totals, as a loop would
        return {
            word: (float(totals[i, j]), [*paths[i], word])
            for j, ((word, _), i) in enumerate(zip(choices, best, strict=True))
        }

    def _followers(self) -> dict[str, dict[str, int]]:
        """Folded pairs by their first word (built on the first correction)."""
        if self._by_left is None:
            by_left: dict[str, dict[str, int]] = defaultdict(dict)
            for (left, right), count in self.folded_pairs.items():
                if count:
                    by_left[left][right] = count
            self._by_left = dict(by_left)
        return self._by_left

    def _folded_frequency(self, folded_word: str) -> int:
        return sum(f for _, f in self.accented_forms.get(folded_word, ()))

    def _edits(self, word: str) -> set[str]:
        if not word.isalpha() or len(word) > 12:
            return set()
        return {c for c in one_edit(word) if c in self.accented_forms}

    # --- completion ----------------------------------------------------------------------

    def complete(self, prefix: str, limit: int = 8) -> list[str]:
        """Frequent words and phrases starting with what was typed, accent-insensitive.

        The last (partial) word is completed; earlier words are restored to their accented
        form and, where they form a known compound with the completion, preferred.
        """
        words = prefix.split()
        if not words:
            return []
        typed = fold(" ".join(words))
        results: list[tuple[float, str]] = []
        for phrase in self._starting_with(typed, 200):
            results.append((math.log1p(phrase.frequency) + 2.0, phrase.text))
        if len(words) > 1:
            head = self.restore([fold(w) if fold(w) == w else w for w in words[:-1]])
            last = head[-1]
            for phrase in self._starting_with(fold(words[-1]), 400):
                first = phrase.text.split(" ")[0]
                pair = self.pairs.get((last, first), 0)
                score = math.log1p(phrase.frequency) + PAIR_WEIGHT * math.log1p(pair)
                results.append((score, " ".join([*head, phrase.text])))
        seen: set[str] = set()
        ordered: list[str] = []
        for _score, text in sorted(results, key=lambda item: -item[0]):
            if text not in seen:
                seen.add(text)
                ordered.append(text)
            if len(ordered) == limit:
                break
        return ordered

    def _starting_with(self, folded_prefix: str, cap: int) -> list[_Phrase]:
        start = bisect.bisect_left(self._phrase_keys, folded_prefix)
        found: list[_Phrase] = []
        for phrase in self._phrases[start : start + 50_000]:  # bound very short prefixes
            if not phrase.folded.startswith(folded_prefix):
                break
            found.append(phrase)
        found.sort(key=lambda p: -p.frequency)
        return found[:cap]
