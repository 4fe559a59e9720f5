"""Marks from the syllables stored at index time equal the reference's, character for character.

:mod:`searcher.fastpath.passages` replaces re-analysing each hit's stored text; whatever it
returns must be exactly :func:`searcher.highlight.find_matches`'s spans, so titles and snippets
stay identical to :func:`~searcher.highlight.highlight` and :func:`~searcher.highlight.snippet`.
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index import build_index
from searcher import Searcher
from searcher.analysis import canonical_syllable, fold
from searcher.fastpath.marks import document_spans, page_marks, page_windows
from searcher.fastpath.passages import Passages, SegmentPassages, passages_dir
from searcher.highlight import Pattern, best_window, find_matches, highlight, snippet
from searcher.plan import highlight_patterns
from searcher.query import parse_query
from searcher.schema import CAPTION_SEPARATOR, split_captions
from searcher.storage import read_current

_SYLLABLES = ["ủy", "Uỷ", "UỶ", "ban", "bán", "bạn", "dân", "dan", "hoà", "hòa", "ha", "2", "5"]
_SYLLABLES += ["2.5", "1.000", "x", "nam", "năm", "Đéc", "đéc", "a\u0301", "ǅ", "ﬁ", "Σ"]
_GLUE = [" ", "  ", ", ", ".", ". ", "-", "_", "\n", "(", "“", "/", ":", "", ",5", ".7x"]
_GLUE += ["\u200b", "\xad", "\x07", "\u0301 ", "<b>&"]
# The marks stand in as private-use characters while escaping; odd spaces are collapsed.
_GLUE += ["\ue000", "\ue001 ", "\ue002", "\t \u3000", "\x0b", " \x85"]

_texts = st.lists(st.tuples(st.sampled_from(_SYLLABLES), st.sampled_from(_GLUE)), max_size=40).map(
    lambda pieces: "".join(syllable + glue for syllable, glue in pieces)
)


def _patterns(queries: list[list[str]], accented: bool) -> list[Pattern]:
    return [
        Pattern(
            tuple(fold(w) for w in words),
            tuple(canonical_syllable(w) for w in words) if accented else None,
        )
        for words in queries
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"title": _texts, "body": _texts},
            optional={"captions": st.lists(_texts, max_size=2).map(CAPTION_SEPARATOR.join)},
        ),
        min_size=1,
        max_size=6,
    ),
    st.lists(
        st.lists(st.sampled_from(_SYLLABLES[:20]), min_size=1, max_size=3), min_size=0, max_size=3
    ),
    st.booleans(),
)
def test_stored_syllables_give_the_reference_spans(
    documents: list[dict[str, str]], queries: list[list[str]], accented: bool
) -> None:
    patterns = _patterns(queries, accented)
    passages = Passages([SegmentPassages.of(documents)], [0])
    docnums = list(range(len(documents)))
    found = document_spans(passages, docnums, patterns)
    for document, spans in zip(documents, found, strict=True):
        if spans is None:  # not NFC: the per-hit path answers
            continue
        for name in ("title", "body"):
            assert spans[name] == find_matches(document[name], patterns)
    for document, (title_html, snippet_html) in zip(
        documents, page_marks(passages, docnums, documents, patterns), strict=True
    ):
        assert title_html == highlight(document["title"], patterns)
        captions = split_captions(document.get("captions"))
        assert snippet_html == snippet(document["body"], patterns, captions=captions)


_span = st.tuples(st.integers(0, 3000), st.integers(1, 12), st.sampled_from([0, 1, 2, 3, 4, 63]))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(_span, max_size=120), min_size=1, max_size=10),
    st.sampled_from([20, 60, 240]),
)
def test_page_windows_are_the_reference_windows(
    raw: list[list[tuple[int, int, int]]], size: int
) -> None:
    texts = ["x" * 3100 for _ in raw]
    spans = [sorted((start, start + width, kind) for start, width, kind in r) for r in raw]
    expected = [best_window(text, s, size) for text, s in zip(texts, spans, strict=True)]
    assert page_windows(texts, spans, size) == expected


def test_documents_in_several_segments_and_deleted_ones() -> None:
    first = [{"title": "Hà Nội mưa to", "body": "Mưa to ở Hà Nội, hà nội ngập."}, None]
    second = [{"title": "Sa Đéc", "body": "UBND thành phố Sa Đéc họp; sa dec."}]
    passages = Passages([SegmentPassages.of(first), SegmentPassages.of(second)], [0, 2])
    stored = [first[0], second[0]]
    patterns = highlight_patterns(parse_query("ha noi sa dec"))
    found = document_spans(passages, [0, 2], patterns)
    for document, spans in zip(stored, found, strict=True):
        assert spans is not None
        assert spans["body"] == find_matches(document["body"], patterns)
        assert spans["title"] == find_matches(document["title"], patterns)


@pytest.mark.parametrize(
    "odd",
    ["", "\ue000", "\ue001", "\ue002", "<\ue000>&\ue001"],
    ids=["plain", "open", "close", "end", "all"],
)
def test_a_page_escaped_together_equals_each_text_rendered_alone(odd: str) -> None:
    """The page's texts are escaped as one string with private-use stand-ins for the marks
    and the ends of texts: a text holding one itself, and odd runs of spaces, change
    nothing."""
    filler = "Các đơn vị họp bàn kế hoạch năm nay. " * 12
    documents = [
        {"title": f"Hà Nội{odd} mưa to", "body": filler + "Mưa to ở\n\n Hà  Nội,\t hà nội ngập."},
        {"title": "Sa Đéc & <b>", "body": "UBND \x0b thành phố\u3000Sa Đéc họp; " + filler},
        {"title": "", "body": f"hà nội {odd}" + filler + " \x85 sa đéc"},
    ]
    passages = Passages([SegmentPassages.of(documents)], [0])
    patterns = highlight_patterns(parse_query("hà nội sa đéc"))
    marks = page_marks(passages, [0, 1, 2], documents, patterns)
    for document, (title_html, snippet_html) in zip(documents, marks, strict=True):
        assert title_html == highlight(document["title"], patterns)
        assert snippet_html == snippet(document["body"], patterns)


def _queries_from(texts: list[str], count: int, seed: int) -> list[str]:
    """Fragments of the texts (1–4 words, accented, folded or upper case) and single words."""
    rng = random.Random(seed)
    words = [re.findall(r"[^\W_]+(?:[.,][0-9]+)*", text) for text in texts]
    words = [w for w in words if w]
    queries = []
    for i in range(count):
        tokens = rng.choice(words)
        size = rng.randint(1, min(4, len(tokens)))
        start = rng.randrange(len(tokens) - size + 1)
        query = " ".join(tokens[start : start + size])
        queries.append([query.lower(), fold(query), query.upper(), f'"{query}"'][i % 4])
    return queries


def test_every_document_of_an_index_marks_like_the_reference(
    corpus_index: Path, searcher: Searcher
) -> None:
    """Many queries × every document of the shipped corpus, and the searcher's own pages."""
    opened = searcher._current()
    assert opened.fast is not None and opened.fast.passages is not None
    docnums = list(range(opened.searcher.doc_count_all()))
    stored = [opened.searcher.stored_fields(d) for d in docnums]
    queries = _queries_from([s["title"] + " " + s["body"] for s in stored], 150, seed=1)
    queries += ["ubnd", "UBND", "cải cách hành chính", "cai cach", "năm 2022", "sa đéc"]
    for query in queries:
        patterns = highlight_patterns(parse_query(query))
        found = document_spans(opened.fast.passages, docnums, patterns)
        for document, spans in zip(stored, found, strict=True):
            assert spans is not None, document["id"]
            for name in ("title", "body"):
                assert spans[name] == find_matches(document[name], patterns), (query, name)
    # The searcher's own pages (its patterns, captions included) equal the reference path's.
    with Searcher(corpus_index, fast=False) as plain:
        for query in queries:
            expected = {hit.id: hit for hit in plain.search(query).hits}
            for hit in searcher.search(query).hits:
                if hit.id in expected:
                    assert hit.title_html == expected[hit.id].title_html, query
                    assert hit.snippet == expected[hit.id].snippet, query


def test_an_index_without_the_files_or_with_truncated_ones_keeps_working(tmp_path: Path) -> None:
    from corpus import corpus_files

    build_index(corpus_files(), tmp_path)
    folder = passages_dir(read_current(tmp_path).path)
    with Searcher(tmp_path) as with_files:
        assert with_files._current().fast.passages is not None
        expected = with_files.search("cai cach hanh chinh").to_dict()
    segment = next(p for p in folder.iterdir() if p.is_dir())
    ids = np.load(segment / "ids.npy")
    np.save(segment / "ids.npy", ids[: ids.size // 2])  # truncated: not trusted
    for damage in ("truncated", "removed"):
        if damage == "removed":
            shutil.rmtree(folder)
        with Searcher(tmp_path) as without:
            fast = without._current().fast
            assert fast is not None and fast.passages is None, damage
            got = without.search("cai cach hanh chinh").to_dict()
        assert got["hits"] and [h["snippet"] for h in got["hits"]] == [
            h["snippet"] for h in expected["hits"]
        ]
        titles = [h["title_html"] for h in got["hits"]]
        assert titles == [h["title_html"] for h in expected["hits"]]
