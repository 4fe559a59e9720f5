"""The fast path answers exactly what plain Whoosh answers: hits, scores, facets, highlights."""

from __future__ import annotations

import itertools
import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus import corpus_files
from index import build_index, update_index
from searcher import Searcher
from searcher.analysis import fold
from searcher.fastpath import store
from searcher.fastpath.compiled import Node
from searcher.fastpath.pages import PageFields
from searcher.fastpath.phrases import find_sorted
from searcher.fastpath.pruning import Pruning
from searcher.fastpath.scorer import Scorer
from searcher.fastpath.snippets import find_matches_fast, highlight_fast, snippet_fast
from searcher.fastpath.store import FIELDS
from searcher.generation import term_counts
from searcher.highlight import Pattern, find_matches, highlight, snippet
from searcher.plan import PRODUCT_PLAN, PlanOptions
from searcher.query import parse_query
from searcher.schema import TEXT_FIELDS
from searcher.storage import read_current

QUERIES = [
    "cải cách hành chính",
    "cai cach hanh chinh",
    "CCHC",
    "UBND",
    "ủy ban nhân dân",
    "uy ban nhan dan tinh",
    "Uỷ ban",
    "người dân",
    "nguoi dan",
    '"người dân"',
    '"dân người"',
    "hòa bình",
    "hoà bình",
    "bán",
    "bạn",
    "ban",
    "hội nghị -Đéc",
    "hội nghị OR tập huấn",
    '"Tân Kỳ" OR "Hương Trà"',
    "title:hội nghị",
    "title:ủy ban",
    "2.5 triệu",
    "1.000",
    "covid-19",
    "TP.HCM",
    "ha ha",
    "dân dân",
    "kiểm tra chấn chỉnh",
    "cải cách zzqxw",
    "zzqxw",
    "sa dec",
    "hanh chinh",
    "thủ tục hành chính TTHC",
    "an toàn giao thông",
    "ATGT nông thôn mới",
    "quang canh hoi nghi",  # photo captions: their own field
    "quang cảnh buổi làm việc",
    "1500 hộ dân",  # numbers in any written form
    "06 tháng",
    "5/7/2022",
    "7.5%",
]
FILTERS = [{}, {"province": "Đồng Tháp"}, {"year": 2022}, {"locality": "sa dec"}]

_PHRASES = [
    "Ủy ban nhân dân",
    "Uỷ ban nhân dân",
    "UBND",
    "ủy ban",
    "nhân dân",
    "người dân",
    "dân người",
    "cải cách hành chính",
    "CCHC",
    "thủ tục hành chính",
    "hòa bình",
    "hoà bình",
    "bán",
    "bạn",
    "bàn",
    "2.5 triệu",
    "1.000 người",
    "covid-19",
    "TP.HCM",
    "ha ha ha",
    "dân dân",
    "an toàn giao thông",
    "ATGT",
    "nông thôn mới",
    "hội nghị",
    "tập huấn",
    "Sa Đéc",
    "Tân Kỳ",
]
_PLACES = [
    ("Thành phố Sa Đéc", "Đồng Tháp"),
    ("Huyện Tân Kỳ", "Nghệ An"),
    ("Thị xã Hương Trà", "Thừa Thiên Huế"),
    (None, None),
]


def synthetic_bulletins(count: int, seed: int = 7) -> list[dict]:
    """Bulletins made of the shipped corpus's sentences and the phrases queries look for."""
    rng = random.Random(seed)
    sentences = [
        line.strip()
        for path in corpus_files()
        for line in path.read_text(encoding="utf-8").replace(". ", ".\n").splitlines()
        if len(line.split()) >= 4
    ]
    records = []
    for i in range(count):
        parts = rng.sample(sentences, rng.randint(1, 6))
        for _ in range(rng.randint(0, 5)):
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(_PHRASES) + ".")
        locality, province = rng.choice(_PLACES)
        record = {
            "id": f"syn/{i:04d}, bản tin",
            "title": " ".join(rng.sample(_PHRASES, rng.randint(1, 4))).capitalize(),
            "body": " ".join(parts),
        }
        if locality:
            record.update(locality=locality, province=province)
        if rng.random() < 0.8:
            year, month, day = rng.randint(2019, 2023), rng.randint(1, 12), rng.randint(1, 28)
            record["date"] = f"{year}-{month:02d}-{day:02d}"
        if i % 3 == 0:  # photo captions, scored in their own field
            record["captions"] = [rng.choice(_PHRASES), rng.choice(sentences)[:160]]
        records.append(record)
    return records


def write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def assert_same_answers(fast: Searcher, plain: Searcher, queries: list[str]) -> None:
    assert fast._current().fast is not None, "the fast path should serve this index"
    assert plain._current().fast is None
    cases = [(filters, "relevance") for filters in FILTERS] + [({}, "date")]
    for query in queries:
        for filters, sort in cases:
            expected = plain.search(query, per_page=100, sort=sort, **filters).to_dict()
            got = fast.search(query, per_page=100, sort=sort, **filters).to_dict()
            where = f"{query!r} {filters} {sort}"
            assert got["total"] == expected["total"], where
            assert got["facets"] == expected["facets"], where
            assert got["suggestion"] == expected["suggestion"], where
            assert_same_hits(got["hits"], expected["hits"], where)


def assert_same_hits(got: list[dict], expected: list[dict], where: str) -> None:
    """Same ids in the same order up to ties, scores within 1e-4, identical highlights."""
    assert len(got) == len(expected), where
    for mine, theirs in zip(got, expected, strict=True):
        assert mine["score"] == pytest.approx(theirs["score"], abs=1e-4), where
    by_score: dict[float, set[str]] = {}
    for hit in expected:
        by_score.setdefault(round(hit["score"], 3), set()).add(hit["id"])
    for mine, theirs in zip(got, expected, strict=True):
        if mine["id"] != theirs["id"]:  # only documents of one score may swap places
            assert mine["id"] in by_score[round(theirs["score"], 3)], where
    expected_by_id = {hit["id"]: hit for hit in expected}
    for hit in got:
        theirs = expected_by_id[hit["id"]]
        assert (hit["title_html"], hit["snippet"]) == (theirs["title_html"], theirs["snippet"])


# --- the shipped corpus: the index every search test uses ----------------------------------


def test_search_tests_run_through_the_fast_path(searcher: Searcher) -> None:
    assert searcher._current().fast is not None


def test_shipped_corpus_fast_and_plain_agree(corpus_index: Path) -> None:
    with Searcher(corpus_index) as fast, Searcher(corpus_index, fast=False) as plain:
        assert_same_answers(fast, plain, QUERIES)


# --- a few hundred synthetic bulletins, then an update with changes and deletions ----------


@pytest.fixture(scope="module")
def synthetic_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synthetic")
    build_index([write(folder / "a.jsonl", synthetic_bulletins(400))], folder / "ix")
    return folder / "ix"


def test_synthetic_bulletins_fast_and_plain_agree(synthetic_index: Path) -> None:
    with Searcher(synthetic_index) as fast, Searcher(synthetic_index, fast=False) as plain:
        assert_same_answers(fast, plain, QUERIES)
        assert_same_term_counts(fast)


@pytest.mark.parametrize("cached", [False, True])
def test_pruned_ranking_equals_the_exhaustive_one(synthetic_index: Path, cached: bool) -> None:
    """The page is ranked from the documents that clause-by-clause scoring leaves in the
    running; here that pruning runs on every query (it normally starts above 512 matches),
    with every unit's bit set cached or none."""
    with Searcher(synthetic_index) as fast, Searcher(synthetic_index, fast=False) as plain:
        opened = fast._current().fast
        assert opened is not None
        opened.prune_above = 0
        if cached:
            opened.worth_caching = 0
        pruned = []
        for query in QUERIES:
            for page, per_page in [(1, 10), (2, 10), (1, 3)]:
                expected = plain.search(query, page=page, per_page=per_page).to_dict()
                got = fast.search(query, page=page, per_page=per_page).to_dict()
                where = f"{query!r} page {page} of {per_page}"
                assert got["total"] == expected["total"], where
                assert got["facets"] == expected["facets"], where
                assert_same_hits(got["hits"], expected["hits"], where)
            matches = fast._current().fast.match(_compiled_query(fast, query))
            pruning = Pruning(opened, opened.compile(_compiled_query(fast, query)), 0)
            pruned.append(pruning.candidates(matches, 10).size < matches.size)
        assert sum(pruned) >= len(QUERIES) // 3, "pruning should leave out documents"
        assert_same_answers(fast, plain, QUERIES)


@pytest.mark.parametrize("fast_path", [True, False])
def test_an_excluded_acronym_excludes_its_spelled_out_form(
    synthetic_index: Path, fast_path: bool
) -> None:
    """Whoosh's AndNot matcher let through a bulletin holding the excluded "cchc" (its
    negative side an Or of terms and phrases); both paths must exclude it."""
    with Searcher(synthetic_index, fast=fast_path) as searcher:
        results = searcher.search("1.000 -CCHC", per_page=100)
        assert results.total == len(results.hits) > 0
        for hit in results.hits:
            document = searcher.doc(hit.id)
            assert document is not None
            text = fold(f"{document.title} {document.body}")
            assert "cchc" not in text and "cai cach hanh chinh" not in text, hit.id


_WORDS = sorted({w for phrase in _PHRASES for w in phrase.split()} | {"hội", "huyện", "tỉnh"})


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(st.sampled_from(_WORDS), min_size=1, max_size=5),
    form=st.sampled_from(["plain", "folded", "or", "exclude", "phrase"]),
    page=st.integers(1, 3),
    per_page=st.sampled_from([1, 3, 10]),
)
def test_pruned_ranking_on_generated_queries(
    pruning_pair: tuple[Searcher, Searcher], words: list[str], form: str, page: int, per_page: int
) -> None:
    """Queries of the synthetic bulletins' words in every form, pruning on every query: the
    page, its scores and the facets are plain Whoosh's."""
    fast, plain = pruning_pair
    if form == "folded":
        words = [fold(w) for w in words]
    text = {
        "or": " OR ".join(words),
        "exclude": " ".join([*words[:-1], "-" + words[-1]]) if len(words) > 1 else words[0],
        "phrase": f'"{" ".join(words)}"',
    }.get(form, " ".join(words))
    expected = plain.search(text, page=page, per_page=per_page).to_dict()
    got = fast.search(text, page=page, per_page=per_page).to_dict()
    assert (got["total"], got["facets"]) == (expected["total"], expected["facets"]), text
    assert_same_hits(got["hits"], expected["hits"], text)


def test_common_units_kept_dense_leave_the_page_exact(synthetic_index: Path) -> None:
    """A common unit asked for again is kept as float32 scores of every document, and the
    pruning reads it from there: the pages stay plain Whoosh's (were the kept scores too
    low, a document of the page would be pruned away)."""
    with Searcher(synthetic_index) as fast, Searcher(synthetic_index, fast=False) as plain:
        opened = fast._current().fast
        assert opened is not None
        opened.prune_above = 0
        for _ in range(2):  # the second time, the common units are kept whole
            assert_same_answers(fast, plain, QUERIES)
        dense = [key for key in opened.cache._items if key[0] == "dense"]
        assert dense, "no unit was kept dense"
        scorer = Scorer(opened)
        for _, node in dense:
            if node.kind != "or":
                continue
            docs, scores = scorer.sparse(node)
            expected = np.zeros(opened.size, dtype=np.float32)
            expected[docs] = scores
            assert np.array_equal(scorer._dense(node)[0], expected), node


@pytest.fixture(scope="module")
def pruning_pair(synthetic_index: Path) -> Iterator[tuple[Searcher, Searcher]]:
    with Searcher(synthetic_index) as fast, Searcher(synthetic_index, fast=False) as plain:
        opened = fast._current().fast
        assert opened is not None
        opened.prune_above = 0
        yield fast, plain


def _compiled_query(searcher: Searcher, text: str, plan: PlanOptions = PRODUCT_PLAN) -> Any:
    """The Whoosh query a search for ``text`` runs (all words required)."""
    from searcher.execution import Execution

    opened = searcher._current()
    execution = Execution(opened, parse_query(text), None, plan)
    execution.run()
    return execution.query


#: Queries of several adjacent words: each pair adds a boosted phrase clause (proximity).
PROXIMITY_QUERIES = [
    "hội nghị tập huấn",
    "cai cach hanh chinh tinh",
    "người dân hội nghị",
    "dân người",
    "an toàn giao thông nông thôn mới",
    "kiểm tra chấn chỉnh",
    "nhân dân huyện Tân Kỳ",
    "UBND tỉnh hội nghị",
]


@pytest.mark.parametrize("proximity", [PRODUCT_PLAN.proximity, 2.0])
def test_proximity_clauses_fast_and_plain_agree(synthetic_index: Path, proximity: float) -> None:
    """The proximity phrases are scored by the fast path (not sent to plain Whoosh) and give
    plain Whoosh's scores, order, totals, facets and pages, pruned on every query too."""
    plan = PlanOptions(proximity=proximity)
    with (
        Searcher(synthetic_index, plan=plan) as fast,
        Searcher(synthetic_index, plan=plan, fast=False) as plain,
    ):
        opened = fast._current().fast
        assert opened is not None
        for text in PROXIMITY_QUERIES:
            node = opened.compile(_compiled_query(fast, text, plan))
            boosted = [n for n in _nodes(node) if n.kind == "phrase" and n.boost == proximity]
            assert boosted, text
        assert_same_answers(fast, plain, PROXIMITY_QUERIES)
        opened.prune_above = 0
        for text in PROXIMITY_QUERIES:
            for page, per_page in [(1, 10), (2, 10), (1, 3)]:
                expected = plain.search(text, page=page, per_page=per_page).to_dict()
                got = fast.search(text, page=page, per_page=per_page).to_dict()
                assert (got["total"], got["facets"]) == (expected["total"], expected["facets"])
                assert_same_hits(got["hits"], expected["hits"], f"{text!r} page {page}")


#: A run of three or more words (a phrase clause in the title) and long questions (pairs in
#: the body and captions only, boosted twice): the fast path scores them as plain Whoosh does.
RUN_QUERIES = [
    "cải cách hành chính",
    "cai cach hanh chinh",
    "hội nghị tập huấn nông thôn mới",
    "người dân các xã hội nghị tập huấn cải cách hành chính và an toàn giao thông ở nông thôn mới"
    " của huyện",
    "nguoi dan cac xa hoi nghi tap huan cai cach hanh chinh va an toan giao thong o nong thon moi"
    " cua huyen",
]


def test_title_runs_and_long_questions_fast_and_plain_agree(synthetic_index: Path) -> None:
    text_boost = PRODUCT_PLAN.proximity * PRODUCT_PLAN.any_word_text_proximity
    with Searcher(synthetic_index) as fast, Searcher(synthetic_index, fast=False) as plain:
        opened = fast._current().fast
        assert opened is not None
        for text in RUN_QUERIES:
            node = opened.compile(_compiled_query(fast, text))
            phrases = [n for n in _nodes(node) if n.kind == "phrase"]
            in_title = [n for n in phrases if n.field.startswith("title")]
            if len(parse_query(text).groups) > PRODUCT_PLAN.any_word_above:
                assert any(n.boost == text_boost for n in phrases), text
                assert all(len(n.words) > 2 for n in in_title), text  # no title pairs
            else:
                assert any(len(n.words) >= 3 for n in in_title), text
        assert_same_answers(fast, plain, RUN_QUERIES)
        opened.prune_above = 0
        assert_same_answers(fast, plain, RUN_QUERIES)


def proximity_bulletins() -> list[dict]:
    """Bulletins where proximity decides the page: many hold both words apart and often, a
    few hold them once, side by side, and rank first only for the phrase's boost."""
    fillers = ["gamma", "delta", "epsilon", "zeta", "omega", "theta", "kappa", "sigma"]
    rng = random.Random(3)
    records = []
    for i in range(240):
        words = ["alpha", "beta"] * 3 + rng.sample(fillers, 6)
        rng.shuffle(words)
        while any(a == "alpha" and b == "beta" for a, b in itertools.pairwise(words)):
            rng.shuffle(words)
        records.append({"id": f"apart-{i:03d}", "title": "Tin", "body": " ".join(words)})
    for i in range(6):
        words = rng.sample(fillers, 4 + i % 3)
        body = " ".join([*words[:2], "alpha beta", *words[2:]])
        records.append({"id": f"side-{i}", "title": "Tin", "body": body})
    rng.shuffle(records)
    return records


@pytest.mark.parametrize("whole", [True, False])
def test_unverified_proximity_phrases_are_bounded_so_the_page_stays_exact(
    tmp_path: Path, whole: bool
) -> None:
    """Pruning verifies a pair's phrase asked for the first time only on its last candidates:
    until then a document is credited with the most the phrase could add. Here the documents
    holding the pair side by side score below the others on the words alone and lead only
    with the phrase, so a bound too low for them loses them from the page. Asked again, the
    phrase is verified whole and kept, and the page stays the same; a pair of words too
    common to verify whole (``whole`` False) is verified on the candidates at every ask."""
    build_index([write(tmp_path / "p.jsonl", proximity_bulletins())], tmp_path / "ix")
    text = "alpha beta"
    with Searcher(tmp_path / "ix", fast=False) as plain:
        for per_page in (1, 3, 6, 10):
            expected = plain.search(text, per_page=per_page).to_dict()
            assert expected["hits"][0]["id"].startswith("side-"), "proximity should decide"
            assert expected["total"] > 200
            with Searcher(tmp_path / "ix") as fast:  # a new generation: nothing asked before
                opened = fast._current().fast
                assert opened is not None
                opened.prune_above = 0
                opened.whole_phrase_docs = opened.size if whole else 0
                pruning = Pruning(opened, opened.compile(_compiled_query(fast, text)), 0)
                assert pruning.deferred, "the pair's phrase should wait for the last candidates"
                opened._asked.clear()
                for ask in ("first", "again", "kept"):
                    got = fast.search(text, per_page=per_page).to_dict()
                    assert got["total"] == expected["total"]
                    assert_same_hits(got["hits"], expected["hits"], f"{per_page} a page, {ask}")
                    known = any(opened.phrase_known(f, (text.split()[0], "beta")) for f in FIELDS)
                    assert known == (whole and ask != "first"), ask


def _nodes(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _nodes(child)


def test_update_and_deletions_keep_the_fast_path_exact(tmp_path: Path) -> None:
    records = synthetic_bulletins(300, seed=11)
    first = write(tmp_path / "first.jsonl", records[:200])
    second = write(tmp_path / "second.jsonl", records[200:])
    build_index([first, second], tmp_path / "ix")
    with Searcher(tmp_path / "ix") as fast, Searcher(tmp_path / "ix", fast=False) as plain:
        assert_same_answers(fast, plain, QUERIES[:8])
        # Change some bulletins, drop others, add new ones: a new segment beside the old one,
        # deletions recorded against the old one.
        changed = records[:150] + synthetic_bulletins(40, seed=12)
        changed = [dict(r, id=f"new-{i}") if i >= 150 else r for i, r in enumerate(changed)]
        changed[3] = dict(changed[3], body="Ủy ban nhân dân phường tổ chức hội nghị.")
        write(first, changed)
        report = update_index([first], tmp_path / "ix")
        assert report.removed and report.added and report.updated
        generation = read_current(tmp_path / "ix")
        segments = sorted(p.name for p in store.side_dir(generation.path).iterdir())
        assert len(segments) >= 1 and not any(name.startswith(".") for name in segments)
        assert fast.doc_count() == plain.doc_count() == report.indexed
        assert fast._current().fast is not None
        assert_same_answers(fast, plain, QUERIES)
        assert_same_term_counts(fast)


def test_a_pages_exact_weights_equal_each_terms_own(tmp_path: Path) -> None:
    """``TermIndex.exact_at`` (all of a page's terms at once: one binary search per term and
    segment, then the formula for all) gives each term's float64 weights, bit for bit, over
    several segments, for documents with and without the term and for absent terms."""
    records = synthetic_bulletins(300, seed=13)
    source = write(tmp_path / "a.jsonl", records[:200])
    build_index([source], tmp_path / "ix")
    write(source, records)
    update_index([source], tmp_path / "ix")
    with Searcher(tmp_path / "ix") as searcher:
        fast = searcher._current().fast
        assert fast is not None and len(fast.segments) > 1
        keys = [("body", "không-có-từ-này")]
        for field in ("title", "body", "title_folded", "body_folded"):
            by_df = sorted(fast.document_frequencies([field]).items(), key=lambda kv: -kv[1])
            keys += [(field, term) for term, _ in by_df[:4] + by_df[-4:]]
        rng = np.random.default_rng(5)
        for size in (1, 17, 64):
            within = np.sort(rng.choice(fast.size, size, replace=False)).astype(np.int64)
            expected = np.zeros((len(keys), size))
            for row, (field, term) in enumerate(keys):
                docs, freqs = fast._postings(field, term)
                every = np.zeros(fast.size)
                every[docs] = fast._weights(field, docs, freqs)
                expected[row] = every[within]
            got = fast.exact_at(keys, within)
            assert np.array_equal(got, expected), size
            assert (got > 0).any(), "some of the documents should hold some of the terms"


def test_find_sorted_across_integer_widths() -> None:
    """int64 values searched in an int32 pool are narrowed to spare a copy of the pool; a value
    that does not fit is still reported absent, never as the pool's value it wraps to."""
    pool = np.arange(0, 3000, 3, dtype=np.int32)
    values = np.array([3, 2**32 + 3, 10, 2997, 2**32 + 2997, -(2**32) + 6], dtype=np.int64)
    found, where = find_sorted(pool, values)
    assert found.tolist() == [True, False, False, True, False, False]
    assert (pool[where[found]] == values[found]).all()


def assert_same_term_counts(searcher: Searcher) -> None:
    """The suggestion vocabulary's counts from the side files equal Whoosh's, in its order."""
    opened = searcher._current()
    expected = term_counts(opened.searcher.reader())
    assert opened.fast is not None
    got = opened.fast.document_frequencies(TEXT_FIELDS)
    assert list(got.items()) == list(expected.items())


# --- missing or stale side files fall back to plain Whoosh ---------------------------------


def test_index_without_side_files_is_served_by_plain_whoosh(tmp_path: Path) -> None:
    build_index(corpus_files(), tmp_path / "ix")
    generation = read_current(tmp_path / "ix")
    shutil.rmtree(store.side_dir(generation.path))
    with Searcher(tmp_path / "ix") as searcher:
        assert searcher._current().fast is None
        assert searcher.search("cải cách").total == 5
    assert store.write_side_files(generation.path) == 1
    with Searcher(tmp_path / "ix") as searcher:
        assert searcher._current().fast is not None
        assert searcher.search("cải cách").total == 5


def test_without_precomputed_weights_the_fast_path_computes_them(tmp_path: Path) -> None:
    build_index([write(tmp_path / "a.jsonl", synthetic_bulletins(120, seed=5))], tmp_path / "ix")
    generation = read_current(tmp_path / "ix")
    with Searcher(tmp_path / "ix") as searcher:
        assert searcher._current().fast.weights is not None
    shutil.rmtree(store.side_dir(generation.path) / "weights")
    with Searcher(tmp_path / "ix") as fast, Searcher(tmp_path / "ix", fast=False) as plain:
        assert fast._current().fast.weights is None
        assert_same_answers(fast, plain, QUERIES[:12])


def test_side_files_of_another_version_are_ignored(tmp_path: Path) -> None:
    build_index(corpus_files(), tmp_path / "ix")
    generation = read_current(tmp_path / "ix")
    for meta in store.side_dir(generation.path).glob(f"*/{store.META}"):
        data = json.loads(meta.read_text(encoding="utf-8"))
        meta.write_text(json.dumps(dict(data, format=-1)), encoding="utf-8")
    with Searcher(tmp_path / "ix") as searcher:
        assert searcher._current().fast is None
        assert searcher.search("cải cách").total == 5


# --- highlights: the regex shortcut finds exactly the reference's spans --------------------

_SYLLABLES = ["ủy", "Uỷ", "UỶ", "ban", "bán", "bạn", "dân", "dan", "hoà", "hòa", "ha", "2", "5"]
_SYLLABLES += ["2.5", "1.000", "x", "nam", "năm", "Đéc", "đéc", "a\u0301", "ǅ", "ﬁ", "Σ"]
_GLUE = [" ", "  ", ", ", ".", ". ", "-", "_", "\n", "(", "“", "/", ":", "", ",5", ".7x"]
_GLUE += ["\u200b", "\xad", "\x07", "\u0301 "]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(_SYLLABLES), st.sampled_from(_GLUE)), max_size=40),
    st.lists(
        st.lists(st.sampled_from(_SYLLABLES[:20]), min_size=1, max_size=3), min_size=1, max_size=3
    ),
    st.booleans(),
)
def test_fast_highlights_equal_the_reference(
    pieces: list[tuple[str, str]], queries: list[list[str]], accented: bool
) -> None:
    from searcher.analysis import canonical_syllable, fold

    text = "".join(syllable + glue for syllable, glue in pieces)
    patterns = [
        Pattern(
            tuple(fold(w) for w in words),
            tuple(canonical_syllable(w) for w in words) if accented else None,
        )
        for words in queries
    ]
    assert find_matches_fast(text, patterns) == find_matches(text, patterns)
    assert highlight_fast(text, patterns) == highlight(text, patterns)
    assert snippet_fast(text, patterns, size=60) == snippet(text, patterns, size=60)


def _window_by_rescanning(text: str, spans: list, size: int) -> tuple[int, int]:
    """best_window as first written: every candidate rescans the next 64 spans in full."""
    from searcher.highlight import WINDOW_SPANS, window_around

    if not spans:
        return 0, min(len(text), size)
    best_key, best_start = None, 0
    candidates = spans[:WINDOW_SPANS]
    for i, (start, _end, _p) in enumerate(candidates):
        inside = [s for s in candidates[i : i + 64] if s[1] <= start + size - size // 5]
        key = (len({s[2] for s in inside}), len(inside), -start)
        if best_key is None or key > best_key:
            best_key, best_start = key, start
    return window_around(text, best_start, size)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3000), st.integers(1, 90), st.integers(0, 4)), max_size=500),
    st.sampled_from([20, 60, 240]),
)
def test_snippet_window_stops_at_the_first_span_past_its_end(
    raw: list[tuple[int, int, int]], size: int
) -> None:
    """Overlapping spans of any lengths and kinds, many of them (the 400-span cap and the
    numpy window included): the window that stops early is the one that rescans."""
    from searcher.fastpath.snippets import best_window as fast_window
    from searcher.highlight import best_window

    spans = sorted({(start, start + length, kind) for start, length, kind in raw})
    text = "x" * 3200
    expected = _window_by_rescanning(text, spans, size)
    assert best_window(text, spans, size) == expected
    assert fast_window(text, spans, size) == expected


def test_stored_fields_cache_stays_bounded_and_answers_the_same(
    synthetic_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages shown again come from the decoded-document cache: the same hits, at most the
    cap's worth of documents kept. (The cache serves generations without page files.)"""
    monkeypatch.setattr(PageFields, "open", classmethod(lambda cls, *args: None))
    with Searcher(synthetic_index, stored_cache_docs=5) as fast:
        first = [fast.search(q).to_dict()["hits"] for q in QUERIES]
        cached = fast._current()._stored
        assert len(cached) == 5
        last_page = fast.search(QUERIES[0]).to_dict()["hits"]
        again = [fast.search(q).to_dict()["hits"] for q in QUERIES]
    assert again == first
    assert last_page == first[0]
