"""Counting the syllables, pairs and triples of bulletin text.

The writer's hot loop: every title and body of a generation passes through here once, so it is
kept small and separate from the arrays' arithmetic (:mod:`searcher.lm_counts`). Text is cut at
punctuation and digits into runs of syllables, each lower-cased with its tone placed as
:func:`searcher.analysis.canonical_syllable` places it (so old and new placement agree), and
counted with how often it was written Capitalised or in CAPITALS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from searcher.analysis import canonical_syllable
from searcher.lm_counts import Counts, combine, summed_rows, syllable_hash

_BREAK = re.compile(r"[.!?;:\n\"“”()\[\]…–—\-]+")
_WORD = re.compile(r"[^\W\d_]+")
_LOWER, _TITLE, _UPPER = 0, 1, 2


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


def count_texts(texts: Iterable[str]) -> Counts:
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
        return Counts.empty()
    syllables = list(ids)
    hashes = np.array([syllable_hash(s) for s in syllables], dtype=np.uint64)
    pairs, pair_title, tri = [], [], []
    for row, titles in zip(run_ids, run_title, strict=True):
        if row.size < 2:
            continue
        h = hashes[row]
        key2 = combine(h[:-1], h[1:])
        pairs.append(key2)
        pair_title.append(titles[:-1] & titles[1:])
        if row.size > 2:
            tri.append(combine(key2[:-1], h[2:]))
    bigram_keys = np.concatenate(pairs) if pairs else np.zeros(0, np.uint64)
    title = np.concatenate(pair_title) if pair_title else np.zeros(0, bool)
    bigrams = np.stack([np.ones(bigram_keys.size, np.int64), title.astype(np.int64)], axis=1)
    trigram_keys = np.concatenate(tri) if tri else np.zeros(0, np.uint64)
    order = np.argsort(syllables, kind="stable")
    return Counts(
        [syllables[i] for i in order],
        np.array(uni, dtype=np.int64)[order],
        *summed_rows(bigram_keys, bigrams),
        *summed_rows(trigram_keys, np.ones(trigram_keys.size, np.int64)),
    )
