"""The fast path at a simulated million bulletins: the real index replicated, searched whole.

A Whoosh index of a million bulletins would take many hours of pyvi segmentation on this
machine, so the scale is simulated where the fast path works: the side files of the real
index's segment are mapped ``copies`` times as consecutive segments (document ``d`` of copy
``k`` is ``k * n + d``, a new id), and ``Searcher.search`` runs unchanged on top — query
parsing, Whoosh query trees, BM25F, facets over the replicated facet columns, stored text and
highlights (read from the real document a copy stands for).

What replication does to the statistics: ``doc_count_all`` and every document frequency grow by
the same factor, so idf stays within ``log(1 + 1/df)`` of the real one and average lengths are
unchanged; every posting list is ``copies`` times longer, which is what costs time. The
vocabulary does not grow (a real million would add rare terms, which are cheap), phrases and
co-occurrences repeat per copy, and each real bulletin's copies tie on score. Sentence order is
not shuffled (positions are shared with the original), so the copies are exact duplicates.
The arrays of all copies share the real side files' pages, so resident memory understates a
real million-document index: its side files would be ``copies`` times larger on disk.

    python -m benchmarks.bench_simulated --index bench-out/fp-index-95431 --n 95431
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))

from benchmarks.common import cached_index, machine, memory, real_bulletins  # noqa: E402


class _StoredProxy:
    """A Whoosh searcher whose stored documents repeat every ``size`` document numbers."""

    def __init__(self, searcher: Any, size: int) -> None:
        self._searcher = searcher
        self._size = size

    def stored_fields(self, docnum: int) -> dict[str, Any]:
        copy, real = divmod(docnum, self._size)
        stored = dict(self._searcher.stored_fields(real))
        stored["id"] = f"{stored['id']}#{copy}"
        return stored

    def __getattr__(self, name: str) -> Any:
        return getattr(self._searcher, name)


def replicated_weights(fast: Any, copies: int, avg: dict[str, float]) -> dict[str, np.ndarray]:
    """The precomputed float32 weight parts the indexer would store for ``copies`` copies of
    a one-segment index (the searcher multiplies them by each term's idf): lengths alike, so
    only the average lengths matter."""
    from searcher.fastpath import weights as weights_module

    segment = fast.segments[0]
    stats = weights_module.Statistics(
        (segment.segment_id,), fast.size * copies, avg, fast.boosts, fast.B, fast.K1
    )
    return weights_module.compute(segment, stats)


def simulated_searcher(index_dir: Path, target: int) -> tuple[Any, int]:
    """A Searcher over ``ceil(target / n)`` copies of the index at ``index_dir``."""
    from searcher import Searcher
    from searcher.facets import FacetColumns
    from searcher.fastpath.engine import FastIndex
    from searcher.generation import OpenGeneration

    real = Searcher(index_dir)
    opened = real._current()
    fast = opened.fast
    assert fast is not None and len(fast.segments) == 1, "needs a one-segment index with side files"
    size = fast.size
    copies = math.ceil(target / size)
    reader = opened.searcher
    avg = {name: reader.avg_field_length(name) or 1 for name in fast.norms}
    weights = replicated_weights(fast, copies, avg)
    simulated = FastIndex(
        fast.segments * copies,
        [k * size for k in range(copies)],
        size * copies,
        None,
        avg,
        fast.boosts,
        fast.B,
        fast.K1,
        [weights] * copies,
    )
    replica = OpenGeneration(
        opened.generation,
        opened.index,
        _StoredProxy(opened.searcher, size),  # type: ignore[arg-type]
        facets=FacetColumns(
            {k: np.tile(v, copies) for k, v in opened.facets.codes.items()},
            opened.facets.values,
        ),
        fast=simulated,
    )

    class Simulated(Searcher):
        def __init__(self) -> None:
            self.index_dir = real.index_dir
            self._lock = real._lock
            self._plan = real._plan
            self._live = real._live

        def _current(self) -> OpenGeneration:
            return replica

    return Simulated(), size * copies


def simulate(index_dir: Path, target: int, n: int, count: int) -> str:
    """Time the fast path over the benchmark queries at ``target`` simulated bulletins."""
    import resource

    from benchmarks.bench_search import StageClock, make_queries, summarize

    records = real_bulletins(n)
    queries = make_queries(records, count)
    warmup = make_queries(records, count, seed=43, fixed=False)
    del records
    gc.collect()
    before = memory()
    started = time.perf_counter()
    searcher, size = simulated_searcher(index_dir, target)
    opened_s = time.perf_counter() - started
    after_open = memory()
    for _kind, query in warmup:  # a warm process: other queries of the same kind
        searcher.search(query).to_dict()
    clock = StageClock()
    samples: list[dict[str, float]] = []
    with clock.installed():
        for _kind, query in queries:
            stages, _ = clock.measure(lambda q=query: searcher.search(q).to_dict())
            samples.append(stages)
    after_all = memory()
    stats = summarize(samples)
    fast = searcher._current().fast
    per_doc = sum(a.nbytes for a in fast.norms.values())
    codes = sum(a.nbytes for a in searcher._current().facets.codes.values())
    side = sum(s.nbytes for s in fast.segments[:1])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cells = " | ".join(
        f"{stats[k][0]:.1f} / {stats[k][1]:.1f}" for k in ("match", "facets", "hits", "suggest")
    )
    total, cpu = stats["total"], stats["cpu"]
    return "\n".join(
        [
            f"Simulated {size:,} bulletins ({size // fast.segments[0].doc_count} copies of the "
            f"real index); {len(queries)} queries; {machine()}.",
            "",
            "| system | match p50 / p95 | facets p50 / p95 | hits p50 / p95 | suggest p50 / p95 "
            "| end to end p50 | p95 | max | CPU p50 / p95 |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| bantin fast path | {cells} | {total[0]:.1f} | {total[1]:.1f} | {total[2]:.0f} "
            f"| {cpu[0]:.1f} / {cpu[1]:.1f} |",
            "",
            f"Opened in {opened_s:.1f} s. Per-document arrays at this size: norms "
            f"{per_doc / 2**20:.0f} MB, facet codes {codes / 2**20:.0f} MB; a real index of this "
            f"size would map {side * size / fast.segments[0].doc_count / 2**30:.1f} GB of side "
            f"files (here the copies share {side / 2**20:.0f} MB). Memory of the simulated "
            f"searcher (this process after minus before opening it): after opening "
            f"{(after_open['anon'] - before['anon']) / 2**20:,.0f} MB anonymous + "
            f"{(after_open['file'] - before['file']) / 2**20:,.0f} MB of mapped files resident; "
            f"after the warm-up and all queries {(after_all['anon'] - before['anon']) / 2**20:,.0f}"
            f" MB anonymous (cache {fast.cache.bytes / 2**20:.0f} MB of "
            f"{fast.cache.capacity / 2**20:.0f}) + "
            f"{(after_all['file'] - before['file']) / 2**20:,.0f} MB mapped. Peak RSS of the "
            f"benchmark process {peak:,.0f} MB (it held the real bulletins to make the queries).",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=95_431, help="real bulletins queried")
    parser.add_argument("--index", help="the real index (default: the cached build of --n)")
    parser.add_argument("--target", type=int, default=1_000_000, help="bulletins to simulate")
    parser.add_argument("--queries", type=int, default=240, help="number of queries")
    args = parser.parse_args()
    index_dir = Path(args.index) if args.index else cached_index(args.n)
    print(simulate(index_dir, args.target, args.n, args.queries))


if __name__ == "__main__":
    main()
