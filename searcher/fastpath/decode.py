"""Read one Whoosh segment's postings straight into numpy arrays.

Whoosh's own matchers decode a posting at a time in Python (tens of microseconds per term just
to set one up), which is what makes a long posting list slow to search and slow to copy out.
This reader walks the term index and the postings file of a ``whoosh3`` segment directly: one
``pickle.loads`` per block for document numbers and values, and the position lists of a whole
batch of postings parsed together as numpy arrays (they are tiny pickles of delta lists).

It relies on the ``whoosh3`` codec's on-disk layout (``W3Bl`` blocks, ``!BfIBBfII`` term info,
``Positions`` values); anything unexpected raises :class:`UnsupportedSegment` so the caller can
leave the segment to the plain Whoosh path.
"""

from __future__ import annotations

import io
import pickle
import struct
import zlib
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import numpy as np

_TERMINFO = struct.Struct("!BfIBBfII")
_EXTENT = struct.Struct("!qi")
_BLOCK_MAGIC = b"W3Bl"
_PICKLE_LIST = np.frombuffer(b"\x80\x02]q\x00", dtype=np.uint8)
_K, _M, _J = ord("K"), ord("M"), ord("J")
#: Postings whose position lists are parsed together (bounds the writer's memory: parsing
#: takes about 150 bytes a posting).
_BATCH = 1 << 18


class UnsupportedSegment(Exception):
    """The segment is not in the layout this reader understands."""


@dataclass
class FieldPostings:
    """One field of one segment: terms, their postings and positions, and document lengths.

    ``docs[term_ptr[t]:term_ptr[t + 1]]`` are the (segment-local, ascending) documents of term
    ``t`` and ``freqs`` the matching term frequencies; the positions of those postings follow
    one another in ``positions[pos_ptr[t]:pos_ptr[t + 1]]``, ``freqs[k]`` of them for posting k.
    """

    terms: list[str]
    term_ptr: np.ndarray  # int64, len(terms) + 1
    docs: np.ndarray  # int32
    freqs: np.ndarray  # uint16 or uint32
    pos_ptr: np.ndarray  # int64, len(terms) + 1
    positions: np.ndarray  # uint16 or uint32
    length_bytes: np.ndarray  # uint8 per document: Whoosh's quantized field length


def decode_field(segment_reader: Any, fieldname: str) -> FieldPostings:
    """Every posting of ``fieldname`` in one Whoosh segment reader, as arrays."""
    try:
        terms_reader = segment_reader._terms
        tindex = terms_reader._tindex
        postfile = terms_reader._postfile
        prefix = terms_reader._keycoder(fieldname, b"")
    except AttributeError as error:
        raise UnsupportedSegment(f"not a whoosh3 segment ({error})") from None
    collector = PostingsCollector(fieldname)
    field_number = prefix[:2]
    for key, value in tindex.items_from(prefix):
        if key[:2] != field_number:
            break
        doc_ids: list[int] = []
        values: list[bytes] = []
        _term_postings(postfile, value, doc_ids, values)
        collector.add_term(key[2:].decode("utf-8"), doc_ids, values)
    return collector.finish(_length_bytes(segment_reader, fieldname))


class PostingsCollector:
    """Builds a field's :class:`FieldPostings` a term at a time, terms in index order.

    Shared by :func:`decode_field` (postings read back from a segment) and the indexer, which
    hands over the postings it is writing, so both make the very same arrays.
    """

    def __init__(self, fieldname: str) -> None:
        self.fieldname = fieldname
        self.terms: list[str] = []
        self._term_ptr = array("q", [0])
        self._doc_ids = array("i")  # segment-local document numbers
        self._freq_parts: list[np.ndarray] = []
        self._position_parts: list[np.ndarray] = []
        self._batch: list[bytes] = []

    def add_term(self, term: str, doc_ids: Iterable[int], values: list[bytes]) -> None:
        """A term's document numbers (ascending) and its ``Positions`` values, one each."""
        self.terms.append(term)
        self._doc_ids.extend(doc_ids)
        self._batch.extend(values)
        self._term_ptr.append(len(self._doc_ids))
        if len(self._batch) >= _BATCH:
            self._parse_batch()

    def _parse_batch(self) -> None:
        freqs, positions = _parse_positions(self._batch)
        # Kept as uint32 until the end, then narrowed to what the whole field needs.
        self._freq_parts.append(freqs.astype(np.uint32))
        self._position_parts.append(positions.astype(np.uint32))
        self._batch = []

    def finish(self, length_bytes: np.ndarray) -> FieldPostings:
        if self._batch:
            self._parse_batch()
        docs = np.frombuffer(self._doc_ids, dtype=np.int32)
        parts, position_parts = self._freq_parts, self._position_parts
        freqs = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        positions = np.concatenate(position_parts) if position_parts else np.zeros(0, np.int64)
        if freqs.size != docs.size:
            raise UnsupportedSegment(f"{self.fieldname}: postings and positions disagree")
        running = np.zeros(freqs.size + 1, dtype=np.int64)
        np.cumsum(freqs, out=running[1:])
        term_ptr = np.frombuffer(self._term_ptr, dtype=np.int64)
        return FieldPostings(
            terms=self.terms,
            term_ptr=term_ptr.copy(),
            docs=docs.astype(np.int32),
            freqs=_narrow(freqs),
            pos_ptr=running[term_ptr],
            positions=_narrow(positions),
            length_bytes=length_bytes,
        )


def _narrow(values: np.ndarray) -> np.ndarray:
    if values.size == 0 or int(values.max()) < 1 << 16:
        return values.astype(np.uint16)
    return values.astype(np.uint32)


def _term_postings(postfile: Any, terminfo: bytes, doc_ids: list[int], values: list[bytes]) -> None:
    """Append one term's document numbers and raw position values."""
    flags = terminfo[0]
    start = _TERMINFO.size
    if flags:  # postings inlined in the term info
        ids, _weights, inline_values = pickle.loads(terminfo[start:])
        doc_ids.extend(ids)
        values.extend(inline_values)
        return
    offset, length = _EXTENT.unpack_from(terminfo, start)
    raw = postfile.get(offset, length)
    if raw[:4] != _BLOCK_MAGIC:
        raise UnsupportedSegment("bad postings block header")
    stream = io.BytesIO(raw)
    position = 4
    while True:
        block_length = int.from_bytes(raw[position : position + 4], "big", signed=True)
        end = position + 4 + abs(block_length)
        stream.seek(position + 4)
        info = pickle.load(stream)
        data = raw[stream.tell() : end]
        if info[3]:
            data = zlib.decompress(data)
        id_deltas, _weights, block_values = pickle.loads(data)
        if not isinstance(block_values, tuple) or len(block_values) != len(id_deltas):
            raise UnsupportedSegment("postings without positions")
        doc_ids.extend(accumulate(id_deltas))
        values.extend(block_values)
        if block_length < 0:
            return
        position = end


def _parse_positions(values: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Term frequencies and absolute positions of a batch of ``Positions`` values.

    Each value is ``pack_uint(n)`` and the protocol-2 pickle of a list of ``n`` position
    deltas: ``\\x80\\x02]q\\x00`` then ``K``/``M``/``J`` integers (inside ``(``…``e`` when
    ``n > 1``), ``a``/``e`` and ``.``. Values whose integers are all one-byte ``K`` items have
    a fixed layout and are read with one strided gather; the others are read together one item
    index at a time; anything unexpected is decoded by ``pickle`` one value at a time.
    """
    count = len(values)
    buffer = np.frombuffer(b"".join(values), dtype=np.uint8)
    last = buffer.size - 1
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=count)
    offsets = np.zeros(count, dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    heads = buffer[np.minimum(offsets[:, None] + np.arange(10), last)]
    freqs = heads[:, :4].astype(np.int64) @ np.array([1 << 24, 1 << 16, 1 << 8, 1])
    multi = freqs > 1
    ok = (freqs >= 1) & (freqs <= 1000) & (lengths >= 11)
    ok &= (heads[:, 4:9] == _PICKLE_LIST).all(axis=1)
    ok &= ~multi | (heads[:, 9] == ord("("))
    item_start = offsets + 9 + multi  # first item opcode
    out_start = np.zeros(count, dtype=np.int64)
    np.cumsum(freqs[:-1], out=out_start[1:])
    deltas = np.zeros(int(freqs.sum()), dtype=np.int64)
    # All items one-byte: the length says so ("a." or "e." closes), and then item j's value
    # byte sits at item_start + 2j + 1.
    all_k = ok & (lengths == item_start - offsets + 2 * freqs + 2)
    rows = np.flatnonzero(all_k)
    if rows.size:
        counts = freqs[rows]
        within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        item_at = np.repeat(item_start[rows], counts) + 2 * within
        target = np.repeat(out_start[rows], counts) + within
        ops_ok = buffer[item_at] == _K
        deltas[target] = buffer[item_at + 1]
        if not ops_ok.all():
            ok[np.unique(np.repeat(rows, counts)[~ops_ok])] = False
    rest = np.flatnonzero(ok & ~all_k)
    cursor = item_start.copy()
    active = rest
    item = 0
    while active.size:
        where = cursor[active]
        op = buffer[where]
        good = (op == _K) | (op == _M) | (op == _J)
        if not good.all():
            ok[active[~good]] = False
            active, where, op = active[good], where[good], op[good]
        value = buffer[np.minimum(where + 1, last)].astype(np.int64)
        step = np.full(where.size, 2, dtype=np.int64)
        for code, width in ((_M, 2), (_J, 4)):
            hits = np.flatnonzero(op == code)
            if hits.size:
                at = where[hits]
                wide = value[hits]
                for k in range(1, width):
                    wide = wide | buffer[np.minimum(at + 1 + k, last)].astype(np.int64) << 8 * k
                if code == _J:
                    wide = np.where(wide >= 1 << 31, wide - (1 << 32), wide)
                value[hits] = wide
                step[hits] = 1 + width
        deltas[out_start[active] + item] = value
        cursor[active] = where + step
        item += 1
        active = active[freqs[active] > item]
    # The pickle must end right after the items: "a." for one item, "e." for several.
    cursor[all_k] = (offsets + lengths - 2)[all_k]
    closing = buffer[np.minimum(cursor, last)]
    ok &= (cursor + 2 == offsets + lengths) & (closing == np.where(multi, ord("e"), ord("a")))
    for index in np.flatnonzero(~ok).tolist():
        listed = pickle.loads(values[index][4:])
        if len(listed) != freqs[index]:
            raise UnsupportedSegment("position list length disagrees with its count")
        deltas[out_start[index] : out_start[index] + freqs[index]] = listed
    if deltas.size and deltas.min() < 0:
        raise UnsupportedSegment("negative position delta")
    # Deltas restart at every posting: a cumulative sum, less each posting's starting total.
    totals = np.cumsum(deltas)
    before = np.zeros(count, dtype=np.int64)
    before[1:] = totals[out_start[1:] - 1]
    positions = totals - np.repeat(before, freqs)
    return freqs, positions


def _length_bytes(segment_reader: Any, fieldname: str) -> np.ndarray:
    """Whoosh's per-document length byte of ``fieldname`` (0 where the field is empty)."""
    try:
        perdoc = segment_reader._perdoc
    except AttributeError as error:
        raise UnsupportedSegment(f"no length column ({error})") from None
    return length_bytes(perdoc, fieldname, segment_reader.doc_count_all())


def length_bytes(perdoc: Any, fieldname: str, doc_count: int) -> np.ndarray:
    """The length byte column of ``fieldname`` from a ``whoosh3`` per-document reader."""
    lengths = np.zeros(doc_count, dtype=np.uint8)
    try:
        from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

        column = perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    except (AttributeError, ImportError) as error:
        raise UnsupportedSegment(f"no length column ({error})") from None
    if column is None:
        return lengths
    stored = min(column._count, doc_count)
    raw = column._dbfile.get(column._basepos, stored)
    lengths[:stored] = np.frombuffer(raw, dtype=np.uint8)
    return lengths
