"""Exact BM25F weights of a page's terms for its few candidates, all terms at once.

A page's candidates (a few dozen documents) meet some twenty (field, term) keys. Each key's
postings are binary-searched once per segment; the hit test, the frequencies and Whoosh's
float64 arithmetic are then done for all keys together (per-key numpy calls were most of the
exact scoring's time). What does not depend on the documents — each key's idf and boost, its
posting ranges grouped by field and segment — is an :class:`ExactPlan`, worked out once per
key list (a query's leaves are the same at each search of it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from searcher.fastpath.phrases import probe_for
from searcher.fastpath.scoring import idf, term_weights

if TYPE_CHECKING:
    from searcher.fastpath.terms import TermIndex


@dataclass
class ExactPlan:
    """A list of (field, term) keys as :func:`exact_weights` reads them: each key's idf and
    field boost (columns), its field's row among ``fields``, and per (field, segment) the
    keys' rows, first and end postings there (columns) and posting ranges."""

    scales: np.ndarray
    boosts: np.ndarray
    fields: list[str]
    field_rows: np.ndarray
    searched: list[tuple[str, int, np.ndarray, np.ndarray, np.ndarray, list[tuple[int, int]]]]

    @classmethod
    def of(cls, index: TermIndex, keys: Sequence[tuple[str, str]]) -> ExactPlan:
        scales = np.empty((len(keys), 1))
        boosts = np.empty((len(keys), 1))
        fields = list(dict.fromkeys(field for field, _ in keys))
        by_group: dict[tuple[str, int], list[tuple[int, int, int]]] = {}
        for row, (field, term) in enumerate(keys):
            scales[row, 0] = idf(index.size, index.df(field, term))
            boosts[row, 0] = index.boosts[field]
            for k, a, b in index.ranges(field, term):
                if b > a:
                    by_group.setdefault((field, k), []).append((row, a, b))
        searched = []
        for (field, k), entries in by_group.items():
            rows, firsts, ends = np.array(entries, dtype=np.int64).T
            spans = [(a, b) for _, a, b in entries]
            searched.append((field, k, rows, firsts[:, None], ends[:, None], spans))
        field_rows = np.array([fields.index(field) for field, _ in keys], dtype=np.intp)
        return cls(scales, boosts, fields, field_rows, searched)


def exact_weights(index: TermIndex, plan: ExactPlan, within: np.ndarray) -> np.ndarray:
    """The plan's keys' exact weights (rows) for the ``within`` documents (global,
    ascending, at least one): 0 where a document does not hold the key."""
    parts = index.parts(within)
    freqs = np.zeros((plan.scales.shape[0], within.size), dtype=np.int64)
    for field, k, rows, firsts, ends, spans in plan.searched:
        lo, local = parts[k]
        if local.size == 0:
            continue
        files = index.segments[k].fields[field]
        docs = files.docs
        probe = probe_for(local, docs)
        found = [docs[a:b].searchsorted(probe) for a, b in spans]
        at = np.concatenate(found).reshape(len(spans), probe.size)  # (np.vstack: slower)
        at += firsts
        inside = at < ends
        np.minimum(at, docs.size - 1, out=at)
        held = inside & (docs[at] == local)
        freqs[rows, lo : lo + local.size] = np.where(held, files.freqs[at], 0)
    norms = np.concatenate([index.norms[field][within] for field in plan.fields])
    norms = norms.reshape(len(plan.fields), within.size)
    return term_weights(freqs, plan.boosts, plan.scales, norms[plan.field_rows], index.K1)
