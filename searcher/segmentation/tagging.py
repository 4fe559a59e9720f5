"""Scoring and labelling: pyvi's state scores per syllable and crfsuite's Viterbi, two ways.

The plain-Python path (short inputs, and the reference) follows crfsuite step for step; the
NumPy path labels many sequences at once and falls back to the Python loop wherever float64
rounding could make crfsuite choose differently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from searcher.segmentation.model import FIRST_DIGIT, FIRST_TITLE, PUNCT, TITLE, UPPER, Model, Record

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


# --- plain Python (short inputs, and the reference for the vectorized path) --------------------


def viterbi_python(s0: Sequence[float], s1: Sequence[float], trans: Any) -> list[int]:
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


def _scores_python(model: Model, recs: Sequence[Record]) -> tuple[list[float], list[float]]:
    """State scores of one sequence, attribute by attribute in pyvi's dict order.

    A position adds its own weights, then what its previous neighbour lends, then what its
    next one lends: the neighbour's lower-cased form, its title case, its upper case, the
    dictionary bigram of the two syllables and the trigram centred on the neighbour. Float
    addition is not associative, so the order is crfsuite's.
    """
    n = len(recs)
    m = model.n_parts
    bigrams, trigrams = model.bigrams, model.trigrams
    parts = [r[7] for r in recs]
    pairs = [a >= 0 and b >= 0 and a * m + b in bigrams for a, b in pairwise(parts)]
    triples = [
        a >= 0 and b >= 0 and c >= 0 and (a * m + b) * m + c in trigrams
        for a, b, c in zip(parts, parts[1:], parts[2:], strict=False)
    ]
    # Per side: the step to the neighbour, where its record keeps the weights it lends that
    # way, the step to the pair the two syllables make, and the side's four weights.
    previous = (model.w_prev_title, model.w_prev_upper, model.w_prev_bigram, model.w_prev_trigram)
    following = (model.w_next_title, model.w_next_upper, model.w_next_bigram, model.w_next_trigram)
    sides = ((-1, 2, -1, *previous), (1, 4, 0, *following))
    out0: list[float] = []
    out1: list[float] = []
    for i, r in enumerate(recs):
        s0, s1 = r[0], r[1]
        for step, col, pair, w_title, w_upper, w_bigram, w_trigram in sides:
            j = i + step
            if j < 0 or j >= n:
                continue
            x = recs[j]
            flags = x[6]
            s0 += x[col]
            s1 += x[col + 1]
            if flags & TITLE:
                s0 += w_title[0]
                s1 += w_title[1]
            if flags & UPPER:
                s0 += w_upper[0]
                s1 += w_upper[1]
            if pairs[i + pair]:
                s0 += w_bigram[0]
                s1 += w_bigram[1]
            if 0 < j < n - 1 and triples[j - 1]:
                s0 += w_trigram[0]
                s1 += w_trigram[1]
        out0.append(s0)
        out1.append(s1)
    return out0, out1


def joins_python(model: Model, recs: Sequence[Record]) -> list[bool]:
    """pyvi's underscore rule for one sequence: ``out[i]`` glues syllable ``i`` to ``i - 1``.

    pyvi glues an ``I_W`` syllable unless either side is punctuation (``tok in
    string.punctuation``, a substring test) or starts with a digit, or a title-case syllable
    follows a non-title one.
    """
    s0, s1 = _scores_python(model, recs)
    labels = viterbi_python(s0, s1, model.trans)
    inside = model.inside
    out = [False]
    for i in range(1, len(recs)):
        a, b = recs[i - 1][6], recs[i][6]
        out.append(
            labels[i] == inside
            and not (a | b) & (PUNCT | FIRST_DIGIT)
            and not (b & FIRST_TITLE and not a & FIRST_TITLE)
        )
    return out


# --- NumPy, many sequences at once -----------------------------------------------------------


@dataclass(slots=True)
class Layout:
    """Where the sequences of a batch lie in the flat arrays (empty sequences left out)."""

    starts: NDArray[np.int64]
    lengths: NDArray[np.int64]
    first: NDArray[np.bool_]  # position starts a sequence
    last: NDArray[np.bool_]  # position ends a sequence
    third: NDArray[np.bool_]  # position has two predecessors in its sequence
    third_last: NDArray[np.bool_]  # position has two successors in its sequence

    @classmethod
    def of(cls, lengths: Sequence[int]) -> Layout:
        import numpy as np

        lens = np.array(lengths, dtype=np.int64)
        lens = lens[lens > 0]
        n = int(lens.sum())
        starts = exclusive_cumsum(lens)
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


def exclusive_cumsum(values: Any) -> Any:
    import numpy as np

    out = np.zeros(len(values), dtype=np.int64)
    np.cumsum(values[:-1], out=out[1:])
    return out


def _bits(bitmap: Any, keys: Any) -> Any:
    import numpy as np

    return ((bitmap[keys >> 3] >> (keys & 7).astype(np.uint8)) & 1).astype(bool)


def _scores_numpy(
    model: Model, ids: Any, tokens: list[str], layout: Layout
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
    title = (flags & TITLE) != 0
    upper = (flags & UPPER) != 0

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


def viterbi_numpy(s0: Any, s1: Any, layout: Layout, trans: Any) -> Any:
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
        y[a:b] = viterbi_python(s0[a:b].tolist(), s1[a:b].tolist(), trans)
    return y


def joins_numpy(model: Model, ids: Any, tokens: list[str], layout: Layout) -> Any:
    """pyvi's underscore decisions for a whole batch (one per syllable, flat)."""
    import numpy as np

    s0, s1, flags = _scores_numpy(model, ids, tokens, layout)
    y = viterbi_numpy(s0, s1, layout, model.trans)
    inside = y if model.inside == 1 else ~y
    prev = np.zeros_like(flags)
    prev[1:] = flags[:-1]
    return (
        inside
        & ~layout.first
        & (((flags | prev) & (PUNCT | FIRST_DIGIT)) == 0)
        & ~(((flags & FIRST_TITLE) != 0) & ((prev & FIRST_TITLE) == 0))
    )
