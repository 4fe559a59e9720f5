"""pyvi's word-segmentation model read as weight tables, and a cache of syllable features.

The model is the crfsuite file inside pyvi's pickle (``models/pyvi3.pkl``) and pyvi's
dictionary (``models/words.txt``). Both are read from the installed pyvi package without
importing ``pyvi.ViTokenizer`` (which loads scikit-learn) and without running code from the
pickle. The weights are the float64 values stored in the file.
"""

from __future__ import annotations

import importlib.util
import io
import pickle
import string
import struct
import threading
from pathlib import Path
from typing import Any

# Distinct syllables whose features a model caches (about 250 bytes each; 4,000 news articles
# hold some 23,000). Beyond it, new syllables are scored per call.
CACHE_LIMIT = 200_000


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


def pyvi_dir() -> Path:
    """The installed pyvi package folder, found without importing ``pyvi.ViTokenizer``."""
    spec = importlib.util.find_spec("pyvi")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pyvi is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def crfsuite_bytes(pickled: bytes) -> bytes:
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


def read_crfsuite(buf: bytes) -> tuple[list[str], dict[str, list[float]], list[list[float]]]:
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
PUNCT, FIRST_DIGIT, FIRST_TITLE, TITLE, UPPER = 1, 2, 4, 8, 16

Record = tuple[float, float, float, float, float, float, int, int]


class Model:
    """pyvi's tokenizer model as weight tables, plus a cache of per-syllable features.

    Immutable after construction except for the syllable cache, which only grows: rows are
    written under a lock and published before their syllable appears in ``index``, so readers
    need no lock.
    """

    def __init__(self, crfsuite: bytes, words: str, *, cache_limit: int = CACHE_LIMIT) -> None:
        import numpy as np

        labels, state, trans = read_crfsuite(crfsuite)
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
        self.cache_limit = cache_limit
        self._lock = threading.Lock()
        self.index: dict[str, int] = {}
        self.records: list[Record] = []
        self.scores = np.zeros((6, 0), dtype=np.float64)
        self.flags = np.zeros(0, dtype=np.uint8)
        self.part_ids = np.zeros(0, dtype=np.int64)

    @classmethod
    def from_pyvi(cls, *, cache_limit: int = CACHE_LIMIT) -> Model:
        """A new model read from the installed pyvi package (with an empty syllable cache)."""
        folder = pyvi_dir() / "models"
        crfsuite = crfsuite_bytes((folder / "pyvi3.pkl").read_bytes())
        # pyvi reads words.txt with codecs.open: no newline translation, no BOM removal.
        words = (folder / "words.txt").read_bytes().decode("utf-8")
        return cls(crfsuite, words, cache_limit=cache_limit)

    @staticmethod
    def _bitmap(keys: set[int], size: int) -> Any:
        """Bit ``k`` set for every key; one spare zero byte for out-of-range lookups."""
        import numpy as np

        bits = np.zeros(size // 8 + 2, dtype=np.uint8)
        k = np.array(sorted(keys), dtype=np.int64)
        np.bitwise_or.at(bits, k >> 3, (1 << (k & 7)).astype(np.uint8))
        return bits

    def record(self, syl: str) -> Record:
        """Everything the tagger needs to know about one syllable.

        ``(self0, self1, prev0, prev1, next0, next1, flags, part id)``: ``self*`` is the state
        score of the five attributes about the syllable alone (bias, lower, isupper, istitle,
        isdigit) summed in pyvi's order from 0.0; ``prev*``/``next*`` are the weights its
        lower-cased form lends to the syllable after / before it; ``flags`` are ``PUNCT`` ...
        ``UPPER``; the part id (or -1) is for the dictionary n-gram tests.
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
            (PUNCT if syl in string.punctuation else 0)
            | (FIRST_DIGIT if first.isdigit() else 0)
            | (FIRST_TITLE if first.istitle() else 0)
            | (TITLE if title else 0)
            | (UPPER if upper else 0)
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
            fresh = fresh[: max(self.cache_limit - len(self.records), 0)]
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


_SHARED: Model | None = None
_SHARED_LOCK = threading.Lock()


def shared_model() -> Model:
    """The process-wide model, loaded once on first use."""
    global _SHARED
    if _SHARED is None:
        with _SHARED_LOCK:
            if _SHARED is None:
                _SHARED = Model.from_pyvi()
    return _SHARED
