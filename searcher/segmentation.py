"""Vietnamese word segmentation with pyvi's own CRF model: same output, much faster, with spans.

pyvi (``pyvi.ViTokenizer``) is the reference: :meth:`Segmenter.tokenize` returns exactly what
``ViTokenizer.tokenize`` returns, character for character. pyvi spends most of its time building
one Python feature dict per syllable and handing it to crfsuite; here the same features are
scored from weight tables read out of pyvi's own model file, with NumPy, many documents at a time.
Nothing is retrained: the weights are the float64 values stored in the model, added in
crfsuite's order, and the best label path is crfsuite's Viterbi (ties included), so the labels
are bit-for-bit the ones crfsuite would choose.

How each step reproduces pyvi/crfsuite:

* Syllables: pyvi's regular expression on the NFC text. Its matches never straddle whitespace,
  so each whitespace-delimited chunk is split on its own, and the common chunks (a run of
  letters and digits, with at most one punctuation mark before or after it) without the
  regular expression.
* Features: pyvi's dict per syllable becomes crfsuite attributes ``"key:value"`` (strings,
  weight x 1.0) and ``"key"`` (bools, weight x 1.0 or x 0.0). The state score of a position is
  the sum of the weights of its attributes, in the dict's insertion order, starting from 0.0.
  The five attributes that depend on the syllable alone are summed once per distinct syllable
  and cached; the neighbour attributes are added position-wise with NumPy, in the same order.
  crfsuite looks attribute names up as C strings, so a name is cut at its first NUL.
* Viterbi: crfsuite's recurrence is sequential, but with two labels only the difference between
  the labels' running scores matters, and it forgets its past within a step or two; so every
  back-pointer is computed vectorized, with its margin. crfsuite's float64 rounding is bounded
  by the sequence's length and score magnitudes; a sequence whose every choice clears that
  bound is provably labelled as crfsuite labels it, any other is decoded with crfsuite's loop
  step for step (strict ``<`` comparisons, first index wins ties).

pyvi loads its model when ``pyvi.ViTokenizer`` is imported; this module never imports it. The
model file is read from the installed pyvi package on first use, so ``import
searcher.segmentation`` stays cheap.
"""

from __future__ import annotations

import importlib.util
import io
import pickle
import re
import string
import struct
import threading
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["Segmentation", "Segmenter"]

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

# Inputs with fewer syllables than this are scored in plain Python: NumPy's per-call overhead
# would dominate (search queries, titles).
_SMALL = 128
# Distinct syllables whose features are cached for the life of the process (about 250 bytes
# each; 4,000 news articles hold some 23,000). Beyond it, new syllables are scored per call.
_CACHE_LIMIT = 200_000


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


# --- syllables ---------------------------------------------------------------------------------


# A chunk that is a run of [A-ZĐ] or one of these, followed by '.', is one syllable.
_DOTTED = frozenset(["Tp", "Mr", "Mrs", "Ms", "Dr", "ThS"])
_CAPS = re.compile(r"[A-ZĐ]+")


def _syllabize(nfc: str, out: list[str]) -> int:
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


# --- the model ---------------------------------------------------------------------------------


class _Stub:
    """Stands in for every class in pyvi's pickle: only the model file's bytes are wanted."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        if isinstance(state, dict):
            self.__dict__.update(state)


class _ModelUnpickler(pickle.Unpickler):
    """Unpickles pyvi's sklearn-crfsuite ``CRF`` without importing scikit-learn.

    The pickle holds the crfsuite model file's bytes (``modelfile.__FILE_RESOURCE_DATA__``); the
    classes around it are replaced by stubs, so loading is fast, raises no warnings and runs no
    code from the pickle.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("_codecs", "encode"):
            import codecs

            return codecs.encode
        if module.split(".")[0] in {"sklearn_crfsuite", "pycrfsuite", "numpy", "sklearn"}:
            return _Stub
        raise pickle.UnpicklingError(f"unexpected global in pyvi's model: {module}.{name}")


def _pyvi_dir() -> Path:
    """The installed pyvi package folder, found without importing ``pyvi.ViTokenizer``."""
    spec = importlib.util.find_spec("pyvi")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pyvi is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _crfsuite_bytes(pickled: bytes) -> bytes:
    crf = _ModelUnpickler(io.BytesIO(pickled)).load()
    data = crf.__dict__["modelfile"].__dict__.get("__FILE_RESOURCE_DATA__")
    if not isinstance(data, bytes):
        raise ValueError("pyvi's model pickle holds no crfsuite model")
    return data


def _cqdb_strings(buf: bytes, offset: int) -> list[str]:
    """The strings of a crfsuite CQDB chunk, indexed by id."""
    chunk, _, _, _, count, back_offset = struct.unpack_from("<4sIIIII", buf, offset)
    if chunk != b"CQDB":
        raise ValueError("not a CQDB chunk")
    out = []
    for ident, pos in enumerate(struct.unpack_from(f"<{count}I", buf, offset + back_offset)):
        rec_id, size = struct.unpack_from("<iI", buf, offset + pos)
        if rec_id != ident:
            raise ValueError("corrupt CQDB chunk")
        key = buf[offset + pos + 8 : offset + pos + 8 + size - 1]
        out.append(key.decode("utf-8", "surrogateescape"))
    return out


def _read_crfsuite(buf: bytes) -> tuple[list[str], dict[str, list[float]], list[list[float]]]:
    """Labels, state weights ``{attribute: [w per label]}`` and transitions of a CRF1d model.

    The weights are the float64 values stored in the file; python-crfsuite's ``Tagger.info()``
    would go through a text dump that rounds them.
    """
    header = struct.unpack_from("<4sI4sIIIIIIIII", buf, 0)
    magic, _, kind, _, _, n_labels, _, off_feats, off_labels, off_attrs = header[:10]
    if magic != b"lCRF" or kind != b"FOMC":
        raise ValueError("not a crfsuite CRF1d model")
    labels = _cqdb_strings(buf, off_labels)
    attrs = _cqdb_strings(buf, off_attrs)
    chunk, _, count = struct.unpack_from("<4sII", buf, off_feats)
    if chunk != b"FEAT":
        raise ValueError("corrupt crfsuite model")
    state: dict[str, list[float]] = {}
    trans = [[0.0] * n_labels for _ in range(n_labels)]
    body = buf[off_feats + 12 : off_feats + 12 + 20 * count]
    for kind_id, src, dst, weight in struct.iter_unpack("<IIId", body):
        if kind_id == 0:
            state.setdefault(attrs[src], [0.0] * n_labels)[dst] = weight
        elif kind_id == 1:
            trans[src][dst] = weight
    return labels, state, trans


# Bits of a syllable's flags: the first three feed pyvi's underscore rule, the last two are the
# neighbour features '±1:word.istitle()' and '±1:word.isupper()'.
_PUNCT, _FIRST_DIGIT, _FIRST_TITLE, _TITLE, _UPPER = 1, 2, 4, 8, 16

_Record = tuple[float, float, float, float, float, float, int, int]


class _Model:
    """pyvi's tokenizer model as weight tables, plus a cache of per-syllable features.

    Immutable after construction except for the syllable cache, which only grows: rows are
    written under a lock and published before their syllable appears in ``index``, so readers
    need no lock.
    """

    def __init__(self, crfsuite: bytes, words: str) -> None:
        import numpy as np

        labels, state, trans = _read_crfsuite(crfsuite)
        if sorted(labels) != ["B_W", "I_W"]:
            raise ValueError(f"unexpected labels in pyvi's model: {labels}")
        self.inside = labels.index("I_W")

        def weights(name: str) -> tuple[float, float]:
            w = state.get(name, [0.0, 0.0])
            return (w[0], w[1])

        def by_value(prefix: str) -> dict[str, tuple[float, float]]:
            n = len(prefix)
            return {k[n:]: (w[0], w[1]) for k, w in state.items() if k.startswith(prefix)}

        self.bias = weights("bias")
        self.w_upper = weights("word.isupper()")
        self.w_title = weights("word.istitle()")
        self.w_digit = weights("word.isdigit()")
        self.w_prev_title = weights("-1:word.istitle()")
        self.w_prev_upper = weights("-1:word.isupper()")
        self.w_prev_bigram = weights("-1:word.bi_gram()")
        self.w_prev_trigram = weights("-2:word.tri_gram()")
        self.w_next_title = weights("+1:word.istitle()")
        self.w_next_upper = weights("+1:word.isupper()")
        self.w_next_bigram = weights("+1:word.bi_gram()")
        self.w_next_trigram = weights("+2:word.tri_gram()")
        self.lower_w = by_value("word.lower():")
        self.prev_lower_w = by_value("-1:word.lower():")
        self.next_lower_w = by_value("+1:word.lower():")
        self.trans = ((trans[0][0], trans[0][1]), (trans[1][0], trans[1][1]))

        # pyvi's dictionary (models/words.txt): its two- and three-syllable entries. pyvi tests
        # the lower-cased syllables joined by ' '; syllables hold no ' ', so that is exactly
        # "each syllable is the entry's part", done here on integer part ids.
        parts: dict[str, int] = {}
        entries = [
            [parts.setdefault(p, len(parts)) for p in pieces]
            for pieces in (e.split(" ") for e in words.split("\n"))
            if len(pieces) in (2, 3)
        ]
        m = self.n_parts = len(parts)
        self.parts = parts
        self.bigrams = {e[0] * m + e[1] for e in entries if len(e) == 2}
        self.trigrams = {(e[0] * m + e[1]) * m + e[2] for e in entries if len(e) == 3}
        # Bitmaps over part-id pairs for the vectorized path: bigrams, and the first two parts
        # of trigrams (a trigram candidate is then confirmed in the sorted key array).
        self.bigram_bits = self._bitmap(self.bigrams, m * m)
        self.trigram_head_bits = self._bitmap({k // m for k in self.trigrams}, m * m)
        self.trigram_keys = np.array(sorted(self.trigrams), dtype=np.int64)

        # Syllable cache: syllable -> row; per row a Python record and the same in arrays.
        self._lock = threading.Lock()
        self.index: dict[str, int] = {}
        self.records: list[_Record] = []
        self.scores = np.zeros((6, 0), dtype=np.float64)
        self.flags = np.zeros(0, dtype=np.uint8)
        self.part_ids = np.zeros(0, dtype=np.int64)

    @staticmethod
    def _bitmap(keys: set[int], size: int) -> Any:
        """Bit ``k`` set for every key; one spare zero byte for out-of-range lookups."""
        import numpy as np

        bits = np.zeros(size // 8 + 2, dtype=np.uint8)
        k = np.array(sorted(keys), dtype=np.int64)
        np.bitwise_or.at(bits, k >> 3, (1 << (k & 7)).astype(np.uint8))
        return bits

    def record(self, syl: str) -> _Record:
        """Everything the tagger needs to know about one syllable.

        ``(self0, self1, prev0, prev1, next0, next1, flags, part id)``: ``self*`` is the state
        score of the five attributes about the syllable alone (bias, lower, isupper, istitle,
        isdigit) summed in pyvi's order from 0.0; ``prev*``/``next*`` are the weights its
        lower-cased form lends to the syllable after / before it; ``flags`` are ``_PUNCT`` ...
        ``_UPPER``; the part id (or -1) is for the dictionary n-gram tests.
        """
        low = syl.lower()
        # crfsuite looks attribute names up as C strings: a NUL ends the name.
        key = low.split("\x00", 1)[0]
        w = self.lower_w.get(key, (0.0, 0.0))
        s0 = 0.0 + self.bias[0]
        s1 = 0.0 + self.bias[1]
        s0 += w[0]
        s1 += w[1]
        upper, title = syl.isupper(), syl.istitle()
        if upper:
            s0 += self.w_upper[0]
            s1 += self.w_upper[1]
        if title:
            s0 += self.w_title[0]
            s1 += self.w_title[1]
        if syl.isdigit():
            s0 += self.w_digit[0]
            s1 += self.w_digit[1]
        prev_w = self.prev_lower_w.get(key, (0.0, 0.0))
        next_w = self.next_lower_w.get(key, (0.0, 0.0))
        first = syl[0]
        flags = (
            (_PUNCT if syl in string.punctuation else 0)
            | (_FIRST_DIGIT if first.isdigit() else 0)
            | (_FIRST_TITLE if first.istitle() else 0)
            | (_TITLE if title else 0)
            | (_UPPER if upper else 0)
        )
        part = self.parts.get(low, -1)
        return (s0, s1, prev_w[0], prev_w[1], next_w[0], next_w[1], flags, part)

    def ids(self, syllables: list[str]) -> Any:
        """``rows(syllables)`` as a NumPy array."""
        import numpy as np

        try:
            return np.fromiter(
                map(self.index.__getitem__, syllables), dtype=np.intp, count=len(syllables)
            )
        except KeyError:
            return np.array(self.rows(syllables), dtype=np.intp)

    def rows(self, syllables: list[str]) -> list[int]:
        """Cache rows of ``syllables``, adding new ones; -1 for those the full cache refused."""
        index = self.index
        try:
            return list(map(index.__getitem__, syllables))
        except KeyError:
            pass
        self._add([s for s in dict.fromkeys(syllables) if s not in index])
        get = index.get
        return [get(s, -1) for s in syllables]

    def _add(self, syllables: list[str]) -> None:
        import numpy as np

        with self._lock:
            fresh = [s for s in syllables if s not in self.index]
            fresh = fresh[: max(_CACHE_LIMIT - len(self.records), 0)]
            if not fresh:
                return
            recs = [self.record(s) for s in fresh]
            start = len(self.records)
            end = start + len(recs)
            scores, flags, part_ids = self.scores, self.flags, self.part_ids
            if end > scores.shape[1]:
                size = max(end, 2 * scores.shape[1], 4096)
                scores = np.zeros((6, size), dtype=np.float64)
                flags = np.zeros(size, dtype=np.uint8)
                part_ids = np.zeros(size, dtype=np.int64)
                scores[:, :start] = self.scores[:, :start]
                flags[:start] = self.flags[:start]
                part_ids[:start] = self.part_ids[:start]
            columns = list(zip(*recs, strict=True))
            scores[:, start:end] = columns[:6]
            flags[start:end] = columns[6]
            part_ids[start:end] = columns[7]
            # Publish the arrays, then the records, then the index entries pointing at them.
            self.scores, self.flags, self.part_ids = scores, flags, part_ids
            self.records.extend(recs)
            for i, s in enumerate(fresh, start):
                self.index[s] = i


_MODEL: _Model | None = None
_MODEL_LOCK = threading.Lock()


def _model() -> _Model:
    """pyvi's model, loaded once per process on first use."""
    global _MODEL
    if _MODEL is None:
        with _MODEL_LOCK:
            if _MODEL is None:
                folder = _pyvi_dir() / "models"
                crfsuite = _crfsuite_bytes((folder / "pyvi3.pkl").read_bytes())
                # pyvi reads words.txt with codecs.open: no newline translation, no BOM removal.
                words = (folder / "words.txt").read_bytes().decode("utf-8")
                _MODEL = _Model(crfsuite, words)
    return _MODEL


# --- tagging: plain Python (short inputs, and the reference for the vectorized path) ----------


def _viterbi_python(s0: Sequence[float], s1: Sequence[float], trans: Any) -> list[int]:
    """crfsuite's Viterbi for two labels, step for step (``crf1dc_viterbi``).

    At each step label ``j`` takes predecessor 1 only if that score is strictly greater (the
    first index wins ties); the last label is chosen the same way.
    """
    (t00, t01), (t10, t11) = trans
    p0, p1 = s0[0], s1[0]
    back: list[tuple[bool, bool]] = []
    for t in range(1, len(s0)):
        a, b = p0 + t00, p1 + t10
        k0 = a < b
        m0 = b if k0 else a
        a, b = p0 + t01, p1 + t11
        k1 = a < b
        m1 = b if k1 else a
        back.append((k0, k1))
        p0, p1 = m0 + s0[t], m1 + s1[t]
    y = 1 if p0 < p1 else 0
    labels = [y]
    for k0, k1 in reversed(back):
        y = int(k1 if y else k0)
        labels.append(y)
    labels.reverse()
    return labels


def _scores_python(model: _Model, recs: Sequence[_Record]) -> tuple[list[float], list[float]]:
    """State scores of one sequence, attribute by attribute in pyvi's dict order."""
    n = len(recs)
    m = model.n_parts
    bigrams, trigrams = model.bigrams, model.trigrams
    pt, pu = model.w_prev_title, model.w_prev_upper
    pb, pt2 = model.w_prev_bigram, model.w_prev_trigram
    nt, nu = model.w_next_title, model.w_next_upper
    nb, nt2 = model.w_next_bigram, model.w_next_trigram
    parts = [r[7] for r in recs]
    pairs = [a >= 0 and b >= 0 and a * m + b in bigrams for a, b in pairwise(parts)]
    triples = [
        a >= 0 and b >= 0 and c >= 0 and (a * m + b) * m + c in trigrams
        for a, b, c in zip(parts, parts[1:], parts[2:], strict=False)
    ]
    out0: list[float] = []
    out1: list[float] = []
    for i, r in enumerate(recs):
        s0, s1 = r[0], r[1]
        if i > 0:
            p = recs[i - 1]
            s0 += p[2]
            s1 += p[3]
            if p[6] & _TITLE:
                s0 += pt[0]
                s1 += pt[1]
            if p[6] & _UPPER:
                s0 += pu[0]
                s1 += pu[1]
            if pairs[i - 1]:
                s0 += pb[0]
                s1 += pb[1]
            if i > 1 and triples[i - 2]:
                s0 += pt2[0]
                s1 += pt2[1]
        if i < n - 1:
            x = recs[i + 1]
            s0 += x[4]
            s1 += x[5]
            if x[6] & _TITLE:
                s0 += nt[0]
                s1 += nt[1]
            if x[6] & _UPPER:
                s0 += nu[0]
                s1 += nu[1]
            if pairs[i]:
                s0 += nb[0]
                s1 += nb[1]
            if i < n - 2 and triples[i]:
                s0 += nt2[0]
                s1 += nt2[1]
        out0.append(s0)
        out1.append(s1)
    return out0, out1


def _joins_python(model: _Model, recs: Sequence[_Record]) -> list[bool]:
    """pyvi's underscore rule for one sequence: ``out[i]`` glues syllable ``i`` to ``i - 1``.

    pyvi glues an ``I_W`` syllable unless either side is punctuation (``tok in
    string.punctuation``, a substring test) or starts with a digit, or a title-case syllable
    follows a non-title one.
    """
    s0, s1 = _scores_python(model, recs)
    labels = _viterbi_python(s0, s1, model.trans)
    inside = model.inside
    out = [False]
    for i in range(1, len(recs)):
        a, b = recs[i - 1][6], recs[i][6]
        out.append(
            labels[i] == inside
            and not (a | b) & (_PUNCT | _FIRST_DIGIT)
            and not (b & _FIRST_TITLE and not a & _FIRST_TITLE)
        )
    return out


# --- tagging: NumPy, many sequences at once ---------------------------------------------------


@dataclass(slots=True)
class _Layout:
    """Where the sequences of a batch lie in the flat arrays (empty sequences left out)."""

    starts: NDArray[np.int64]
    lengths: NDArray[np.int64]
    first: NDArray[np.bool_]  # position starts a sequence
    last: NDArray[np.bool_]  # position ends a sequence
    third: NDArray[np.bool_]  # position has two predecessors in its sequence
    third_last: NDArray[np.bool_]  # position has two successors in its sequence

    @classmethod
    def of(cls, lengths: Sequence[int]) -> _Layout:
        import numpy as np

        lens = np.array(lengths, dtype=np.int64)
        lens = lens[lens > 0]
        n = int(lens.sum())
        starts = _exclusive_cumsum(lens)
        ends = starts + lens - 1
        first = np.zeros(n, dtype=bool)
        first[starts] = True
        last = np.zeros(n, dtype=bool)
        last[ends] = True
        third = ~first
        third[(starts + 1)[lens >= 2]] = False
        third_last = ~last
        third_last[(ends - 1)[lens >= 2]] = False
        return cls(starts, lens, first, last, third, third_last)


def _exclusive_cumsum(values: Any) -> Any:
    import numpy as np

    out = np.zeros(len(values), dtype=np.int64)
    np.cumsum(values[:-1], out=out[1:])
    return out


def _bits(bitmap: Any, keys: Any) -> Any:
    import numpy as np

    return ((bitmap[keys >> 3] >> (keys & 7).astype(np.uint8)) & 1).astype(bool)


def _scores_numpy(
    model: _Model, ids: Any, tokens: list[str], layout: _Layout
) -> tuple[Any, Any, Any]:
    """State scores (label 0, label 1) and flags of every position, pyvi's attribute order.

    A missing attribute and a False one add nothing in crfsuite; here they are skipped with
    ``where=`` masks, so every position sees exactly crfsuite's additions in crfsuite's order.
    """
    import numpy as np

    table = model.scores
    cols = [table[c].take(ids) for c in range(6)]
    flags = model.flags.take(ids)
    parts = model.part_ids.take(ids)
    uncached = np.flatnonzero(ids < 0)
    if uncached.size:  # the cache is full: compute these syllables on the spot
        recs = [model.record(tokens[i]) for i in uncached.tolist()]
        for c in range(6):
            cols[c][uncached] = [r[c] for r in recs]
        flags[uncached] = [r[6] for r in recs]
        parts[uncached] = [r[7] for r in recs]
    s0, s1, prev0, prev1, next0, next1 = cols
    has_prev = ~layout.first
    has_next = ~layout.last
    title = (flags & _TITLE) != 0
    upper = (flags & _UPPER) != 0

    # Dictionary n-grams; the last bitmap byte is zero, pairs with an unknown part point there.
    m = model.n_parts
    known = parts >= 0
    valid = known[:-1] & known[1:]
    pair_keys = np.where(valid, parts[:-1] * m + parts[1:], m * m)
    pair = _bits(model.bigram_bits, pair_keys)
    head = np.where(valid[:-1], pair_keys[:-1], m * m)
    triple = _bits(model.trigram_head_bits, head)
    cand = np.flatnonzero(triple & known[2:])
    triple[:] = False
    if cand.size:
        keys = head[cand] * m + parts[cand + 2]
        at = np.minimum(np.searchsorted(model.trigram_keys, keys), model.trigram_keys.size - 1)
        triple[cand] = model.trigram_keys[at] == keys

    def add(offset: int, w: tuple[float, float], mask: Any) -> None:
        # offset -1: attribute of the previous syllable; +1: of the next one.
        if offset < 0:
            a0, a1, mask = s0[1:], s1[1:], mask & has_prev[1:]
        else:
            a0, a1, mask = s0[:-1], s1[:-1], mask & has_next[:-1]
        np.add(a0, w[0], out=a0, where=mask)
        np.add(a1, w[1], out=a1, where=mask)

    hp, hn = has_prev[1:], has_next[:-1]
    np.add(s0[1:], prev0[:-1], out=s0[1:], where=hp)
    np.add(s1[1:], prev1[:-1], out=s1[1:], where=hp)
    add(-1, model.w_prev_title, title[:-1])
    add(-1, model.w_prev_upper, upper[:-1])
    add(-1, model.w_prev_bigram, pair)
    mask = triple & layout.third[2:]
    np.add(s0[2:], model.w_prev_trigram[0], out=s0[2:], where=mask)
    np.add(s1[2:], model.w_prev_trigram[1], out=s1[2:], where=mask)
    np.add(s0[:-1], next0[1:], out=s0[:-1], where=hn)
    np.add(s1[:-1], next1[1:], out=s1[:-1], where=hn)
    add(+1, model.w_next_title, title[1:])
    add(+1, model.w_next_upper, upper[1:])
    add(+1, model.w_next_bigram, pair)
    mask = triple & layout.third_last[:-2]
    np.add(s0[:-2], model.w_next_trigram[0], out=s0[:-2], where=mask)
    np.add(s1[:-2], model.w_next_trigram[1], out=s1[:-2], where=mask)
    return s0, s1, flags


def _viterbi_numpy(s0: Any, s1: Any, layout: _Layout, trans: Any) -> Any:
    """crfsuite's Viterbi over many sequences at once; returns ``label == 1`` per position.

    With two labels only the difference ``d`` between the two labels' best scores matters:
    ``d[t] = s1[t] - s0[t] + g(d[t-1])``, where ``g`` is bounded and constant outside a narrow
    band, so almost every step is settled without knowing ``d[t-1]`` and only the rare positions
    whose predecessor may lie in the band are followed one by one. Label ``j`` at ``t`` takes
    predecessor 1 iff ``d[t-1] > th[j]``.

    crfsuite makes each choice by comparing float64 running totals, each a sum of at most
    ``2L + 1`` terms (``L`` = sequence length), so off its exact real value by at most
    ``(2L + 1) * 2**-53 * mass``, where ``mass`` bounds the sum of the terms' magnitudes along
    any path; ``d`` here is computed from small numbers and is at least as close. A sequence
    where every choice (and the final one, ``d > 0``) clears its threshold by 16 times that
    bound was therefore decided by crfsuite exactly as here; any other sequence is decoded
    with crfsuite's loop itself, so the result is crfsuite's in every case.
    """
    import numpy as np

    (t00, t01), (t10, t11) = trans
    n = len(s0)
    first, last = layout.first, layout.last
    th0, th1 = t00 - t10, t01 - t11
    g_lo, g_hi = t01 - t00, t11 - t10  # g far below / far above both thresholds
    delta = s1 - s0
    lo = delta + min(g_lo, g_hi)
    hi = delta + max(g_lo, g_hi)
    lo[first] = delta[first]
    hi[first] = delta[first]
    below = hi < min(th0, th1)
    above = lo > max(th0, th1)
    d = delta.copy()
    d[1:] += np.where(below[:-1], g_lo, g_hi)
    d[first] = delta[first]
    uncertain = np.flatnonzero(~(below | above) & ~last)
    if uncertain.size:
        values: list[float] = []
        prev_u, prev_v = -2, 0.0
        for u, du, dn in zip(
            uncertain.tolist(), d[uncertain].tolist(), delta[uncertain + 1].tolist(), strict=True
        ):
            if u == prev_u + 1:
                du = prev_v
            prev_v = dn + (max(t01, du + t11) - max(t00, du + t10))
            prev_u = u
            values.append(prev_v)
        d[uncertain + 1] = values

    # Back-pointers and the best path: a position that does not end its sequence takes
    # b0[p+1] when both pointers agree, else its successor's label xor b0[p+1].
    dp = d[:-1]
    nb0 = np.zeros(n, dtype=bool)
    nb1 = np.zeros(n, dtype=bool)
    np.greater(dp, th0, out=nb0[:-1])
    np.greater(dp, th1, out=nb1[:-1])
    agree = nb0 == nb1
    reset = last | agree
    value = np.where(last, d > 0, nb0)
    flip = (~reset & nb0).view(np.uint8)
    suffix_xor = np.bitwise_xor.accumulate(flip[::-1])[::-1]
    at = np.where(reset, np.arange(n), n)
    nearest = np.minimum.accumulate(at[::-1])[::-1]
    y = value[nearest] ^ (suffix_xor ^ suffix_xor[nearest]).view(bool)

    # Certify every choice against crfsuite's rounding (see above).
    margin = np.minimum(np.abs(d - th0), np.abs(d - th1))
    margin[last] = np.abs(d[last])
    starts, lengths = layout.starts, layout.lengths
    tmax = max(abs(t00), abs(t01), abs(t10), abs(t11))
    mass = np.add.reduceat(np.maximum(np.abs(s0), np.abs(s1)), starts) + tmax * lengths
    bound = 16.0 * (2 * lengths + 2) * 2.0**-53 * mass + 1e-12
    tight = np.flatnonzero(np.minimum.reduceat(margin, starts) <= bound)
    for k in tight.tolist():
        a, b = int(starts[k]), int(starts[k] + lengths[k])
        y[a:b] = _viterbi_python(s0[a:b].tolist(), s1[a:b].tolist(), trans)
    return y


def _joins_numpy(model: _Model, ids: Any, tokens: list[str], layout: _Layout) -> Any:
    """pyvi's underscore decisions for a whole batch (one per syllable, flat)."""
    import numpy as np

    s0, s1, flags = _scores_numpy(model, ids, tokens, layout)
    y = _viterbi_numpy(s0, s1, layout, model.trans)
    inside = y if model.inside == 1 else ~y
    prev = np.zeros_like(flags)
    prev[1:] = flags[:-1]
    return (
        inside
        & ~layout.first
        & (((flags | prev) & (_PUNCT | _FIRST_DIGIT)) == 0)
        & ~(((flags & _FIRST_TITLE) != 0) & ((prev & _FIRST_TITLE) == 0))
    )


# --- offsets -----------------------------------------------------------------------------------


class _OffsetMap:
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


def _skippable() -> Any:
    """Lookup table: code point -> skipped between syllables (whitespace other than '\\n')."""
    import numpy as np

    # U+3000 is the last whitespace code point; everything above maps to the final False.
    table = np.zeros(0x3002, dtype=bool)
    table[:0x3001] = [chr(cp).isspace() for cp in range(0x3001)]
    table[10] = False
    return table


_SKIPPABLE: Any = None


# --- the public API ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Batch:
    """Syllables of many texts and pyvi's underscore decision per syllable (flat)."""

    texts: list[str]
    nfcs: list[str]
    tokens: list[str]
    lengths: list[int]
    joins: Any  # list[bool] or a NumPy bool array


class Segmenter:
    """Segments Vietnamese text exactly as pyvi does, and says where each word is.

    The model is loaded once per process, on first use, and shared by all instances. A call
    keeps its state to itself; the only shared mutable state is an append-only cache of
    syllable features (see ``_Model``), so one segmenter may serve several threads.
    """

    def tokenize(self, text: str) -> str:
        """pyvi's ``ViTokenizer.tokenize(text)``, character for character."""
        return self.tokenize_many([text])[0]

    def tokenize_many(self, texts: Iterable[str]) -> list[str]:
        """``tokenize`` for many texts: one batched pass, much faster than a call each."""
        return _render(_analyse(list(texts)))

    def words(self, text: str) -> list[tuple[int, int, bool]]:
        """One ``(start, end, is_compound)`` per unit of ``tokenize(text)``, spans into ``text``."""
        return self.segment(text).words

    def segment(self, text: str) -> Segmentation:
        """Syllable and word spans of ``text`` (spans into ``text`` as given)."""
        return self.segment_many([text])[0]

    def segment_many(self, texts: Iterable[str]) -> list[Segmentation]:
        """``segment`` for many texts: one batched pass (the indexer's path)."""
        return _spans(_analyse(list(texts)))


def _analyse(texts: list[str]) -> _Batch:
    nfcs = [unicodedata.normalize("NFC", t) for t in texts]
    tokens: list[str] = []
    lengths = [_syllabize(t, tokens) for t in nfcs]
    joins: Any = []
    if tokens and len(tokens) >= _SMALL:
        model = _model()
        joins = _joins_numpy(model, model.ids(tokens), tokens, _Layout.of(lengths))
    elif tokens:
        model = _model()
        records = model.records
        rows = model.rows(tokens)
        recs = [
            records[r] if r >= 0 else model.record(t) for r, t in zip(rows, tokens, strict=True)
        ]
        pos = 0
        for n in lengths:
            if n:
                joins.extend(_joins_python(model, recs[pos : pos + n]))
            pos += n
    return _Batch(texts, nfcs, tokens, lengths, joins)


def _render(batch: _Batch) -> list[str]:
    """pyvi's output strings: syllables joined by ' ', or by '_' where glued.

    pyvi returns a text without syllables (empty, blank) unchanged.
    """
    tokens, joins = batch.tokens, batch.joins
    if len(tokens) < _SMALL or not tokens:
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
    firsts = _exclusive_cumsum(lens)
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
        to_orig = _OffsetMap(text, nfc)
        syllables = [(to_orig(a), to_orig(b)) for a, b in syllables]
        words = [(to_orig(a), to_orig(b), c) for a, b, c in words]
    return Segmentation(syllables, words)


def _spans(batch: _Batch) -> list[Segmentation]:
    """Syllable and word spans of every text of the batch.

    Syllables cover every character of the NFC text except whitespace other than '\\n', in
    order: the k-th syllable is the next ``len(syllable)`` characters that are not skipped.
    """
    n = len(batch.tokens)
    if n < _SMALL or not n:
        out, pos = [], 0
        for text, nfc, count in zip(batch.texts, batch.nfcs, batch.lengths, strict=True):
            toks, joins = batch.tokens[pos : pos + count], batch.joins[pos : pos + count]
            out.append(_spans_python(text, nfc, toks, joins))
            pos += count
        return out
    import numpy as np

    global _SKIPPABLE
    if _SKIPPABLE is None:
        _SKIPPABLE = _skippable()
    big = "".join(batch.nfcs)
    codes = np.frombuffer(big.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    kept = np.flatnonzero(~_SKIPPABLE[np.minimum(codes, 0x3001)])
    sizes = np.fromiter(map(len, batch.tokens), dtype=np.int64, count=n)
    if int(sizes.sum()) != kept.size:  # pragma: no cover - would be a bug in _syllabize
        raise AssertionError("syllables do not cover the text")
    first_char = _exclusive_cumsum(sizes)
    counts = np.array(batch.lengths, dtype=np.int64)
    text_offsets = _exclusive_cumsum(np.array([len(t) for t in batch.nfcs], dtype=np.int64))
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
    word_bounds = np.searchsorted(word_first, _exclusive_cumsum(counts)).tolist()
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
            to_orig = _OffsetMap(text, nfc)
            syl = [(to_orig(a), to_orig(b)) for a, b in syl]
            wrd = [(to_orig(a), to_orig(b), c) for a, b, c in wrd]
        out.append(Segmentation(syl, wrd))
    return out
