"""The searcher's mapped storage reads exactly what Whoosh's file storage reads."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh import index as whoosh_index

from searcher.mapped import MappedStorage, _View, open_whoosh_index
from searcher.storage import read_current

_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("read"), st.integers(-1, 40)),
        st.tuples(st.just("readline"), st.integers(-1, 40)),
        st.tuples(st.just("seek"), st.integers(0, 80), st.sampled_from([0, 1, 2])),
        st.tuples(st.just("readinto"), st.integers(0, 40)),
        st.tuples(
            st.just("tell"),
        ),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120).map(lambda b: b.replace(b"\x00", b"\n")), _OPS)
def test_view_reads_like_bytesio(data: bytes, operations: list[tuple]) -> None:
    view, reference = _View(memoryview(data)), io.BytesIO(data)
    for name, *args in operations:
        if name == "seek":
            offset, whence = args
            offset = -offset if whence == os.SEEK_END else offset
            if whence == os.SEEK_CUR and reference.tell() + offset < 0:
                continue
            assert view.seek(offset, whence) == reference.seek(offset, whence)
        elif name == "readinto":
            mine, theirs = bytearray(args[0]), bytearray(args[0])
            assert view.readinto(mine) == reference.readinto(theirs)
            assert mine == theirs
        else:
            assert getattr(view, name)(*args) == getattr(reference, name)(*args)


def test_mapped_index_reads_what_whoosh_reads(corpus_index: Path) -> None:
    path = read_current(corpus_index).path
    mine, theirs = open_whoosh_index(path), whoosh_index.open_dir(str(path))
    assert isinstance(mine.storage, MappedStorage)
    try:
        with mine.searcher() as a, theirs.searcher() as b:
            assert a.doc_count_all() == b.doc_count_all()
            for docnum in range(a.doc_count_all()):
                assert a.stored_fields(docnum) == b.stored_fields(docnum)
            for field in ("title", "body_folded"):
                terms = _terms(a, field)
                assert terms == _terms(b, field)
                for term, _, _ in terms[::7]:
                    mine_postings = a.reader().postings(field, term)
                    their_postings = b.reader().postings(field, term)
                    assert list(mine_postings.items_as("positions")) == list(
                        their_postings.items_as("positions")
                    )
    finally:
        mine.close()
        theirs.close()


def _terms(searcher: Any, field: str) -> list[tuple[bytes, int, float]]:
    return [(t, i.doc_frequency(), i.weight()) for t, i in searcher.reader().iter_field(field)]
