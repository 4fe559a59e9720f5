"""The Whoosh segment writer of a rebuild: the same index files, with less work per posting.

Whoosh writes postings in two steps: ``add_document`` puts every posting, a tuple (field, term,
docnum, weight, value), in a pool, and the commit sorts the pool and hands the postings in that
order to the codec's field writer. Its :class:`~whoosh.writing.PostingPool` sorts every posting
(tuple comparisons), spills sorted runs to disk one posting at a time when its memory limit is
reached, and merges them back one posting at a time; the field writer then looks up each
posting's field length in the length column it has just written, one file read per posting.

A rebuild adds documents in document-number order, so the postings of a term arrive already
sorted. :class:`TermPool` files each posting under its term as it comes; only the terms are
sorted, and runs are spilled and merged a term at a time. :class:`RebuildWriter` uses it and
reads each field's lengths once. What reaches the codec, and so what is on disk, is exactly
what Whoosh's own writer would write.
"""

from __future__ import annotations

import heapq
import itertools
import marshal
from collections.abc import Iterator
from typing import Any

from whoosh.util import random_name
from whoosh.writing import SegmentWriter

#: Whoosh's own estimate of a posting in memory (tuple, strings, numbers), plus a term's list.
POSTING_BYTES = 28 + 4 * 5 + 21 + 26 + 18 + 16 + 21
TERM_BYTES = 200
#: Spilled runs open at once while merging; more are first merged into one.
MAX_OPEN_RUNS = 64

Posting = tuple[str, bytes, int, float, bytes]  # field, term, docnum, weight, encoded value
Columns = tuple[tuple[int, ...], tuple[float, ...], tuple[bytes, ...]]
Term = tuple[tuple[str, bytes], Columns]


class TermPool:
    """A posting pool for documents added in order: postings filed under their term.

    Implements the part of Whoosh's pool interface a :class:`~whoosh.writing.SegmentWriter`
    uses when documents are only added: ``add``, ``iter_postings``, ``cleanup``.
    """

    def __init__(self, tempstore: Any, limitmb: int) -> None:
        self.tempstore = tempstore
        self.limit = limitmb * 1024 * 1024
        self.size = 0
        self.runs: list[str] = []
        self._fields: dict[str, dict[bytes, list[Posting]]] = {}
        self._last_docnum = -1

    @property
    def fieldnames(self) -> set[str]:
        return set(self._fields)

    def add(self, item: Posting) -> None:
        if item[2] < self._last_docnum:
            raise ValueError("TermPool needs postings in document order (a rebuild)")
        self._last_docnum = item[2]
        terms = self._fields.get(item[0])
        if terms is None:
            terms = self._fields[item[0]] = {}
        postings = terms.get(item[1])
        if postings is None:
            terms[item[1]] = [item]
            self.size += TERM_BYTES
        else:
            postings.append(item)
        self.size += POSTING_BYTES + len(item[0]) + 2 * len(item[1]) + len(item[4])
        if self.size > self.limit:
            self.save()

    def save(self) -> None:
        """Spill the pool to a run file, terms in order."""
        if not self._fields:
            return
        name = f"{random_name()}.terms"  # the temp folder is shared by the workers' writers
        self._write_run(name, ((key, _columns(postings)) for key, postings in self._sorted_terms()))
        self.runs.append(name)
        self._fields = {}
        self.size = 0

    def iter_postings(self) -> Iterator[Posting]:
        """Every posting, in (field, term, docnum) order, as Whoosh's pool yields them."""
        if not self.runs:
            for _key, postings in self._sorted_terms():
                yield from postings
            return
        self.save()
        while len(self.runs) > MAX_OPEN_RUNS:
            self._merge_oldest_runs(MAX_OPEN_RUNS)
        repeat = itertools.repeat
        for (fieldname, btext), (docnums, weights, values) in self._merged(self.runs):
            yield from zip(repeat(fieldname), repeat(btext), docnums, weights, values, strict=False)

    def cleanup(self) -> None:
        for name in self.runs:
            if self.tempstore.file_exists(name):
                self.tempstore.delete_file(name)
        self.runs = []
        self._fields = {}

    # --- runs: a term's postings as three columns (docnums, weights, values) ------------------

    def _sorted_terms(self) -> Iterator[tuple[tuple[str, bytes], list[Posting]]]:
        for fieldname in sorted(self._fields):
            terms = self._fields[fieldname]
            for btext in sorted(terms):
                yield (fieldname, btext), terms[btext]

    def _write_run(self, name: str, terms: Iterator[Term]) -> None:
        with self.tempstore.create_file(name).raw_file() as handle:
            for key, columns in terms:
                marshal.dump((key, columns), handle)

    def _read_run(self, name: str) -> Iterator[Term]:
        with self.tempstore.open_file(name).raw_file() as handle:
            while True:
                try:
                    yield marshal.load(handle)
                except EOFError:
                    break
        self.tempstore.delete_file(name)

    def _merged(self, names: list[str]) -> Iterator[Term]:
        """Terms of several runs in order; a term's postings joined in run (document) order."""
        runs = [self._read_run(name) for name in names]
        merged = heapq.merge(*runs, key=_term_key)  # stable: on equal keys, earlier runs first
        for key, group in itertools.groupby(merged, key=_term_key):
            (_, columns), *rest = group
            if rest:
                parts = zip(columns, *(more for _, more in rest), strict=True)
                columns = tuple(tuple(itertools.chain.from_iterable(part)) for part in parts)
            yield key, columns

    def _merge_oldest_runs(self, count: int) -> None:
        oldest, self.runs = self.runs[:count], self.runs[count:]
        name = f"{random_name()}.terms"
        self._write_run(name, self._merged(oldest))
        self.runs.insert(0, name)


def _columns(postings: list[Posting]) -> Columns:
    """A term's postings as (docnums, weights, values): written once, not a tuple each."""
    _fieldnames, _btexts, docnums, weights, values = zip(*postings, strict=True)
    return docnums, weights, values


def _term_key(term: Term) -> tuple[str, bytes]:
    return term[0]


class _Lengths:
    """A per-document reader whose field lengths are read once per field, not per posting."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader

    def doc_field_length_reader(self, fieldname: str, default: int = 0) -> Any:
        length = self._reader.doc_field_length_reader(fieldname, default)
        return [length(docnum) for docnum in range(self._reader.doc_count_all())].__getitem__

    def close(self) -> None:
        self._reader.close()


class RebuildWriter(SegmentWriter):
    """A Whoosh ``SegmentWriter`` for adding documents to a new segment, with a
    :class:`TermPool` and field lengths read once per field at the flush.

    Only for adding documents (no merging of existing segments into it, no deletions): the
    pool relies on postings arriving in document order.
    """

    def __init__(self, ix: Any, *, limitmb: int, **kwargs: Any) -> None:
        super().__init__(ix, limitmb=limitmb, **kwargs)
        self.pool = TermPool(self._tempstorage, limitmb)

    def _flush_segment(self) -> None:
        # Whoosh's steps, with the length lookups served from memory.
        self.perdocwriter.close()
        lengths = _Lengths(self.per_document_reader()) if self.codec.length_stats else None
        self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
        self.fieldwriter.close()
        if lengths is not None:
            lengths.close()
