"""Phrases verified on some documents only, and which of those documents hold them.

A pair of common words is verified on a page's last candidates, not on every document holding
its words (see :class:`~searcher.fastpath.pruning.Pruning`). What one search found is kept
here, so the next search asking for the pair verifies only the documents it has not seen, and
its pruning knows the pair's score on those it has.
"""

from __future__ import annotations

import numpy as np

from searcher.fastpath.phrases import find_sorted, isin_sorted, sorted_unique

#: A phrase: its field and words.
Phrase = tuple[str, tuple[str, ...]]
#: Phrases kept (a page's candidates, a few hundred documents as int32 each: a few megabytes
#: in all); the table is emptied past this many.
CHECKED_PHRASES = 8192


class CheckedPhrases:
    """Per phrase, the documents it was verified on and those found to hold it (ascending)."""

    def __init__(self, most_docs: int, doc_count: int) -> None:
        """``most_docs``: a phrase checked on more documents than this starts afresh rather
        than growing; ``doc_count``: the generation's documents (for the arrays' type)."""
        self.most_docs = most_docs
        self.kind = np.int32 if doc_count < 1 << 31 else np.int64
        self._table: dict[Phrase, tuple[np.ndarray, np.ndarray]] = {}

    def find(self, phrase: Phrase, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indexes into ``docs`` (ascending) of those the phrase was verified on, and whether
        each holds it."""
        checked = self._table.get(phrase)
        if checked is None or docs.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
        found, where = find_sorted(docs, checked[0])
        return where[found], isin_sorted(checked[0][found], checked[1])

    def remember(self, phrase: Phrase, checked: np.ndarray, holding: np.ndarray) -> None:
        """Keep which of the ``checked`` documents (ascending) hold ``phrase`` (``holding``),
        with what was kept of it before."""
        before = self._table.get(phrase)
        if before is not None and before[0].size + checked.size <= self.most_docs:
            checked = sorted_unique(np.concatenate([before[0], checked]))
            holding = sorted_unique(np.concatenate([before[1], holding]))
        if len(self._table) > CHECKED_PHRASES:
            self._table.clear()
        self._table[phrase] = (checked.astype(self.kind), holding.astype(self.kind))
