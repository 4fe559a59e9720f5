"""Vietnamese word segmentation with pyvi's own CRF model, with character spans.

pyvi (``pyvi.ViTokenizer``) is the reference: :meth:`Segmenter.tokenize` returns exactly what
``ViTokenizer.tokenize`` returns. On top of that the segmenter reports where every syllable and
every word lies in the text *as given* (NFD input included), which the highlighter needs.

pyvi loads its model when ``pyvi.ViTokenizer`` is imported, so this module imports it only on
first use: ``import searcher.segmentation`` stays cheap.
"""

from __future__ import annotations

import re
import string
import threading
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Segmentation", "Segmenter"]

# pyvi's syllable pattern, alternative for alternative and in the same order (order decides
# which alternative wins at a position).
_SYLLABLE = re.compile(
    "("
    + "|".join(
        [
            r"[A-ZĐ]+\.",
            r"Tp\.",
            r"Mr\.",
            r"Mrs\.",
            r"Ms\.",
            r"Dr\.",
            r"ThS\.",
            r"==>",
            r"->",
            r"\.\.\.",
            r">>",
            "\n",
            r"\w+://[^\s]+",
            r"([a-zA-Z0-9_.+-]+@([a-zA-Z0-9-]+\.)+[a-zA-Z0-9-]+)",
            r"\d+([\.,_]\d+)+",
            r"[^\w\s]",
            r"\w+",
        ]
    )
    + ")",
    re.UNICODE,
)


@dataclass(frozen=True, slots=True)
class Segmentation:
    """Where pyvi's syllables and words lie in a text.

    ``syllables`` has one ``(start, end)`` per pyvi token (punctuation and ``'\\n'`` included);
    ``words`` has one ``(start, end, is_compound)`` per unit of pyvi's output, i.e. per
    space-separated token of ``tokenize(text)``. Spans index the text as given, not its NFC form.
    """

    syllables: list[tuple[int, int]]
    words: list[tuple[int, int, bool]]


_EMPTY = Segmentation([], [])


class _OffsetMap:
    """Maps offsets in ``NFC(text)`` back to offsets in ``text``.

    NFC can change lengths (NFD input composes), so the text is cut into runs that normalize
    independently; offsets on run boundaries map exactly, offsets inside a changed run are
    aligned by normalizing prefixes of the run.
    """

    __slots__ = ("_nfc_starts", "_orig_starts", "_runs", "_text")

    def __init__(self, text: str, nfc: str) -> None:
        runs = _independent_runs(text, nfc)
        self._text = text
        self._runs = runs
        self._nfc_starts = [r[2] for r in runs]
        self._orig_starts = [r[0] for r in runs]

    def __call__(self, k: int) -> int:
        i = bisect_right(self._nfc_starts, k) - 1
        if i < 0:
            return 0
        ostart, oend, nstart, norm = self._runs[i]
        off = k - nstart
        if off == 0:
            return ostart
        if off >= len(norm):
            return oend
        chunk_len = oend - ostart
        if chunk_len == len(norm):
            return ostart + off
        # A boundary inside a run whose length changed (rare: marks that do not compose):
        # take the longest original prefix whose NFC is a prefix of at most ``off`` characters.
        best = ostart
        for j in range(ostart + 1, oend + 1):
            piece = unicodedata.normalize("NFC", self._text[ostart:j])
            if len(piece) <= off and norm.startswith(piece):
                best = j
        return best


def _independent_runs(text: str, nfc: str) -> list[tuple[int, int, int, str]]:
    """Cut ``text`` into runs whose NFC forms concatenate to ``nfc``.

    Each run is ``(orig_start, orig_end, nfc_start, nfc_of_run)``. Runs start at characters of
    canonical combining class 0; if some run would compose with its neighbour (Hangul jamo,
    a few Indic vowel signs) neighbours are merged, and as a last resort the whole text is one
    run.
    """
    starts = [i for i, ch in enumerate(text) if i == 0 or unicodedata.combining(ch) == 0]
    starts.append(len(text))
    pieces = [(starts[k], starts[k + 1]) for k in range(len(starts) - 1)]
    normed = [unicodedata.normalize("NFC", text[a:b]) for a, b in pieces]
    if "".join(normed) != nfc:
        merged: list[tuple[int, int]] = []
        merged_norm: list[str] = []
        for (a, b), norm in zip(pieces, normed, strict=True):
            if merged:
                pa, _ = merged[-1]
                joined = unicodedata.normalize("NFC", text[pa:b])
                if joined != merged_norm[-1] + norm:
                    merged[-1] = (pa, b)
                    merged_norm[-1] = joined
                    continue
            merged.append((a, b))
            merged_norm.append(norm)
        pieces, normed = merged, merged_norm
        if "".join(normed) != nfc:
            pieces, normed = [(0, len(text))], [nfc]
    runs = []
    pos = 0
    for (a, b), norm in zip(pieces, normed, strict=True):
        runs.append((a, b, pos, norm))
        pos += len(norm)
    return runs


def _syllabize(nfc: str) -> tuple[list[str], list[tuple[int, int]]]:
    """pyvi's syllables of an NFC text, with their spans in that text."""
    tokens: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _SYLLABLE.finditer(nfc):
        tokens.append(m.group())
        spans.append(m.span())
    return tokens, spans


def _joins(tokens: Sequence[str], labels: Sequence[str]) -> list[bool]:
    """pyvi's rule for gluing syllable ``i`` to syllable ``i - 1`` with an underscore.

    ``tok in string.punctuation`` is a substring test in pyvi; it is kept as is.
    """
    punct = string.punctuation
    out = [False]
    for i in range(1, len(labels)):
        cur, prev = tokens[i], tokens[i - 1]
        out.append(
            labels[i] == "I_W"
            and cur not in punct
            and prev not in punct
            and not cur[0].isdigit()
            and not prev[0].isdigit()
            and not (cur[0].istitle() and not prev[0].istitle())
        )
    return out


class _ReferenceModel:
    """pyvi's own tagger, imported on first use (the import unpickles the model)."""

    _lock = threading.Lock()
    _tokenizer: Any = None

    @classmethod
    def tokenizer(cls) -> Any:
        if cls._tokenizer is None:
            with cls._lock:
                if cls._tokenizer is None:
                    from pyvi import ViTokenizer

                    cls._tokenizer = ViTokenizer.ViTokenizer
        return cls._tokenizer

    @classmethod
    def labels(cls, tokens: list[str]) -> list[str]:
        tok = cls.tokenizer()
        return list(tok.model.predict([tok.sent2features(tokens, False)])[0])


class Segmenter:
    """Segments Vietnamese text exactly as pyvi does, and says where each word is.

    The model is loaded once per process, on first use, and shared by all instances; calls
    keep no state between them, so one segmenter may serve several threads.
    """

    def tokenize(self, text: str) -> str:
        """pyvi's ``ViTokenizer.tokenize(text)``, character for character."""
        return self.tokenize_many([text])[0]

    def tokenize_many(self, texts: Iterable[str]) -> list[str]:
        """``tokenize`` for many texts."""
        out = []
        for text in texts:
            nfc = unicodedata.normalize("NFC", text)
            tokens, _ = _syllabize(nfc)
            if not tokens:
                out.append(text)
                continue
            joins = _joins(tokens, _ReferenceModel.labels(tokens))
            parts = [tokens[0]]
            for tok, join in zip(tokens[1:], joins[1:], strict=True):
                parts.append("_" if join else " ")
                parts.append(tok)
            out.append("".join(parts))
        return out

    def words(self, text: str) -> list[tuple[int, int, bool]]:
        """One ``(start, end, is_compound)`` per unit of ``tokenize(text)``, spans into ``text``."""
        return self.segment(text).words

    def segment(self, text: str) -> Segmentation:
        """Syllable and word spans of ``text`` (spans into ``text`` as given)."""
        return self.segment_many([text])[0]

    def segment_many(self, texts: Iterable[str]) -> list[Segmentation]:
        """``segment`` for many texts."""
        out = []
        for text in texts:
            nfc = unicodedata.normalize("NFC", text)
            tokens, spans = _syllabize(nfc)
            if not tokens:
                out.append(_EMPTY)
                continue
            joins = _joins(tokens, _ReferenceModel.labels(tokens))
            if nfc != text:
                to_orig = _OffsetMap(text, nfc)
                spans = [(to_orig(a), to_orig(b)) for a, b in spans]
            words: list[tuple[int, int, bool]] = []
            for (a, b), join in zip(spans, joins, strict=True):
                if join:
                    words[-1] = (words[-1][0], b, True)
                else:
                    words.append((a, b, False))
            out.append(Segmentation(spans, words))
        return out
