"""Benchmark: search latency of bantin's fast path, plain Whoosh and SQLite FTS5, side by side.

On the same real bulletins (VietNews and Báo Mới) and the same realistic queries, in one run
and one warm process, each query runs through

* **fast**: ``Searcher(index)`` — the numpy fast path over the side files;
* **plain**: ``Searcher(index, fast=False)`` — Whoosh's exhaustive BM25F (the reference);
* **fts5**: SQLite FTS5 (``unicode61 remove_diacritics 2``), ``bm25()`` with the title
  weighted like bantin, ``snippet()``/``highlight()``, facet counts by ``GROUP BY``;

with highlights and all facets (``Searcher.search(...).to_dict()``). By default
(``--order blocks``) each system runs all its queries as one block — the fast path right after
its warm-up, then plain Whoosh, then FTS5 after the same warm-up queries — so each is measured
with its own working set in the caches, as a process serving only that system's queries would
be. ``--order interleaved`` has the systems take turns on every query instead: the machine's
noise falls on all three alike, but each system's queries evict the others' data from the CPU
caches between two of its own (about 2.5 ms of a fast-path query's median at 95k, measured).
Reported per system: p50/p95/max
of each stage (match = query execution, facets, hits = ranking + stored text + highlights) and
end to end; overlap@10 of the fast path with the exhaustive ranking; load time and memory.

``--simulate N`` also times the fast path at N bulletins made by replicating the real ones (see
:mod:`benchmarks.bench_simulated`). Prints Markdown tables::

    python -m benchmarks.bench_search --n 20000
    python -m benchmarks.bench_search --n 95431 --plain-sample 80 --simulate 1000000

``--workload page`` runs issue 20's workload instead (:mod:`benchmarks.page_workload`)::

    python -m benchmarks.bench_search --workload page --n 20000 --repeats 3

``--workload scoring`` times that workload's ranking alone (first ask of its proximity pairs,
second ask, warm)::

    python -m benchmarks.bench_search --workload scoring --n 20000
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from a checkout; workers re-import this module
    sys.path.insert(0, str(REPO))

from benchmarks.common import (  # noqa: E402
    OUT,
    cached_index,
    machine,
    percentile,
    real_bulletins,
    require_data,
)

STAGES = ("match", "facets", "hits", "suggest", "total", "cpu")

# --- queries --------------------------------------------------------------------------------

#: Topical queries of the kind people type into a news or bulletin search box.
TOPICAL = [
    "giá xăng dầu",
    "bóng đá việt nam",
    "thời tiết nắng nóng",
    "tai nạn giao thông",
    "an toàn thực phẩm",
    "bảo hiểm xã hội",
    "bảo hiểm y tế",
    "giáo dục đào tạo",
    "thi tốt nghiệp thpt",
    "tuyển sinh đại học",
    "xây dựng nông thôn mới",
    "phòng chống tham nhũng",
    "quốc hội thông qua luật",
    "thủ tướng chính phủ",
    "bộ y tế",
    "dịch cúm gia cầm",
    "giá vàng hôm nay",
    "chứng khoán",
    "bất động sản",
    "ô nhiễm môi trường",
    "biến đổi khí hậu",
    "xuất khẩu gạo",
    "giải phóng mặt bằng",
    "cải cách thủ tục hành chính",
    "hội đồng nhân dân tỉnh",
    "kỳ họp thứ",
    "cán bộ công chức",
    "đầu tư công",
    "khởi tố bị can",
    "công an tỉnh",
    "mưa lũ miền trung",
    "du lịch đà nẵng",
    "giao thông hà nội",
    "thành phố hồ chí minh",
    "học sinh tiểu học",
    "bệnh viện bạch mai",
    "nông dân trồng lúa",
    "doanh nghiệp nhỏ và vừa",
    "thuế thu nhập cá nhân",
    "điện thoại thông minh",
    "trump",
    "triều tiên",
    "biển đông",
    "ngân hàng nhà nước",
    "lãi suất cho vay",
]
#: Very common words: long posting lists in every field.
COMMON = [
    "người dân",
    "ủy ban nhân dân",
    "hanh chinh",
    "viet nam",
    "việt nam",
    "UBND",
    "nguoi dan",
    "uy ban nhan dan",
    "hà nội",
    "thành phố",
    "năm 2017",
    "công tác",
    "tổ chức",
    "phát triển kinh tế",
    "chính quyền địa phương",
    "cai cach hanh chinh",
    "CCHC",
    "HĐND",
    "tỉnh",
    "trong năm",
]
#: Quoted phrases and acronyms.
PHRASES = [
    '"người dân"',
    '"ủy ban nhân dân tỉnh"',
    '"cải cách hành chính"',
    '"thủ tướng chính phủ"',
    '"an toàn giao thông"',
    '"hà nội"',
    "ATGT",
    "BHXH",
    "TP.HCM",
    "MTTQ",
]


def _fold(text: str) -> str:
    from searcher.analysis import fold

    return fold(text)


def make_queries(
    records: list[dict], count: int, seed: int = 42, fixed: bool = True
) -> list[tuple[str, str]]:
    """(kind, query) pairs: title fragments, topical, common, phrases and fallback queries.

    Title fragments are 2–5 consecutive words of real titles, half of them without accents;
    fallback queries join words that no one bulletin holds together (the all-words match
    finds nothing and the partial match runs).
    """
    rng = random.Random(seed)
    words = re.compile(r"[^\W\d_]+")
    titles = [r["title"] for r in records if len(words.findall(r.get("title", ""))) >= 4]
    queries: list[tuple[str, str]] = []
    lists = len(TOPICAL) + len(COMMON) + len(PHRASES) if fixed else 0
    fragments = max(0, count - lists - count // 10)
    for i in range(fragments):
        tokens = words.findall(rng.choice(titles))
        size = rng.randint(2, min(5, len(tokens)))
        start = rng.randrange(len(tokens) - size + 1)
        fragment = " ".join(tokens[start : start + size]).lower()
        queries.append(("title", _fold(fragment) if i % 2 else fragment))
    if fixed:
        for i, query in enumerate(TOPICAL):
            queries.append(("topical", _fold(query) if i % 3 == 2 else query))
        queries += [("common", q) for q in COMMON]
        queries += [("phrase", q) for q in PHRASES]
    for i in range(count // 10):
        a, b = rng.sample(titles, 2)
        left = words.findall(a)[:2]
        right = words.findall(b)[-1:]
        junk = ["zzqxw", "kxvq", "qqwz"][i % 3]
        parts = [*left, junk] if i % 2 else [*left, *right, junk]
        queries.append(("fallback", " ".join(parts).lower()))
    return queries


# --- timing bantin by stage -----------------------------------------------------------------


class StageClock:
    """Times the stages of ``Searcher.search`` by wrapping the methods each stage runs."""

    def __init__(self) -> None:
        self.current: dict[str, float] = {}
        self._undo: list[Callable[[], None]] = []

    @contextmanager
    def installed(self) -> Iterator[StageClock]:
        from searcher.execution import Execution
        from searcher.facets import FacetColumns

        self._wrap(Execution, "run", "match")
        self._wrap(Execution, "suggestion", "suggest")
        self._wrap(FacetColumns, "count", "facets")
        self._wrap(Execution, "page", "hits")
        try:
            yield self
        finally:
            for undo in reversed(self._undo):
                undo()

    def _wrap(self, owner: type, name: str, stage: str) -> None:
        original = owner.__dict__[name]
        current = self.current

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                current[stage] = current.get(stage, 0.0) + time.perf_counter() - started

        setattr(owner, name, timed)
        self._undo.append(lambda: setattr(owner, name, original))

    def measure(self, run: Callable[[], Any]) -> tuple[dict[str, float], Any]:
        self.current.clear()
        cpu = time.process_time()
        started = time.perf_counter()
        result = run()
        total = time.perf_counter() - started
        stages = {stage: self.current.get(stage, 0.0) for stage in STAGES[:4]}
        stages["total"] = total
        stages["cpu"] = time.process_time() - cpu
        return stages, result


# --- SQLite FTS5 ----------------------------------------------------------------------------


class Fts5:
    """The same corpus in SQLite FTS5, queried the way a straightforward app would."""

    def __init__(self, path: Path, rows: list[tuple[str, str, str, str, str, str]]) -> None:
        path.unlink(missing_ok=True)
        started = time.perf_counter()
        self.db = sqlite3.connect(path)
        self.db.execute(
            "CREATE VIRTUAL TABLE doc USING fts5(title, body, id UNINDEXED, province UNINDEXED,"
            " locality UNINDEXED, year UNINDEXED, tokenize='unicode61 remove_diacritics 2')"
        )
        with self.db:
            self.db.executemany("INSERT INTO doc VALUES (?, ?, ?, ?, ?, ?)", rows)
        self.build_seconds = time.perf_counter() - started
        self.bytes = path.stat().st_size

    @staticmethod
    def expression(query: str, loose: bool = False) -> str | None:
        """FTS5 MATCH text: quoted phrases kept, other words ANDed (ORed when loose)."""
        parts = []
        for phrase, word in re.findall(r'"([^"]*)"|([^\s"]+)', query):
            tokens = re.findall(r"[^\W_]+", phrase or word)
            if tokens:
                parts.append('"' + " ".join(tokens) + '"')
        if not parts:
            return None
        return (" OR " if loose else " AND ").join(parts)

    def search(self, query: str) -> tuple[dict[str, float], dict[str, Any]]:
        stages: dict[str, float] = {}
        cpu = time.process_time()
        started = time.perf_counter()
        expression = self.expression(query)
        total = 0
        if expression:
            total = self._count(expression)
            if total == 0 and len(re.findall(r"\S+", query)) > 1:
                expression = self.expression(query, loose=True)
                total = self._count(expression) if expression else 0
        ranked: list[tuple[Any, ...]] = []
        if total:
            ranked = self.db.execute(
                "SELECT rowid FROM doc WHERE doc MATCH ? ORDER BY bm25(doc, 2.5, 1.0) LIMIT 10",
                (expression,),
            ).fetchall()
        stages["match"] = time.perf_counter() - started
        stages["suggest"] = 0.0
        mark = time.perf_counter()
        facets = {}
        if total:
            for name in ("province", "locality", "year"):
                facets[name] = self.db.execute(
                    f"SELECT {name}, count(*) AS n FROM doc WHERE doc MATCH ? AND {name} != ''"
                    f" GROUP BY {name} ORDER BY n DESC LIMIT 50",
                    (expression,),
                ).fetchall()
        stages["facets"] = time.perf_counter() - mark
        mark = time.perf_counter()
        hits = []
        if ranked:
            marks = ", ".join("?" for _ in ranked)
            hits = self.db.execute(
                "SELECT id, highlight(doc, 0, '<mark>', '</mark>'),"
                " snippet(doc, 1, '<mark>', '</mark>', '…', 40) FROM doc"
                f" WHERE doc MATCH ? AND rowid IN ({marks}) ORDER BY bm25(doc, 2.5, 1.0)",
                (expression, *[r[0] for r in ranked]),
            ).fetchall()
        stages["hits"] = time.perf_counter() - mark
        stages["total"] = time.perf_counter() - started
        stages["cpu"] = time.process_time() - cpu
        return stages, {"total": total, "hits": hits, "facets": facets}

    def _count(self, expression: str) -> int:
        try:
            return self.db.execute(
                "SELECT count(*) FROM doc WHERE doc MATCH ?", (expression,)
            ).fetchone()[0]
        except sqlite3.OperationalError:  # a syntax FTS5 rejects: no hits, as a user would see
            return 0


def fts5_rows(index_dir: Path, records: list[dict]) -> list[tuple[str, str, str, str, str, str]]:
    """Rows of the bench corpus with the facet values bantin's indexer gave each bulletin."""
    from searcher import Searcher

    with Searcher(index_dir, fast=False) as searcher:
        opened = searcher._current()
        reader = opened.searcher.reader()
        docnum_of = {}
        for term in reader.lexicon("id"):
            docnum_of[term.decode("utf-8")] = next(iter(reader.postings("id", term).all_ids()))
        columns = {
            name: [opened.facets.values[name][code] or "" for code in opened.facets.codes[name]]
            for name in ("province", "locality", "year")
        }
    rows = []
    for record in records:
        docnum = docnum_of.get(record["id"])
        if docnum is None:
            continue
        rows.append(
            (
                record.get("title", ""),
                record.get("body", ""),
                record["id"],
                columns["province"][docnum],
                columns["locality"][docnum],
                columns["year"][docnum],
            )
        )
    return rows


# --- measurements in fresh processes --------------------------------------------------------

_PROBE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])

def memory():
    fields = {}
    with open("/proc/self/smaps_rollup") as handle:
        for line in handle.read().splitlines()[1:]:
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0]) * 1024
    return {"anon": fields["Anonymous"], "file": fields["Rss"] - fields["Anonymous"]}

before = memory()
from searcher import Searcher
if sys.argv[5] == "whoosh-mmap":  # the "before": Whoosh's own mmap, which copies sub-files
    import searcher.generation as module
    from whoosh import index as whoosh_index
    module.open_whoosh_index = lambda path: whoosh_index.open_dir(str(path))
started = time.perf_counter()
searcher = Searcher(sys.argv[2], fast=sys.argv[3] == "fast")
opened_s = time.perf_counter() - started
fast = searcher._current().fast
after_open = memory()
queries = json.loads(sys.argv[4])
started = time.perf_counter()
for query in queries[:20]:
    searcher.search(query).to_dict()
first_20_s = time.perf_counter() - started
after_20 = memory()
for query in queries[20:]:
    searcher.search(query).to_dict()
after_all = memory()
print(json.dumps({
    "open_s": opened_s,
    "first_20_s": first_20_s,
    "fast": fast is not None,
    "mapped_bytes": fast.nbytes if fast is not None else 0,
    "cache_bytes": fast.cache.bytes if fast is not None else 0,
    "open": {k: after_open[k] - before[k] for k in before},
    "after_20": {k: after_20[k] - before[k] for k in before},
    "after_all": {k: after_all[k] - before[k] for k in before},
}))
"""


def probe(
    index_dir: Path, mode: str, queries: list[str], storage: str = "mapped"
) -> dict[str, Any]:
    """Open time and memory of one Searcher in a fresh process (before and after queries);
    ``storage="whoosh-mmap"`` opens the index the way Whoosh does by default (the "before")."""
    command = [sys.executable, "-c", _PROBE, str(REPO), str(index_dir), mode, json.dumps(queries)]
    out = subprocess.run(
        [*command, storage],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the run --------------------------------------------------------------------------------


def summarize(samples: list[dict[str, float]]) -> dict[str, tuple[float, float, float]]:
    return {
        stage: (
            percentile([s[stage] * 1000 for s in samples], 50),
            percentile([s[stage] * 1000 for s in samples], 95),
            max(s[stage] * 1000 for s in samples),
        )
        for stage in STAGES
    }


def overlap_at_10(fast: list[dict], exhaustive: list[dict]) -> float:
    """Share of the exhaustive top 10 the fast path returns; a document tied with the
    exhaustive 10th score counts as a match (which of the tied ones makes the page is
    arbitrary)."""
    if not exhaustive:
        return 1.0 if not fast else 0.0
    top = {h["id"] for h in exhaustive[:10]}
    last = exhaustive[: len(top)][-1]["score"]
    same = sum(1 for h in fast[:10] if h["id"] in top or abs(h["score"] - last) <= 1e-4)
    return min(same, len(top)) / len(top)


def side_file_bytes(index_dir: Path) -> int:
    from searcher.fastpath.store import side_dir
    from searcher.storage import read_current

    folder = side_dir(read_current(index_dir).path)
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def ensure_side_files(index_dir: Path) -> float:
    """Write side files an index built before the fast path lacks; seconds it took."""
    from searcher.fastpath.store import write_side_files
    from searcher.storage import read_current

    started = time.perf_counter()
    written = write_side_files(read_current(index_dir).path)
    return time.perf_counter() - started if written else 0.0


def run(args: argparse.Namespace) -> dict[str, Any]:
    from searcher import Searcher

    require_data()
    index_dir = Path(args.index) if args.index else cached_index(args.n)
    side_seconds = ensure_side_files(index_dir)
    records = real_bulletins(args.n)
    queries = make_queries(records, args.queries)
    # Warm-up: other title fragments and fallbacks, none of the measured queries.
    warmup = make_queries(records, args.warmup, seed=43, fixed=False) if args.warmup else []
    rng = random.Random(7)
    plain_every = set(rng.sample(range(len(queries)), min(args.plain_sample, len(queries))))
    fts = Fts5(OUT / f"fts5-{args.n}.sqlite", fts5_rows(index_dir, records))
    del records
    gc.collect()
    results: dict[str, Any] = {"queries": len(queries), "index": str(index_dir)}
    clock = StageClock()
    samples: dict[str, list[dict[str, float]]] = {"fast": [], "plain": [], "fts5": []}
    overlaps: list[float] = []
    disagreements: list[str] = []
    kinds: dict[str, list[float]] = {}
    with Searcher(index_dir) as fast, Searcher(index_dir, fast=False) as plain:
        assert fast._current().fast is not None, "side files missing: fast path inactive"
        results["docs"] = fast.doc_count()
        results["order"] = args.order
        # A warm process: it has served other queries of the same kind before (another sample
        # of title fragments), so the commonest words are in its caches.
        for _kind, query in warmup:
            fast.search(query).to_dict()
        for _kind, query in queries[:5]:
            plain.search(query).to_dict()
        answers: dict[int, dict] = {}

        def time_fast(i: int, kind: str, query: str) -> None:
            stages, answers[i] = clock.measure(lambda: fast.search(query).to_dict())
            samples["fast"].append(stages)
            kinds.setdefault(kind, []).append(stages["total"])
            if args.verbose:
                print(f"{i:4d} {kind:8s} {stages['total'] * 1000:8.1f} ms  {query}")

        def time_plain(i: int, query: str) -> None:
            stages, reference = clock.measure(lambda: plain.search(query).to_dict())
            samples["plain"].append(stages)
            answer = answers[i]
            overlaps.append(overlap_at_10(answer["hits"], reference["hits"]))
            if (answer["total"], answer["facets"]) != (reference["total"], reference["facets"]):
                disagreements.append(query)

        with clock.installed():
            if args.order == "interleaved":
                for i, (kind, query) in enumerate(queries):
                    time_fast(i, kind, query)
                    if i in plain_every:
                        time_plain(i, query)
                    samples["fts5"].append(fts.search(query)[0])
            else:  # blocks: each system's queries one after another, its caches its own
                for i, (kind, query) in enumerate(queries):
                    time_fast(i, kind, query)
                for i, (_kind, query) in enumerate(queries):
                    if i in plain_every:
                        time_plain(i, query)
                for _kind, query in warmup:
                    fts.search(query)
                for _kind, query in queries:
                    samples["fts5"].append(fts.search(query)[0])
    results["stages"] = {name: summarize(s) for name, s in samples.items() if s}
    results["plain_queries"] = len(samples["plain"])
    results["overlap_at_10"] = sum(overlaps) / len(overlaps) if overlaps else None
    results["overlap_min"] = min(overlaps) if overlaps else None
    results["disagreements"] = disagreements
    results["kinds"] = {
        kind: (len(ms), percentile(ms, 50), percentile(ms, 95))
        for kind, ms in ((k, [t * 1000 for t in times]) for k, times in kinds.items())
    }
    results["fts5_build_s"] = fts.build_seconds
    results["fts5_bytes"] = fts.bytes
    results["side_bytes"] = side_file_bytes(index_dir)
    results["side_write_s"] = side_seconds
    sample = [q for _, q in queries]
    results["probe_fast"] = probe(index_dir, "fast", sample)
    results["probe_plain"] = probe(index_dir, "plain", sample[:20])
    results["probe_fast_whoosh_mmap"] = probe(index_dir, "fast", sample[:20], "whoosh-mmap")
    results["probe_plain_whoosh_mmap"] = probe(index_dir, "plain", sample[:20], "whoosh-mmap")
    return results


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    names = {"fast": "bantin fast path", "plain": "bantin plain Whoosh", "fts5": "SQLite FTS5"}
    lines = [
        f"{results['docs']:,} bulletins, {results['queries']} queries "
        f"(plain Whoosh on {results['plain_queries']} of them); {machine()}; one warm process; "
        f"order: {results['order']}.",
        "",
        "| system | match p50 / p95 | facets p50 / p95 | hits p50 / p95 | suggest p50 / p95 "
        "| end to end p50 | p95 | max | CPU p50 / p95 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, stages in results["stages"].items():
        cells = [f"{stages[s][0]:.1f} / {stages[s][1]:.1f}" for s in STAGES[:4]]
        total, cpu = stages["total"], stages["cpu"]
        ends = f"{total[0]:.1f} | {total[1]:.1f} | {total[2]:.0f} | {cpu[0]:.1f} / {cpu[1]:.1f}"
        lines.append(f"| {names[key]} | {' | '.join(cells)} | {ends} |")
    fast_p95 = results["stages"]["fast"]["total"][1]
    fts_p95 = results["stages"]["fts5"]["total"][1]
    lines += [
        "",
        f"Milliseconds. FTS5 p95 / fast p95 = {fts_p95 / fast_p95:.1f}×. "
        f"Overlap@10 of the fast path with Whoosh's exhaustive ranking: "
        f"{results['overlap_at_10']:.4f} (min {results['overlap_min']:.2f}); totals or facets "
        f"differing from plain Whoosh: {len(results['disagreements'])}.",
        "",
        "| query kind | queries | fast p50 | fast p95 |",
        "|---|---|---|---|",
    ]
    for kind, (count, p50, p95) in results["kinds"].items():
        lines.append(f"| {kind} | {count} | {p50:.1f} | {p95:.1f} |")
    pf, pp = results["probe_fast"], results["probe_plain"]
    mb = 1 << 20
    added = {k: pf["after_20"][k] - pp["after_20"][k] for k in ("anon", "file")}
    lines += [
        "",
        f"Open (fresh process, import excluded): fast {pf['open_s']:.2f} s, plain "
        f"{pp['open_s']:.2f} s. Side files {results['side_bytes'] / mb:.0f} MB on disk, "
        f"memory-mapped ({pf['mapped_bytes'] / mb:.0f} MB of arrays incl. per-document norms)"
        + (f", written in {results['side_write_s']:.0f} s" if results["side_write_s"] else "")
        + ". Memory the fast path adds (fresh processes, same 20 queries, fast minus plain): "
        f"{added['anon'] / mb:+.0f} MB anonymous, {added['file'] / mb:+.0f} MB of mapped files "
        f"resident; after all {results['queries']} queries the fast process holds "
        f"{pf['after_all']['anon'] / mb:.0f} MB anonymous + {pf['after_all']['file'] / mb:.0f} "
        f"MB mapped (cache {pf['cache_bytes'] / mb:.0f} MB), the plain one after 20 "
        f"{pp['after_20']['anon'] / mb:.0f} MB + {pp['after_20']['file'] / mb:.0f} MB. "
        f"FTS5 database {results['fts5_bytes'] / mb:.0f} MB, built in "
        f"{results['fts5_build_s']:.0f} s.",
        "",
        "Opening the Whoosh index: Whoosh's own mmap storage (copies every sub-file of a "
        "segment into memory) vs bantin's mapped views (fresh processes, same 20 queries):",
        "",
        "| path | storage | open s | anon MB after open | mapped MB after open "
        "| anon MB after 20 | mapped MB after 20 | 20 queries s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path in ("fast", "plain"):
        for storage, key in (("Whoosh mmap", "_whoosh_mmap"), ("mapped views", "")):
            p = results[f"probe_{path}{key}"]
            lines.append(
                f"| {path} | {storage} | {p['open_s']:.2f} | {p['open']['anon'] / mb:.0f} | "
                f"{p['open']['file'] / mb:.0f} | {p['after_20']['anon'] / mb:.0f} | "
                f"{p['after_20']['file'] / mb:.0f} | {p['first_20_s']:.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="real bulletins to index")
    parser.add_argument("--index", help="use this index folder instead of the cached build")
    parser.add_argument("--queries", type=int, default=240, help="number of queries")
    parser.add_argument(
        "--plain-sample", type=int, default=10_000, help="queries also run on plain Whoosh"
    )
    parser.add_argument("--simulate", type=int, default=0, help="also time N replicated bulletins")
    parser.add_argument(
        "--warmup", type=int, default=240, help="queries (another sample) run first, untimed"
    )
    parser.add_argument(
        "--order",
        choices=("blocks", "interleaved"),
        default="blocks",
        help="blocks: each system's queries as its own warm block (fast, plain, FTS5), as a "
        "process serving only bantin's queries sees them; interleaved: the systems take turns "
        "on every query (their work evicts each other's caches)",
    )
    parser.add_argument("--verbose", action="store_true", help="print every query's time")
    parser.add_argument(
        "--workload",
        choices=("mixed", "page", "scoring"),
        default="mixed",
        help="mixed: the query kinds above against fast path, plain Whoosh and FTS5 with "
        "facets; page: issue 20's title fragments + topical queries, bantin's page against "
        "FTS5's page without facets, interleaved, by stage (see benchmarks.page_workload); "
        "scoring: the page workload's ranking alone, first ask, second ask and warm",
    )
    parser.add_argument("--repeats", type=int, default=3, help="page workload: timed rounds")
    args = parser.parse_args()
    if args.workload in ("page", "scoring"):
        from benchmarks.page_workload import run_page, run_scoring

        require_data()
        args.index_dir = Path(args.index) if args.index else cached_index(args.n)
        print((run_page if args.workload == "page" else run_scoring)(args))
        return
    results = run(args)
    text = report(results, args)
    if args.simulate:
        from benchmarks.bench_simulated import simulate

        text += "\n\n" + simulate(Path(results["index"]), args.simulate, args.n, args.queries)
    (OUT / f"bench_search-{args.n}.json").write_text(json.dumps(results, indent=1), "utf-8")
    print(text)


if __name__ == "__main__":
    main()
