"""Counting the syllables, pairs and triples of bulletin text, vectorised.

The writer's hot loop: every title and body of a generation passes through here once, so it is
kept apart from the arrays' arithmetic (:mod:`searcher.lm_counts`) and does no Python work per
token. Text is cut at punctuation into runs of syllables (a digit only separates two syllables
of a run), each lower-cased with its tone placed as :func:`searcher.analysis.canonical_syllable`
places it (so old and new placement agree), and counted with how often it was written
Capitalised or in CAPITALS. One regular expression finds words and breaks in a whole batch of
texts; each distinct spelling is then handled once, and every count is a numpy operation on
the token codes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import numpy as np

from searcher.analysis import canonical_syllable
from searcher.lm_counts import Counts, combine, syllable_hash

#: A word (letters) or a run of the punctuation that ends a run of syllables. The two classes
#: share no character, so the words are those of cutting at punctuation, then finding words.
_TOKEN = re.compile(r"[^\W\d_]+|[.!?;:\n\"“”()\[\]…–—\-]+")
_WORD = re.compile(r"[^\W\d_]")
#: Characters of text tokenised at once: large enough to amortise the calls, small enough that
#: the batch's token strings stay a few tens of megabytes.
_BATCH_CHARS = 4_000_000
_LOWER, _TITLE, _UPPER = 0, 1, 2


def _casing(surface: str) -> int:
    if len(surface) > 1 and surface.isupper():
        return _UPPER
    return _TITLE if surface[:1].isupper() else _LOWER


def _batches(texts: Iterable[str]) -> Iterator[str]:
    """The texts joined by line breaks (a break between texts) in batches of bounded size."""
    batch: list[str] = []
    size = 0
    for text in texts:
        batch.append(text)
        size += len(text)
        if size >= _BATCH_CHARS:
            yield "\n".join(batch)
            batch, size = [], 0
    if batch:
        yield "\n".join(batch)


def _token_codes(texts: Iterable[str], surfaces: dict[str, int]) -> np.ndarray:
    """Each token of ``texts`` as the number of its spelling in ``surfaces`` (filled here),
    texts separated by a break token."""
    surfaces.setdefault("\n", len(surfaces))
    separator = np.array([surfaces["\n"]], np.int64)
    codes = []
    for batch in _batches(texts):
        tokens = _TOKEN.findall(batch)
        for token in dict.fromkeys(tokens):
            surfaces.setdefault(token, len(surfaces))
        codes.append(np.fromiter(map(surfaces.__getitem__, tokens), np.int64, len(tokens)))
        codes.append(separator)
    return np.concatenate(codes) if codes else np.zeros(0, np.int64)


def count_texts(texts: Iterable[str]) -> Counts:
    """Count the syllables, pairs and triples of ``texts`` (each text on its own)."""
    surfaces: dict[str, int] = {}
    codes = _token_codes(texts, surfaces)
    # Per distinct spelling: is it a word, which canonical syllable, which casing.
    syllable_ids: dict[str, int] = {}
    is_word = np.zeros(len(surfaces), bool)
    syllable_of = np.zeros(len(surfaces), np.int64)
    casing_of = np.zeros(len(surfaces), np.int8)
    for surface, code in surfaces.items():
        if _WORD.match(surface):
            is_word[code] = True
            syllable = canonical_syllable(surface)
            syllable_of[code] = syllable_ids.setdefault(syllable, len(syllable_ids))
            casing_of[code] = _casing(surface)
    if not syllable_ids:
        return Counts.empty()
    word = is_word[codes]
    run = np.cumsum(~word)[word]  # the run of each word: breaks seen before it
    codes = codes[word]
    ids = syllable_of[codes]
    casing = casing_of[codes]
    # A capital at the start of a sentence, a caption or a heading says nothing of a name.
    starts = np.ones(run.size, bool)
    starts[1:] = run[1:] != run[:-1]
    casing[starts & (casing == _TITLE)] = _LOWER
    size = len(syllable_ids)
    unigrams = np.stack(
        [
            np.bincount(ids, minlength=size),
            np.bincount(ids[casing == _TITLE], minlength=size),
            np.bincount(ids[casing == _UPPER], minlength=size),
        ],
        axis=1,
    ).astype(np.int64)
    syllables = list(syllable_ids)
    hashes = np.array([syllable_hash(s) for s in syllables], dtype=np.uint64)[ids]
    paired = run[1:] == run[:-1]
    tripled = paired[:-1] & paired[1:]
    pairs = combine(hashes[:-1], hashes[1:])
    triples = combine(pairs[:-1], hashes[2:])[tripled]
    title = casing == _TITLE
    bigram_keys, bigram_counts = np.unique(pairs[paired], return_counts=True)
    # Title Title pairs are a subset of the pairs: their counts go to their keys' rows.
    titled, titled_counts = np.unique(pairs[paired & title[:-1] & title[1:]], return_counts=True)
    bigram_titles = np.zeros(bigram_keys.size, np.int64)
    bigram_titles[np.searchsorted(bigram_keys, titled)] = titled_counts
    trigram_keys, trigram_counts = np.unique(triples, return_counts=True)
    order = np.argsort(syllables, kind="stable")
    return Counts(
        [syllables[i] for i in order],
        unigrams[order],
        bigram_keys,
        np.stack([bigram_counts, bigram_titles], axis=1).astype(np.int64),
        trigram_keys,
        trigram_counts.astype(np.int64),
    )
