"""The Whoosh segment writer of a rebuild: the same index files, with less work per posting.

Whoosh writes postings in two steps. ``add_document`` runs each text field's analyzer, token by
token, through the field format's ``word_values`` (which groups positions by term and encodes
them), and puts every posting, a tuple (field, term, docnum, weight, value), in a pool; the
commit sorts the pool and feeds the postings one by one to the codec's field writer, which looks
up each posting's field length in the length column it has just written (a file read) and adds
it to the term's current block. Its :class:`~whoosh.writing.PostingPool` holds about 200 bytes
per posting, and when full spills sorted runs and merges them back, a posting at a time.

:class:`RebuildWriter` writes the same segment with less work:

* a text field whose value carries its analysis (:class:`~searcher.analysis.PresegmentedText`)
  gets its postings straight from it (:func:`positions_postings`): the same terms, weights and
  encoded positions as the format's ``word_values``, without a Token per term occurrence;
* a rebuild adds documents in document-number order, so a term's postings arrive sorted:
  :class:`TermPool` files them under their term as columns (document numbers and weights in
  arrays, values in a list; about 40 bytes a posting, a fifth of Whoosh's pool, so it spills
  far later), sorts only the terms, and spills and merges runs a term at a time;
* the flush reads each field's lengths once and gives Whoosh 3's postings writer a term's
  postings a block at a time.

What reaches the codec, and so what is on disk, is exactly what Whoosh's own writer would write
(``tests/equivalence/test_parallel_build.py`` compares the two posting by posting).
"""

from __future__ import annotations

import gc
import heapq
import itertools
import marshal
import pickle
from array import array
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from whoosh import formats
from whoosh.codec.whoosh3 import W3FieldWriter, W3PostingsWriter
from whoosh.system import pack_uint
from whoosh.util import random_name
from whoosh.writing import SegmentWriter

from searcher.analysis import PresegmentedText, VietnameseTokenizer, fold, index_terms
from searcher.fastpath import store as fastpath_store
from searcher.fastpath.decode import FieldPostings, PostingsCollector, length_bytes

#: Estimated bytes held per distinct term (dict entry, key, three columns) and per posting
#: (array items, list slot, amortised growth) plus its value: on real bulletins the pool's
#: actual size is about 0.6 of the estimate (40 bytes a posting, terms included).
TERM_BYTES = 400
POSTING_BYTES = 24
#: Spilled runs open at once while merging, by default; more are first merged into one.
MAX_OPEN_RUNS = 64

Posting = tuple[str, bytes, int, float, bytes]  # field, term, docnum, weight, encoded value
Columns = tuple[array, array, list[bytes]]  # docnums ("I"), weights ("d"), values
Term = tuple[tuple[str, bytes], Columns]
Items = Iterable[tuple[bytes, int, float, bytes]]  # term, frequency, weight, value


class TermPool:
    """A posting pool for documents added in order: postings filed under their term.

    Implements the part of Whoosh's pool interface a :class:`~whoosh.writing.SegmentWriter`
    uses when documents are only added (``add``, ``iter_postings``, ``cleanup``), plus
    :meth:`add_postings`, a document's postings of a field at once. ``max_open_runs`` bounds
    the spilled runs read at once while merging (open files).
    """

    def __init__(self, tempstore: Any, limitmb: int, max_open_runs: int = MAX_OPEN_RUNS) -> None:
        self.tempstore = tempstore
        self.limit = limitmb * 1024 * 1024
        self.max_open_runs = max_open_runs
        self.size = 0
        self.runs: list[str] = []
        self._fields: dict[str, dict[bytes, Columns]] = {}
        self._last_docnum = -1

    @property
    def fieldnames(self) -> set[str]:
        return set(self._fields)

    def add(self, item: Posting) -> None:
        fieldname, btext, docnum, weight, vbytes = item
        self.add_postings(fieldname, docnum, [(btext, 1, weight, vbytes)])

    def add_postings(self, fieldname: str, docnum: int, items: Items) -> None:
        """File one document's postings of one field: (term, frequency, weight, value)."""
        if docnum < self._last_docnum:
            raise ValueError("TermPool needs postings in document order (a rebuild)")
        self._last_docnum = docnum
        terms = self._fields.get(fieldname)
        if terms is None:
            terms = self._fields[fieldname] = {}
        size = 0
        for btext, _frequency, weight, vbytes in items:
            columns = terms.get(btext)
            if columns is None:
                terms[btext] = (array("I", (docnum,)), array("d", (weight,)), [vbytes])
                size += TERM_BYTES + len(btext)
            else:
                columns[0].append(docnum)
                columns[1].append(weight)
                columns[2].append(vbytes)
            size += POSTING_BYTES + len(vbytes)
        self.size += size
        if self.size > self.limit:
            self.save()

    def save(self) -> None:
        """Spill the pool to a run file, terms in order."""
        if not self._fields:
            return
        name = f"{random_name()}.terms"  # the temp folder is shared by the workers' writers
        self._write_run(name, self._sorted_terms())
        self.runs.append(name)
        self._fields = {}
        self.size = 0

    def iter_terms(self) -> Iterator[Term]:
        """Every term with its postings as columns, in (field, term) order."""
        if not self.runs:
            return self._sorted_terms()
        self.save()
        while len(self.runs) > self.max_open_runs:
            self._merge_oldest_runs(self.max_open_runs)
        return self._merged(self.runs)

    def iter_postings(self) -> Iterator[Posting]:
        """Every posting, in (field, term, docnum) order, as Whoosh's pool yields them."""
        repeat = itertools.repeat
        for (fieldname, btext), (docnums, weights, values) in self.iter_terms():
            yield from zip(repeat(fieldname), repeat(btext), docnums, weights, values, strict=False)

    def cleanup(self) -> None:
        for name in self.runs:
            if self.tempstore.file_exists(name):
                self.tempstore.delete_file(name)
        self.runs = []
        self._fields = {}

    # --- runs ------------------------------------------------------------------------------

    def _sorted_terms(self) -> Iterator[Term]:
        for fieldname in sorted(self._fields):
            terms = self._fields[fieldname]
            for btext in sorted(terms):
                yield (fieldname, btext), terms[btext]

    def _write_run(self, name: str, terms: Iterator[Term]) -> None:
        with self.tempstore.create_file(name).raw_file() as handle:
            for key, (docnums, weights, values) in terms:
                marshal.dump((key, docnums.tobytes(), weights.tobytes(), values), handle)

    def _read_run(self, name: str) -> Iterator[Term]:
        with self.tempstore.open_file(name).raw_file() as handle:
            while True:
                try:
                    key, docnums, weights, values = marshal.load(handle)
                except EOFError:
                    break
                yield key, (array("I", docnums), array("d", weights), values)
        self.tempstore.delete_file(name)

    def _merged(self, names: list[str]) -> Iterator[Term]:
        """Terms of several runs in order; a term's postings joined in run (document) order."""
        runs = [self._read_run(name) for name in names]
        merged = heapq.merge(*runs, key=_term_key)  # stable: on equal keys, earlier runs first
        for key, group in itertools.groupby(merged, key=_term_key):
            (_, columns), *rest = group
            for _, more in rest:
                for column, extra in zip(columns, more, strict=True):
                    column.extend(extra)
            yield key, columns

    def _merge_oldest_runs(self, count: int) -> None:
        oldest, self.runs = self.runs[:count], self.runs[count:]
        name = f"{random_name()}.terms"
        self._write_run(name, self._merged(oldest))
        self.runs.insert(0, name)


def _term_key(term: Term) -> tuple[str, bytes]:
    return term[0]


# --- postings straight from the analysis -----------------------------------------------------

_ONE_POSITION: dict[int, bytes] = {}


def _encoded_positions(positions: list[int]) -> bytes:
    """``formats.Positions.encode``: the count, then the deltas pickled (protocol 2)."""
    deltas = [positions[0], *(b - a for a, b in itertools.pairwise(positions))]
    return pack_uint(len(deltas)) + pickle.dumps(deltas, 2)


def _encoded(positions: list[int]) -> bytes:
    """:func:`_encoded_positions`, shared for the many terms that occur once in a text."""
    if len(positions) > 1:
        return _encoded_positions(positions)
    single = _ONE_POSITION.get(positions[0])
    if single is None:
        single = _ONE_POSITION[positions[0]] = _encoded_positions(positions)
    return single


#: Term postings of a text: (UTF-8 term, frequency, encoded positions) per distinct term.
TextPostings = list[tuple[bytes, int, bytes]]
#: The text whose postings were computed last, with its accented and folded postings: the
#: writer asks for a text's accented field and then for its folded companion.
_last_text: list[Any] = [None, None]


def text_postings(value: PresegmentedText) -> tuple[TextPostings, TextPostings]:
    """A text's accented and its folded term postings, positions in token order.

    The folded terms are the accented ones folded: a folded term that comes from one accented
    term (most do) has the same positions and encoding; one that several accented terms fold
    to ("bán", "bạn" → "ban") gets their positions merged (a term has at most one token at a
    position, so the merge is the token order).
    """
    if _last_text[0] is value:
        return _last_text[1]
    terms = index_terms(value)
    grouped: dict[str, list[int]] = {}
    get = grouped.get
    for text, position in zip(terms.accented, terms.positions, strict=True):
        found = get(text)
        if found is None:
            grouped[text] = [position]
        else:
            found.append(position)
    accented: TextPostings = []
    by_folded: dict[str, tuple[list[int], bytes | None]] = {}
    for text, positions in grouped.items():
        encoded = _encoded(positions)
        accented.append((text.encode("utf-8"), len(positions), encoded))
        key = fold(text)
        seen = by_folded.get(key)
        if seen is None:
            by_folded[key] = (positions, encoded)
        else:
            by_folded[key] = (sorted(seen[0] + positions), None)
    folded: TextPostings = [
        (text.encode("utf-8"), len(positions), encoded or _encoded(positions))
        for text, (positions, encoded) in by_folded.items()
    ]
    _last_text[:] = [value, (accented, folded)]
    return accented, folded


def positions_postings(value: PresegmentedText, folded: bool, field_boost: float) -> Items:
    """What ``field.index(value)`` yields for a text field with Whoosh's ``Positions`` format
    and bantin's tokenizer: (term, frequency, weight, encoded positions) per distinct term,
    positions in token order, weight = frequency x field boost (every token's boost is 1).
    """
    postings = text_postings(value)[1 if folded else 0]
    return [(text, count, count * field_boost, encoded) for text, count, encoded in postings]


def _direct_postings(field: Any) -> Callable[[PresegmentedText], Items] | None:
    """For a field :func:`positions_postings` can serve, the function to call, else None."""
    analyzer = field.analyzer if hasattr(field, "analyzer") else None
    if type(field.format) is not formats.Positions or type(analyzer) is not VietnameseTokenizer:
        return None
    folded, boost = analyzer.folded, field.format.field_boost
    return lambda value: positions_postings(value, folded, boost)


class RebuildWriter(SegmentWriter):
    """A Whoosh ``SegmentWriter`` for adding documents to a new segment (see the module).

    Only for adding documents (no merging of existing segments into it, no deletions), to a
    schema without term vectors or separate spelling fields.
    """

    def __init__(
        self, ix: Any, *, limitmb: int, max_open_runs: int = MAX_OPEN_RUNS, **kwargs: Any
    ) -> None:
        super().__init__(ix, limitmb=limitmb, **kwargs)
        self.pool = TermPool(self._tempstorage, limitmb, max_open_runs)
        # The search fast path's side files are written with the segment when the segment is
        # a folder's and the schema has the fast path's fields (else the indexer decodes them).
        self.side_files = hasattr(self.storage, "folder") and all(
            name in self.schema for name in fastpath_store.FIELDS
        )
        self._direct: dict[str, Callable[[PresegmentedText], Items]] = {}
        for name, field in self.schema.items():
            if field.vector or field.separate_spelling():
                raise ValueError(f"RebuildWriter does not write vectors or spelling ({name})")
            direct = _direct_postings(field)
            if direct is not None:
                self._direct[name] = direct

    def add_document(self, **fields: Any) -> None:
        # Whoosh's SegmentWriter.add_document, but a text field's postings come straight from
        # a value that carries its analysis, and a field's postings go to the pool together.
        self._check_state()
        perdocwriter = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        add_postings = self.pool.add_postings
        docboost = self._doc_boost(fields)
        fieldnames = sorted([name for name in fields if not name.startswith("_")])
        self._check_fields(schema, fieldnames)
        perdocwriter.start_doc(docnum)
        try:
            for fieldname in fieldnames:
                value = fields.get(fieldname)
                if value is None:
                    continue
                field = schema[fieldname]
                length = 0
                if field.indexed:
                    fieldboost = self._field_boost(fields, fieldname, docboost)
                    direct = self._direct.get(fieldname)
                    if direct is not None and isinstance(value, PresegmentedText):
                        items = direct(value)
                    else:
                        items = list(field.index(value))
                    if fieldboost != 1.0:  # x 1.0 changes no weight
                        items = [(t, f, w * fieldboost, v) for t, f, w, v in items]
                    if field.scorable:
                        length = sum(item[1] for item in items)
                    add_postings(fieldname, docnum, items)
                stored = fields.get(f"_stored_{fieldname}", value)
                perdocwriter.add_field(fieldname, field, stored if field.stored else None, length)
                column = field.column_type
                if column and stored is not None:
                    perdocwriter.add_column_value(fieldname, column, field.to_column_value(stored))
        except ValueError:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self) -> None:
        # Whoosh's steps (close the per-document files, hand every posting to the codec's field
        # writer with its field length), a term at a time, lengths read once per field.
        self.perdocwriter.close()
        fieldwriter = self.fieldwriter
        if not (self.codec.length_stats and _writes_blocks(fieldwriter)):
            super()._flush_segment()
            return
        reader = self.per_document_reader()
        doc_count = reader.doc_count_all()
        side_fields = set(fastpath_store.FIELDS) if self.side_files else set()
        try:
            terms = self.pool.iter_terms()
            for fieldname, group in itertools.groupby(terms, key=lambda term: term[0][0]):
                fieldwriter.start_field(fieldname, self.schema[fieldname])
                length = reader.doc_field_length_reader(fieldname, 0)
                lengths = [length(docnum) for docnum in range(doc_count)]
                side = PostingsCollector(fieldname) if fieldname in side_fields else None
                for (_, btext), columns in group:
                    fieldwriter.start_term(btext)
                    postwriter = fieldwriter._postwriter
                    assert type(postwriter) is W3PostingsWriter
                    _add_term_postings(postwriter, *columns, lengths)
                    fieldwriter.finish_term()
                    if side is not None:
                        side.add_term(btext.decode("utf-8"), columns[0].tolist(), columns[2])
                fieldwriter.finish_field()
                if side is not None:
                    lengths_column = length_bytes(reader, fieldname, doc_count)
                    self._write_side_field(fieldname, side.finish(lengths_column))
                    side_fields.discard(fieldname)
            fieldwriter.close()
            if self.side_files:
                for fieldname in side_fields:  # a field no document of the segment has
                    lengths_column = length_bytes(reader, fieldname, doc_count)
                    empty = PostingsCollector(fieldname).finish(lengths_column)
                    self._write_side_field(fieldname, empty)
                fastpath_store.seal_segment(self._folder(), self._segment_id(), doc_count)
        finally:
            reader.close()

    def _folder(self) -> str:
        return self.storage.folder

    def _segment_id(self) -> str:
        return self.newsegment.segment_id()

    def _write_side_field(self, fieldname: str, postings: FieldPostings) -> None:
        """The search fast path's files of one field, straight from the postings just written
        (the same arrays :func:`~searcher.fastpath.decode.decode_field` would read back)."""
        fastpath_store.write_segment_field(self._folder(), self._segment_id(), fieldname, postings)


def _writes_blocks(fieldwriter: Any) -> bool:
    """Whether the field writer is Whoosh 3's, whose postings writer _add_term_postings feeds."""
    return type(fieldwriter) is W3FieldWriter


def _add_term_postings(
    postwriter: W3PostingsWriter,
    docnums: array,
    weights: array,
    values: list[bytes],
    lengths: list[int | None],
) -> None:
    """``W3PostingsWriter.add_posting`` for each posting of a term, a block at a time: the same
    blocks (a full block is written when the next posting arrives), values (empty ones are not
    kept) and statistics (largest weight, shortest and longest non-zero field length).
    """
    limit = postwriter._blocklimit
    whole = len(docnums) <= limit  # most terms: one block, taken without slicing
    for start in range(0, len(docnums), limit):
        if start:
            postwriter._write_block()
        stop = start + limit
        block_docnums = docnums if whole else docnums[start:stop]
        block_weights = weights if whole else weights[start:stop]
        postwriter._ids.extend(block_docnums)
        postwriter._weights.extend(block_weights.tolist())
        heaviest = max(block_weights)
        if heaviest > postwriter._maxweight:
            postwriter._maxweight = heaviest
        postwriter._values.extend(filter(None, values if whole else values[start:stop]))
        block_lengths = list(filter(None, map(lengths.__getitem__, block_docnums)))
        if block_lengths:
            shortest, longest = min(block_lengths), max(block_lengths)
            if postwriter._minlength is None or shortest < postwriter._minlength:
                postwriter._minlength = shortest
            if longest > postwriter._maxlength:
                postwriter._maxlength = longest


class SegmentSeries:
    """Rebuild segments written one after another, each closed at a memory budget.

    A :class:`RebuildWriter` keeps its segment's postings in memory until it finishes the
    segment (spilling sorted runs to disk only past ``limitmb``), so one writer for a whole
    corpus grows with the corpus. A series closes its segment when the buffered postings pass
    ``budget_mb`` (estimated) and starts a new one: memory stays bounded by the budget, at the
    price of more segments (searches loop over segments, so the budget should keep them few).
    The finished segments are listed in the index by the caller's own writer, which holds the
    index lock (the series' writers do not lock). ``max_open_runs`` is each writer's (see
    :class:`TermPool`).
    """

    def __init__(
        self, ix: Any, *, limitmb: int, budget_mb: float, max_open_runs: int = MAX_OPEN_RUNS
    ) -> None:
        self.ix = ix
        self.limitmb = limitmb
        self.max_open_runs = max_open_runs
        self.budget = budget_mb * 1024 * 1024
        self.segments: list[Any] = []
        self._writer: RebuildWriter | None = None

    def add_document(self, **fields: Any) -> None:
        if self._writer is None:
            self._writer = RebuildWriter(
                self.ix, limitmb=self.limitmb, max_open_runs=self.max_open_runs, _lk=False
            )
        self._writer.add_document(**fields)
        # The pool's millions of lists and tuples live until the segment closes and hold no
        # cycles: keep the cyclic garbage collector from walking them again and again (it
        # took a tenth of the build). Frozen objects are handed back when the segment closes.
        gc.freeze()
        if self._writer.pool.size >= self.budget:
            self._close_segment()

    def finish(self) -> list[Any]:
        """Finish the open segment; every segment written, in order."""
        if self._writer is not None:
            self._close_segment()
        return self.segments

    def cancel(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None
        gc.unfreeze()

    def _close_segment(self) -> None:
        # What Whoosh's own multiprocessing writer does in each worker: sort and write the
        # posting lists, close the files; the caller lists the segment in the index.
        writer, self._writer = self._writer, None
        assert writer is not None
        try:
            self.segments.append(writer._finalize_segment())
        finally:
            gc.unfreeze()
