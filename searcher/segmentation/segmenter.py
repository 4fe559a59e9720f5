"""The segmenter's front door: :class:`Segmenter` and the :class:`Segmentation` it returns.

A batch of texts is cut into pyvi's syllables (:mod:`.syllables`), labelled with pyvi's model
(:mod:`.model`, :mod:`.tagging`), then rendered as pyvi's output string or as spans into each
text as given.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from searcher.segmentation.model import Model, shared_model
from searcher.segmentation.syllables import OffsetMap, skippable, syllabize
from searcher.segmentation.tagging import Layout, exclusive_cumsum, joins_numpy, joins_python

# Inputs with fewer syllables than this are scored in plain Python: NumPy's per-call overhead
# would dominate (search queries, titles).
VECTORIZE_FROM = 128


@dataclass(frozen=True, slots=True)
class Segmentation:
    """Where pyvi's syllables and words lie in a text.

    ``syllables`` has one ``(start, end)`` per pyvi token (punctuation and ``'\\n'`` included);
    ``words`` has one ``(start, end, is_compound)`` per unit of pyvi's output, i.e. per
    space-separated token of ``tokenize(text)``; ``is_compound`` is true when pyvi joined
    several syllables with ``'_'``. Spans index the text as given, not its NFC form.
    """

    syllables: list[tuple[int, int]]
    words: list[tuple[int, int, bool]]


@dataclass(slots=True)
class _Batch:
    """Syllables of many texts and pyvi's underscore decision per syllable (flat)."""

    texts: list[str]
    nfcs: list[str]
    tokens: list[str]
    lengths: list[int]
    joins: Any  # list[bool] or a NumPy bool array
    vectorized: bool  # labelled (and so rendered) with NumPy


class Segmenter:
    """Segments Vietnamese text exactly as pyvi does, and says where each word is.

    ``model`` is the weight tables to score with; by default the process-wide one, loaded
    from pyvi on first use and shared by all instances. A call keeps its state to itself; the
    only shared mutable state is the model's append-only cache of syllable features (see
    :class:`~searcher.segmentation.model.Model`), so one segmenter may serve several threads.
    A batch of ``vectorize_from`` syllables or more is labelled with NumPy, a smaller one in
    plain Python; both give the same result.
    """

    def __init__(self, model: Model | None = None, *, vectorize_from: int = VECTORIZE_FROM) -> None:
        self._model = model
        self.vectorize_from = vectorize_from

    @property
    def model(self) -> Model:
        """The model given, else the process-wide one (loaded here on first use)."""
        return self._model if self._model is not None else shared_model()

    def tokenize(self, text: str) -> str:
        """pyvi's ``ViTokenizer.tokenize(text)``, character for character."""
        return self.tokenize_many([text])[0]

    def tokenize_many(self, texts: Iterable[str]) -> list[str]:
        """``tokenize`` for many texts: one batched pass, much faster than a call each."""
        return _render(self._analyse(list(texts)))

    def words(self, text: str) -> list[tuple[int, int, bool]]:
        """One ``(start, end, is_compound)`` per unit of ``tokenize(text)``, spans into ``text``."""
        return self.segment(text).words

    def segment(self, text: str) -> Segmentation:
        """Syllable and word spans of ``text`` (spans into ``text`` as given)."""
        return self.segment_many([text])[0]

    def segment_many(self, texts: Iterable[str]) -> list[Segmentation]:
        """``segment`` for many texts: one batched pass (the indexer's path)."""
        return _spans(self._analyse(list(texts)))

    def _analyse(self, texts: list[str]) -> _Batch:
        """Syllables of ``texts`` and pyvi's glue decisions; the model loads only if needed."""
        nfcs = [unicodedata.normalize("NFC", t) for t in texts]
        tokens: list[str] = []
        lengths = [syllabize(t, tokens) for t in nfcs]
        joins: Any = []
        vectorized = bool(tokens) and len(tokens) >= self.vectorize_from
        if vectorized:
            model = self.model
            joins = joins_numpy(model, model.ids(tokens), tokens, Layout.of(lengths))
        elif tokens:
            model = self.model
            records = model.records
            rows = model.rows(tokens)
            recs = [
                records[r] if r >= 0 else model.record(t) for r, t in zip(rows, tokens, strict=True)
            ]
            pos = 0
            for n in lengths:
                if n:
                    joins.extend(joins_python(model, recs[pos : pos + n]))
                pos += n
        return _Batch(texts, nfcs, tokens, lengths, joins, vectorized)


def _render(batch: _Batch) -> list[str]:
    """pyvi's output strings: syllables joined by ' ', or by '_' where glued.

    pyvi returns a text without syllables (empty, blank) unchanged.
    """
    tokens, joins = batch.tokens, batch.joins
    if not batch.vectorized:
        out = []
        pos = 0
        for text, n in zip(batch.texts, batch.lengths, strict=True):
            if not n:
                out.append(text)
                continue
            parts = [tokens[pos]]
            for i in range(pos + 1, pos + n):
                parts.append("_" if joins[i] else " ")
                parts.append(tokens[i])
            out.append("".join(parts))
            pos += n
        return out

    import numpy as np

    # Join everything with ' ' (syllables hold no ' '), then turn glued separators into '_'.
    joined = " ".join(tokens)
    chars = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).copy()
    seps = np.flatnonzero(chars == 32)  # seps[k] lies between syllables k and k + 1
    chars[seps[np.flatnonzero(joins[1:])]] = ord("_")
    joined = chars.tobytes().decode("utf-32-le", "surrogatepass")
    lens = np.array(batch.lengths, dtype=np.int64)
    lens = lens[lens > 0]
    firsts = exclusive_cumsum(lens)
    begin = np.concatenate(([0], seps + 1))[firsts].tolist()
    end = np.concatenate((seps, [len(joined)]))[firsts + lens - 1].tolist()
    out = []
    k = 0
    for text, n in zip(batch.texts, batch.lengths, strict=True):
        if n:
            out.append(joined[begin[k] : end[k]])
            k += 1
        else:
            out.append(text)
    return out


def _spans_python(
    text: str, nfc: str, tokens: Sequence[str], joins: Sequence[bool]
) -> Segmentation:
    """Spans of one text of a small batch, by scanning its NFC form."""
    syllables: list[tuple[int, int]] = []
    words: list[tuple[int, int, bool]] = []
    pos = 0
    for tok, join in zip(tokens, joins, strict=True):
        # Only whitespace other than '\n' lies between syllables, and no syllable starts with
        # it, so the next occurrence is the syllable itself.
        start = nfc.find(tok, pos)
        pos = start + len(tok)
        syllables.append((start, pos))
        if join:
            words[-1] = (words[-1][0], pos, True)
        else:
            words.append((start, pos, False))
    if nfc != text and syllables:
        to_orig = OffsetMap(text, nfc)
        syllables = [(to_orig(a), to_orig(b)) for a, b in syllables]
        words = [(to_orig(a), to_orig(b), c) for a, b, c in words]
    return Segmentation(syllables, words)


def _spans(batch: _Batch) -> list[Segmentation]:
    """Syllable and word spans of every text of the batch.

    Syllables cover every character of the NFC text except whitespace other than '\\n', in
    order: the k-th syllable is the next ``len(syllable)`` characters that are not skipped.
    """
    n = len(batch.tokens)
    if not batch.vectorized:
        out, pos = [], 0
        for text, nfc, count in zip(batch.texts, batch.nfcs, batch.lengths, strict=True):
            toks, joins = batch.tokens[pos : pos + count], batch.joins[pos : pos + count]
            out.append(_spans_python(text, nfc, toks, joins))
            pos += count
        return out
    import numpy as np

    big = "".join(batch.nfcs)
    codes = np.frombuffer(big.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    kept = np.flatnonzero(~skippable()[np.minimum(codes, 0x3001)])
    sizes = np.fromiter(map(len, batch.tokens), dtype=np.int64, count=n)
    if int(sizes.sum()) != kept.size:  # pragma: no cover - would be a bug in syllabize
        raise AssertionError("syllables do not cover the text")
    first_char = exclusive_cumsum(sizes)
    counts = np.array(batch.lengths, dtype=np.int64)
    text_offsets = exclusive_cumsum(np.array([len(t) for t in batch.nfcs], dtype=np.int64))
    base = np.repeat(text_offsets, counts)
    starts = kept[first_char] - base
    ends = kept[first_char + sizes - 1] + 1 - base
    word_first = np.flatnonzero(~np.asarray(batch.joins, dtype=bool))
    word_last = np.empty_like(word_first)
    word_last[:-1] = word_first[1:] - 1
    word_last[-1] = n - 1
    syllables = list(zip(starts.tolist(), ends.tolist(), strict=True))
    words = list(
        zip(
            starts[word_first].tolist(),
            ends[word_last].tolist(),
            (word_last > word_first).tolist(),
            strict=True,
        )
    )
    # A text's first syllable is never glued, so words never cross texts.
    word_bounds = np.searchsorted(word_first, exclusive_cumsum(counts)).tolist()
    word_bounds.append(len(words))
    out = []
    pos = 0
    for k, (text, nfc, count) in enumerate(
        zip(batch.texts, batch.nfcs, batch.lengths, strict=True)
    ):
        if not count:
            out.append(Segmentation([], []))
            continue
        syl = syllables[pos : pos + count]
        wrd = words[word_bounds[k] : word_bounds[k + 1]]
        pos += count
        if nfc != text:
            to_orig = OffsetMap(text, nfc)
            syl = [(to_orig(a), to_orig(b)) for a, b in syl]
            wrd = [(to_orig(a), to_orig(b), c) for a, b, c in wrd]
        out.append(Segmentation(syl, wrd))
    return out
