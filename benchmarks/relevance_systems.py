"""The systems compared by ``benchmarks/relevance.py``: bantin, its ablations, and two baselines.

Every system indexes the same bulletins (the product's JSONL reader output: same title and body
text) and answers a query string with a ranked list of up to ten document ids.

How each ablation is made, without changing the product:

* **bantin** — the product as shipped: ``index.build_index`` and ``Searcher.search``.
* **− segmentation** — index: ``build_index`` runs with ``searcher.analysis.analyze_for_index``
  wrapped so compound tokens (pyvi's multi-syllable words) are dropped; only syllables and
  protected forms are indexed. Query: ``PlanOptions(compound_boosts=False)``: no compound boosts.
* **− folding** — the bantin index (its folded fields are still on disk but never queried; BM25F
  scores each field with that field's own statistics, so an unqueried field changes nothing).
  Query: ``PlanOptions(folding=False)``: clauses and compound boosts use only the accented
  fields, with the query's words as typed (after lower-casing and tone placement), so an
  unaccented query matches only unaccented words. The acronym table's
  own accent-insensitive lookup is left as it is.
* **− tone normalization** — index and query: ``searcher.analysis.canonical_syllable`` is
  replaced by NFC + lower-casing only (no tone moves), for the build and for every search.
  The segmenter's input (pyvi's tone style) is left as it is.
* **− acronyms** — the bantin index. Query: ``searcher.query.acronyms`` returns an empty table.

What-if variants (possible product changes, reported apart from the comparison):

* **accented queries search accented fields only** — ``PlanOptions(accent_exact=True)``: the
  "− folding" clauses when the query has diacritics and the product's clauses otherwise.
* **up to 200 query words** — ``searcher.query.MAX_UNITS`` is 200 instead of 32.

Baselines:

* **SQLite FTS5** — ``tokenize="unicode61 remove_diacritics 2"``, ranked by ``bm25(docs, 2.5,
  1.0)`` (the same title weight as bantin). Each whitespace-separated token is quoted (``"``
  doubled inside) and tokens are ANDed, as FTS5 does between phrases.
* **Whoosh StandardAnalyzer** — title and body with Whoosh's stock ``StandardAnalyzer()``
  (regex tokens, lower-case, English stop words, two-character minimum), the title boosted
  2.5 like bantin's, BM25F with bantin's parameters, and the stock ``MultifieldParser`` over
  title and body with its default ``AndGroup`` (all words required), as a portal would use it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from whoosh import fields as wf
from whoosh import index as whoosh_index
from whoosh import scoring
from whoosh.analysis import StandardAnalyzer
from whoosh.qparser import MultifieldParser

#: Title weight used by every system (bantin's ``TITLE_BOOST``).
TITLE_WEIGHT = 2.5
K = 10


@dataclass(frozen=True)
class System:
    """One search system: a label for tables and the patches it runs under."""

    key: str
    label: str
    kind: str  # "bantin", "fts5" or "whoosh"
    index_variant: str = "full"  # which bantin index it searches


SYSTEMS: tuple[System, ...] = (
    System("bantin", "bantin", "bantin"),
    System("no_segmentation", "bantin − segmentation", "bantin", "no_segmentation"),
    System("no_folding", "bantin − folding", "bantin"),
    System("no_tone", "bantin − tone normalization", "bantin", "no_tone"),
    System("no_acronyms", "bantin − acronyms", "bantin"),
    System("fts5", "SQLite FTS5 (unicode61, remove_diacritics 2)", "fts5"),
    System("whoosh_standard", "Whoosh StandardAnalyzer", "whoosh"),
)
BASELINES = ("fts5", "whoosh_standard")
#: What-if variants of bantin, to put numbers on possible product changes (not the product).
EXPERIMENTS: tuple[System, ...] = (
    System("accent_exact", "what-if: accented queries search accented fields only", "bantin"),
    System("long_queries", "what-if: up to 200 query words (product: 32)", "bantin"),
)


# --- the ablations ------------------------------------------------------------------------


def _lower_only(syllable: str) -> str:
    """``canonical_syllable`` without the tone move: NFC and lower case only."""
    return unicodedata.normalize("NFC", syllable.lower())


def _without_compounds(original: Callable[[str], tuple[Any, ...]]) -> Callable[..., Any]:
    def analyze_for_index(text: str) -> tuple[Any, ...]:
        return tuple(t for t in original(text) if t.kind != "compound")

    return analyze_for_index


def index_patches(variant: str) -> list[Any]:
    """Patches active while the ``variant`` bantin index is built."""
    import searcher.analysis as analysis

    if variant == "no_segmentation":
        wrapped = _without_compounds(analysis.analyze_for_index)
        return [mock.patch("searcher.analysis.analyze_for_index", wrapped)]
    if variant == "no_tone":
        return [mock.patch("searcher.analysis.canonical_syllable", _lower_only)]
    return []


def query_patches(system: System) -> list[Any]:
    """Patches active while ``system`` (a bantin variant) answers queries."""
    # Snippets and title highlights do not change the ranking; skipping them only saves time.
    no_snippets = [
        mock.patch(f"searcher.execution.{name}", lambda *_args, **_kwargs: "")
        for name in ("snippet", "highlight")
    ] + [
        mock.patch(
            "searcher.execution.page_marks", lambda _p, docnums, *_: [("", "")] * len(docnums)
        )
    ]
    specific = {
        "no_tone": [mock.patch("searcher.analysis.canonical_syllable", _lower_only)],
        "no_acronyms": [mock.patch("searcher.query.acronyms", lambda: {})],
        "long_queries": [mock.patch("searcher.query.MAX_UNITS", 200)],
    }
    return no_snippets + specific.get(system.key, [])


def plan_options(system: System) -> Any:
    """The query plan ``system`` (a bantin variant) searches with."""
    from searcher.plan import PRODUCT_PLAN, PlanOptions

    return {
        "no_segmentation": PlanOptions(compound_boosts=False),
        "no_folding": PlanOptions(folding=False),
        "accent_exact": PlanOptions(accent_exact=True),
    }.get(system.key, PRODUCT_PLAN)


@contextlib.contextmanager
def patched(patches: list[Any]) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield


# --- building -----------------------------------------------------------------------------


def read_corpus(corpus: Path) -> list[tuple[str, str, str]]:
    """(id, title, body) as the product's JSONL reader gives them, in file order."""
    from index.bulletin import Skipped
    from index.readers import read_file

    return [
        (item.id, item.title, item.body)
        for item in read_file(corpus)
        if not isinstance(item, Skipped)
    ]


def build_bantin(corpus: Path, index_dir: Path, variant: str, jobs: int) -> Path:
    """A bantin index of ``corpus`` for ``variant``, built once and reused.

    The searcher's fast path (exact, the product's default) needs side files beside the
    generation; ``write_side_files`` adds any that are missing.
    """
    from index import build_index
    from searcher.fastpath import write_side_files
    from searcher.storage import read_current

    if (index_dir / "CURRENT").exists():
        write_side_files(read_current(index_dir).path)
        check_ablation(index_dir, variant)
        return index_dir
    shutil.rmtree(index_dir, ignore_errors=True)
    started = time.perf_counter()
    print(f"  building bantin index ({variant}) in {index_dir.name} …", file=sys.stderr)
    # Patches act only in this process: with jobs > 1, build_index analyses and writes in
    # worker processes started afresh (forkserver), where they would not reach. So an ablation
    # index is built here, in one process.
    with patched(index_patches(variant)):
        build_index([corpus], index_dir, jobs=jobs if variant == "full" else 1)
    write_side_files(read_current(index_dir).path)
    check_ablation(index_dir, variant)
    print(f"  built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return index_dir


def check_ablation(index_dir: Path, variant: str) -> None:
    """Fail unless the ablation shows in the index: no compound terms without segmentation,
    some syllables in the other tone placement without tone normalization."""
    from searcher.analysis import canonical_syllable
    from searcher.storage import read_current

    if variant == "full":
        return
    ix = whoosh_index.open_dir(str(read_current(index_dir).path), indexname="MAIN")
    with ix.reader() as reader:
        terms = [t.decode("utf-8") for t in reader.lexicon("body")]
    if variant == "no_segmentation":  # compounds are words joined by "_" (URLs may have "_")
        ablated = not any("_" in t and all(p.isalpha() for p in t.split("_")) for t in terms)
    else:
        ablated = any(canonical_syllable(term) != term for term in terms if term.isalpha())
    if not ablated:
        raise RuntimeError(f"{index_dir.name}: the {variant} ablation is not in the index")


def build_fts5(records: list[tuple[str, str, str]], path: Path) -> Path:
    if path.exists():
        return path
    temp = path.with_suffix(".tmp")
    temp.unlink(missing_ok=True)
    connection = sqlite3.connect(temp)
    connection.execute(
        "CREATE VIRTUAL TABLE docs USING fts5("
        "doc_id UNINDEXED, title, body, tokenize = 'unicode61 remove_diacritics 2')"
    )
    connection.executemany("INSERT INTO docs VALUES (?, ?, ?)", records)
    connection.commit()
    connection.close()
    os.replace(temp, path)
    return path


def build_whoosh_standard(records: list[tuple[str, str, str]], index_dir: Path) -> Path:
    if (index_dir / "DONE").exists():
        return index_dir
    shutil.rmtree(index_dir, ignore_errors=True)
    index_dir.mkdir(parents=True)
    started = time.perf_counter()
    print(f"  building Whoosh StandardAnalyzer index in {index_dir.name} …", file=sys.stderr)
    schema = wf.Schema(
        id=wf.ID(stored=True, unique=True),
        title=wf.TEXT(analyzer=StandardAnalyzer(), field_boost=TITLE_WEIGHT),
        body=wf.TEXT(analyzer=StandardAnalyzer()),
    )
    ix = whoosh_index.create_in(str(index_dir), schema)
    writer = ix.writer(limitmb=256)
    for doc_id, title, body in records:
        writer.add_document(id=doc_id, title=title, body=body)
    writer.commit()
    (index_dir / "DONE").write_text("ok\n")
    print(f"  built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return index_dir


# --- searching ----------------------------------------------------------------------------


def fts5_expression(query: str, operator: str = " ") -> str | None:
    """Each whitespace token quoted; tokens with no letter or digit are left out."""
    tokens = [t for t in query.split() if any(c.isalnum() for c in t)]
    if not tokens:
        return None
    return operator.join('"' + t.replace('"', '""') + '"' for t in tokens)


class Runner:
    """Opens one system's index and ranks queries: ``rank(query) -> [doc id, …]``."""

    def __init__(self, system: System, location: Path, any_word: bool = False) -> None:
        self.system = system
        self.any_word = any_word  # baselines only: OR instead of AND (for long questions)
        self._stack = contextlib.ExitStack()
        if system.kind == "bantin":
            from searcher import Searcher

            for patch in query_patches(system):
                self._stack.enter_context(patch)
            self.searcher = self._stack.enter_context(Searcher(location, plan=plan_options(system)))
            if getattr(self.searcher._current(), "fast", None) is None:
                print(
                    f"  warning: {location.name} has no valid fast-path side files; "
                    "searching through plain Whoosh (same ranking, far slower)",
                    file=sys.stderr,
                )
        elif system.kind == "fts5":
            self.connection = sqlite3.connect(location)
            self._stack.callback(self.connection.close)
        else:
            ix = whoosh_index.open_dir(str(location))
            self.whoosh = self._stack.enter_context(
                ix.searcher(weighting=scoring.BM25F(B=0.75, K1=1.2))
            )
            from whoosh.qparser import OrGroup

            group = {"group": OrGroup} if any_word else {}
            self.parser = MultifieldParser(["title", "body"], ix.schema, **group)

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def rank(self, query: str) -> list[str]:
        if self.system.kind == "bantin":
            return [hit.id for hit in self.searcher.search(query, per_page=K).hits]
        if self.system.kind == "fts5":
            expression = fts5_expression(query, " OR " if self.any_word else " ")
            if expression is None:
                return []
            rows = self.connection.execute(
                "SELECT doc_id FROM docs WHERE docs MATCH ? "
                f"ORDER BY bm25(docs, 0.0, {TITLE_WEIGHT}, 1.0) LIMIT {K}",
                (expression,),
            ).fetchall()
            return [row[0] for row in rows]
        parsed = self.parser.parse(query)
        return [hit["id"] for hit in self.whoosh.search(parsed, limit=K)]


@contextlib.contextmanager
def runner(system: System, location: Path, any_word: bool = False) -> Iterator[Runner]:
    opened = Runner(system, location, any_word)
    try:
        yield opened
    finally:
        opened.close()


def rank_all(key: str, location: Path, queries: list[str], any_word: bool) -> list[list[str]]:
    """Rank every query with the system ``key`` (runs in a worker process)."""
    system = next(s for s in (*SYSTEMS, *EXPERIMENTS) if s.key == key)
    with runner(system, location, any_word) as opened:
        return [opened.rank(query) for query in queries]
