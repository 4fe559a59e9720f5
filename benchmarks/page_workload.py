"""The page workload of ``bench_search --workload page``: what people type most, one page each.

Issue 20's workload: 300 fragments of real VietNews titles (3–6 consecutive words, every other
one without accents) plus ten common topical queries, one warm process. Each query runs through

* **bantin**: ``Searcher.search(query).to_dict()`` — total, top ten with highlighted title and
  snippet, all three facets and the suggestion (the product's whole page);
* **FTS5**: SQLite FTS5 doing the page without facets — the total, the top ten by ``bm25()``
  with ``highlight()`` of the title and ``snippet()`` of the body.

The two take turns on every query, and the whole list is run ``--repeats`` times (a warm-up
round first, untimed), so the machine's load falls on both alike; reported are the medians over
the rounds of each round's p50 and p95, and of the ratio FTS5 / bantin within a round. bantin's
time is split into stages by wrapping the functions each stage runs (``StageClock``): matching,
scoring (ranking the page), reading the stored fields, snippets and highlights, facets,
suggestion, ``to_dict``, and "other": the rest of the search (query analysis, filters, the
generation check, building the results), so the stages add up to the end to end time.
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import OUT, machine, percentile, real_bulletins

#: Ten topical queries of the kind people type most into a news search box.
TOPICAL_TEN = [
    "giá xăng dầu",
    "tai nạn giao thông",
    "an toàn thực phẩm",
    "bảo hiểm xã hội",
    "thi tốt nghiệp thpt",
    "xây dựng nông thôn mới",
    "thủ tướng chính phủ",
    "giá vàng hôm nay",
    "ô nhiễm môi trường",
    "cải cách thủ tục hành chính",
]
#: Stages of bantin's time, in the order of a search.
STAGES = ("match", "score", "stored", "marks", "facets", "suggest", "to_dict", "other", "total")


def page_queries(records: list[dict], count: int = 300, seed: int = 20) -> list[str]:
    """``count`` fragments of VietNews titles (3–6 words, every other one folded), then the ten
    topical queries."""
    from searcher.analysis import fold

    rng = random.Random(seed)
    words = re.compile(r"[^\W\d_]+")
    titles = [
        tokens
        for record in records
        if record["id"].startswith("vietnews")
        and len(tokens := words.findall(record.get("title", ""))) >= 3
    ]
    queries = []
    for i in range(count):
        tokens = rng.choice(titles)
        size = rng.randint(3, min(6, len(tokens)))
        start = rng.randrange(len(tokens) - size + 1)
        fragment = " ".join(tokens[start : start + size]).lower()
        queries.append(fold(fragment) if i % 2 else fragment)
    return queries + TOPICAL_TEN


class PageClock:
    """Times the stages of ``Searcher.search`` by wrapping the functions each stage runs.

    "score" is the page's ranking: ``Execution.page`` less the stored fields and the marks it
    reads and builds inside.
    """

    #: (module, owner or None for a module function, attribute, stage)
    WRAPPED = (
        ("searcher.execution", "Execution", "run", "match"),
        ("searcher.execution", "Execution", "page", "page"),
        ("searcher.execution", "Execution", "suggestion", "suggest"),
        ("searcher.facets", "FacetColumns", "count", "facets"),
        ("searcher.generation", "OpenGeneration", "stored", "stored"),
        ("searcher.results", "Results", "to_dict", "to_dict"),
        # Marks: whichever of these the code under test has.
        ("searcher.execution", None, "highlight_fast", "marks"),
        ("searcher.execution", None, "snippet_fast", "marks"),
        ("searcher.execution", None, "highlight", "marks"),
        ("searcher.execution", None, "snippet", "marks"),
        ("searcher.execution", "Execution", "_page_marks", "marks"),
    )

    def __init__(self) -> None:
        self.current: dict[str, float] = {}
        self._depth: dict[str, int] = {}

    @contextmanager
    def installed(self) -> Iterator[PageClock]:
        import importlib

        undo: list[Callable[[], None]] = []
        for module_name, owner_name, name, stage in self.WRAPPED:
            module = importlib.import_module(module_name)
            owner: Any = getattr(module, owner_name) if owner_name else module
            original = (owner.__dict__ if owner_name else vars(owner)).get(name)
            if original is None:
                continue
            setattr(owner, name, self._timed(original, stage))
            undo.append(
                lambda owner=owner, name=name, original=original: setattr(owner, name, original)
            )
        try:
            yield self
        finally:
            for step in reversed(undo):
                step()

    def _timed(self, original: Callable[..., Any], stage: str) -> Callable[..., Any]:
        current, depth = self.current, self._depth  # a stage inside itself counts once

        def timed(*args: Any, **kwargs: Any) -> Any:
            if depth.get(stage):
                return original(*args, **kwargs)
            depth[stage] = 1
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                depth[stage] = 0
                current[stage] = current.get(stage, 0.0) + time.perf_counter() - started

        return timed

    def measure(self, run: Callable[[], Any]) -> tuple[dict[str, float], Any]:
        self.current.clear()
        started = time.perf_counter()
        result = run()
        total = time.perf_counter() - started
        got = self.current
        stages = {s: got.get(s, 0.0) for s in STAGES if s not in ("score", "other", "total")}
        stages["score"] = max(0.0, got.get("page", 0.0) - stages["stored"] - stages["marks"])
        stages["other"] = max(0.0, total - sum(stages.values()))
        stages["total"] = total
        return stages, result


def fts5_page(fts: Any, query: str) -> float:
    """Seconds for FTS5 to do the page without facets: the total, the top ten by bm25 with
    the title highlighted and a snippet of the body (all words ANDed, ORed when none match)."""
    started = time.perf_counter()
    expression = fts.expression(query)
    total = 0
    if expression:
        total = fts._count(expression)
        if total == 0 and len(query.split()) > 1:
            expression = fts.expression(query, loose=True)
            total = fts._count(expression) if expression else 0
    if total:
        fts.db.execute(
            "SELECT id, highlight(doc, 0, '<mark>', '</mark>'),"
            " snippet(doc, 1, '<mark>', '</mark>', '…', 40) FROM doc"
            " WHERE doc MATCH ? ORDER BY bm25(doc, 2.5, 1.0) LIMIT 10",
            (expression,),
        ).fetchall()
    return time.perf_counter() - started


def run_page(args: argparse.Namespace) -> str:
    """Run the workload and return its Markdown report."""
    from benchmarks.bench_search import Fts5, ensure_side_files, fts5_rows
    from searcher import Searcher

    index_dir = args.index_dir
    ensure_side_files(index_dir)  # an index from before the newest side files gains them
    records = real_bulletins(args.n)
    queries = page_queries(records)
    # FTS5's database is private to the run: runs of other checkouts share the output folder.
    scratch = Path(tempfile.mkdtemp(prefix="fts5-", dir=OUT))
    fts = Fts5(scratch / f"fts5-{args.n}.sqlite", fts5_rows(index_dir, records))
    del records
    gc.collect()
    clock = PageClock()
    rounds: list[tuple[list[dict[str, float]], list[float]]] = []
    with Searcher(index_dir) as searcher, clock.installed(), _removed(scratch):
        assert searcher._current().fast is not None, "side files missing: fast path inactive"
        docs = searcher.doc_count()
        for repeat in range(args.repeats + 1):
            ours: list[dict[str, float]] = []
            theirs: list[float] = []
            for query in queries:
                stages, _ = clock.measure(lambda q=query: searcher.search(q).to_dict())
                ours.append(stages)
                theirs.append(fts5_page(fts, query))
            if repeat:  # round 0 warms both up
                rounds.append((ours, theirs))
        fts.db.close()
    return report_page(docs, len(queries), rounds)


@contextmanager
def _removed(folder: Path) -> Iterator[None]:
    """Remove ``folder`` (this run's own) once the block ends."""
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _median(values: list[float]) -> float:
    return statistics.median(values)


def report_page(
    docs: int, count: int, rounds: list[tuple[list[dict[str, float]], list[float]]]
) -> str:
    """Medians over rounds of each stage's p50/p95 (ms), of end-to-end p50/p95, and ratios."""

    def stage_ms(samples: list[dict[str, float]], stage: str, q: float) -> float:
        return percentile([s[stage] * 1000 for s in samples], q)

    lines = [
        f"{docs:,} bulletins, {count} queries (fragments of VietNews titles + topical), "
        f"{len(rounds)} interleaved rounds after a warm-up round; {machine()}.",
        "",
        "| stage (bantin) | p50 ms | p95 ms | mean ms |",
        "|---|---:|---:|---:|",
    ]
    for stage in STAGES:
        p50 = _median([stage_ms(ours, stage, 50) for ours, _ in rounds])
        p95 = _median([stage_ms(ours, stage, 95) for ours, _ in rounds])
        mean = _median([statistics.fmean(s[stage] * 1000 for s in ours) for ours, _ in rounds])
        lines.append(f"| {stage} | {p50:.2f} | {p95:.2f} | {mean:.2f} |")
    ours50 = [stage_ms(ours, "total", 50) for ours, _ in rounds]
    ours95 = [stage_ms(ours, "total", 95) for ours, _ in rounds]
    fts50 = [percentile([t * 1000 for t in theirs], 50) for _, theirs in rounds]
    fts95 = [percentile([t * 1000 for t in theirs], 95) for _, theirs in rounds]
    ratio50 = [f / o for f, o in zip(fts50, ours50, strict=True)]
    ratio95 = [f / o for f, o in zip(fts95, ours95, strict=True)]
    lines += [
        "",
        "| system | p50 ms | p95 ms |",
        "|---|---:|---:|",
        f"| bantin `Searcher.search(...).to_dict()` | {_median(ours50):.2f} "
        f"| {_median(ours95):.2f} |",
        f"| SQLite FTS5, the page without facets | {_median(fts50):.2f} | {_median(fts95):.2f} |",
        "",
        f"FTS5 / bantin in the same round (median over rounds): p50 {_median(ratio50):.1f}×, "
        f"p95 {_median(ratio95):.1f}× (rounds: " + ", ".join(f"{r:.1f}" for r in ratio95) + ").",
    ]
    return "\n".join(lines)


def run_scoring(args: argparse.Namespace) -> str:
    """Time the page's ranking alone (``FastIndex.top``: pruning and exact scores) on the
    workload's queries, three passes in a fresh process: the first time each proximity pair
    is asked for in the generation, the second, and warm. Returns a Markdown table."""
    from searcher import Searcher
    from searcher.execution import Execution
    from searcher.query import parse_query

    records = real_bulletins(args.n)
    queries = page_queries(records)
    del records
    gc.collect()
    passes: dict[str, list[float]] = {"first ask": [], "second ask": [], "warm": []}
    with Searcher(args.index_dir) as searcher:
        opened = searcher._current()
        fast = opened.fast
        assert fast is not None, "side files missing: fast path inactive"
        runs = []
        for query in queries:  # matching (and its caches) first, untimed
            execution = Execution(opened, parse_query(query), None)
            execution.run()
            if execution.fast_matched and execution.matched.size:
                runs.append((execution.query, execution.matched))
        for times in passes.values():
            for query, matched in runs:
                started = time.perf_counter()
                fast.top(query, matched, 0, 10)
                times.append(time.perf_counter() - started)
        docs = searcher.doc_count()
    lines = [
        f"{docs:,} bulletins, {len(runs)} ranked queries, `FastIndex.top` (page 1 of 10); "
        f"{machine()}.",
        "",
        "| pass | p50 ms | p95 ms | mean ms |",
        "|---|---:|---:|---:|",
    ]
    for name, times in passes.items():
        ms = [t * 1000 for t in times]
        lines.append(
            f"| {name} | {percentile(ms, 50):.2f} | {percentile(ms, 95):.2f} "
            f"| {statistics.fmean(ms):.2f} |"
        )
    return "\n".join(lines)
