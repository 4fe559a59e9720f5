"""A general-language prior for the index's n-gram model: the syllable pairs of a dictionary.

A small index has not seen enough text: at 2,000 news bulletins "thay đổi", "tàng hình" or
"ngoại trưởng" may be missing or rarer than a look-alike ("thấy đối"), and the decoder then
falls back on single-syllable frequency. pyvi, which the product already needs for word
segmentation, ships a Vietnamese word list (``pyvi/models/words.txt``, 31,000 words, accented).
The pairs of syllables inside its words are pseudo-counts the decoder adds to the index's own
(:data:`searcher.lm.PRIOR_WEIGHT` each): a few occurrences' worth, so a small index leans on
the dictionary and a large one still prefers its own data. Nothing is copied into the project;
without pyvi's list the model decodes from the index alone.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from searcher.analysis import canonical_syllable
from searcher.lm_counts import combine, syllable_hash

__all__ = ["DictionaryPrior", "dictionary_prior", "read_words"]


@dataclass(frozen=True, slots=True)
class DictionaryPrior:
    """The syllable pairs inside the words of a dictionary, keyed as the model keys bigrams."""

    #: Sorted uint64 keys (:func:`searcher.lm_counts.combine` of the two syllables' hashes).
    pair_keys: np.ndarray

    @classmethod
    def from_words(cls, words: list[str]) -> DictionaryPrior:
        """From dictionary entries ("thay đổi", "bình thường hoá"); entries holding anything
        but letters and spaces ("kW-h", "giga-") are left out."""
        entries = [entry.lower().split() for entry in words]
        entries = [e for e in entries if len(e) > 1 and all(s.isalpha() for s in e)]
        canonical = {s: canonical_syllable(s) for s in set(itertools.chain.from_iterable(entries))}
        pairs = {
            (canonical[a], canonical[b]) for entry in entries for a, b in itertools.pairwise(entry)
        }
        hashes = {s: syllable_hash(s) for s in set(itertools.chain.from_iterable(pairs))}
        left = np.array([hashes[a] for a, _ in pairs], np.uint64)
        right = np.array([hashes[b] for _, b in pairs], np.uint64)
        keys = np.unique(combine(left, right)) if pairs else np.zeros(0, np.uint64)
        return cls(keys)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Whether each bigram key (any shape) is a pair of the dictionary."""
        if self.pair_keys.size == 0:
            return np.zeros(keys.shape, bool)
        where = np.searchsorted(self.pair_keys, keys)
        return self.pair_keys.take(where, mode="clip") == keys


def read_words() -> list[str]:
    """pyvi's word list, or nothing when pyvi does not ship one."""
    try:
        import pyvi
    except ImportError:
        return []
    try:
        text = (Path(pyvi.__file__).parent / "models" / "words.txt").read_text("utf-8")
    except OSError:
        return []
    return text.splitlines()


@functools.cache
def dictionary_prior() -> DictionaryPrior | None:
    """The prior from pyvi's word list, read once per process (on the first decoding that
    needs it), or None without a list."""
    words = read_words()
    return DictionaryPrior.from_words(words) if words else None
