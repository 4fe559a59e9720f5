"""pyvi's syllables of a text, and offsets in a text's NFC form mapped back to the text.

pyvi splits text into syllables with one regular expression on the NFC text; :func:`syllabize`
gives the same list, settling the common chunks without the expression.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from functools import cache
from typing import Any

# pyvi's syllable pattern, alternative for alternative and in the same order (the order decides
# which alternative wins at a position); pyvi's capture groups are made non-capturing, which
# changes nothing about what matches.
_SYLLABLE = re.compile(
    "|".join(
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
            r"[a-zA-Z0-9_.+-]+@(?:[a-zA-Z0-9-]+\.)+[a-zA-Z0-9-]+",
            r"\d+(?:[\.,_]\d+)+",
            r"[^\w\s]",
            r"\w+",
        ]
    )
)


# A chunk that is a run of [A-ZĐ] or one of these, followed by '.', is one syllable.
_DOTTED = frozenset(["Tp", "Mr", "Mrs", "Ms", "Dr", "ThS"])
_CAPS = re.compile(r"[A-ZĐ]+")


def syllabize(nfc: str, out: list[str]) -> int:
    """Append pyvi's syllables of an NFC text to ``out`` (``ViTokenizer.sylabelize``'s list).

    Returns how many were appended. pyvi's pattern never matches across whitespace and never
    looks behind, so each whitespace-delimited chunk is tokenized on its own, and the common
    chunks are settled without the regular expression:

    * only letters and digits (``\\w`` minus '_'): every alternative before ``\\w+`` needs some
      other character ('.', ':', '@', a digit separator), so the chunk is one syllable; so is
      a chunk of one character (only the last two alternatives match a single character);
    * such a run plus one final non-word character: the run, then the character; except
      that a run of [A-ZĐ] or "Tp", "Mr", ... followed by '.' is an abbreviation;
    * one leading non-word character before such a run: the character, then the run
      (no alternative starting with a punctuation mark can match a single one).

    Anything else goes through pyvi's pattern.
    """
    before = len(out)
    append, findall = out.append, _SYLLABLE.findall
    lines = nfc.split("\n")
    for i, line in enumerate(lines):
        if i:
            append("\n")
        for chunk in line.split():
            if chunk.isalnum() or len(chunk) == 1:
                append(chunk)
                continue
            head, tail = chunk[:-1], chunk[-1]
            if head.isalnum() and not tail.isalnum() and tail != "_":
                if tail == "." and (head in _DOTTED or _CAPS.fullmatch(head)):
                    append(chunk)
                else:
                    append(head)
                    append(tail)
                continue
            lead, rest = chunk[0], chunk[1:]
            if rest.isalnum() and not lead.isalnum() and lead != "_":
                append(lead)
                append(rest)
            else:
                out.extend(findall(chunk))
    return len(out) - before


# --- offsets -----------------------------------------------------------------------------------


class OffsetMap:
    """Maps offsets in ``NFC(text)`` back to offsets in ``text``.

    NFC can change lengths (NFD input composes), so the text is cut into runs that normalize
    independently; offsets on run boundaries map exactly, offsets inside a changed run (rare:
    marks that do not compose) go to the longest original prefix whose NFC fits.
    """

    __slots__ = ("_nfc_starts", "_runs", "_text")

    def __init__(self, text: str, nfc: str) -> None:
        self._text = text
        self._runs = _independent_runs(text, nfc)
        self._nfc_starts = [r[2] for r in self._runs]

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
        if oend - ostart == len(norm):
            return ostart + off
        best = ostart
        for j in range(ostart + 1, oend + 1):
            piece = unicodedata.normalize("NFC", self._text[ostart:j])
            if len(piece) <= off and norm.startswith(piece):
                best = j
        return best


def _independent_runs(text: str, nfc: str) -> list[tuple[int, int, int, str]]:
    """Cut ``text`` into runs whose NFC forms concatenate to ``nfc``.

    Each run is ``(orig_start, orig_end, nfc_start, nfc_of_run)``. Runs start at characters of
    canonical combining class 0; where a run composes with its neighbour (Hangul jamo, a few
    Indic vowel signs) the two are merged, and as a last resort the whole text is one run.
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


@cache
def skippable() -> Any:
    """Lookup table: code point -> skipped between syllables (whitespace other than '\\n')."""
    import numpy as np

    # U+3000 is the last whitespace code point; everything above maps to the final False.
    table = np.zeros(0x3002, dtype=bool)
    table[:0x3001] = [chr(cp).isspace() for cp in range(0x3001)]
    table[10] = False
    return table
