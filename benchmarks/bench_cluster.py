"""Benchmark: a rebuild on a Dask cluster (1 and 2 workers) against a local build (2 jobs).

On the first ``--n`` bulletins of VietNews (``vietnews_60k.jsonl.gz``, read in place from the
shared data folder and written once as JSON Lines under ``--out``), one after the other:

* ``build_index(jobs=2)``: the local worker pool;
* ``build_index(cluster=...)`` on a Dask ``LocalCluster`` of 1, then 2 worker processes with one
  thread each, started before the clock starts (a cluster outlives builds); each worker loads
  pyvi's model in its first task, inside the timing, as the local pool's workers do.

Every build is timed end to end (reading, segmenting, the segments, statistics and weights, the
publish). Then the same queries run on each index, through the fast path and plain Whoosh, and
must give the same ids, scores and order as the local build: the script exits non-zero if not.
Prints a Markdown table::

    python -m benchmarks.bench_cluster --n 10000 --out bench-out/cluster
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))

from benchmarks.common import OUT, _read, machine, require_data, write_jsonl  # noqa: E402

QUERIES = (
    "cong an dieu tra",
    "Hà Nội",
    "bóng đá",
    '"thị trường"',
    "tai nan giao thong",
    "chứng khoán",
    "UBND tỉnh",
    "học sinh",
)


def answers(index_dir: Path) -> list[list[tuple[float, list[str]]]]:
    """Each query's first 50 hits through the fast path, then plain Whoosh, as a ranking.

    A ranking is the hits' scores in order (to 9 significant digits: plain Whoosh sums a
    document's clause scores in an order that depends on the segment, so the last bit may
    differ) with the ids at each score. Ids tied at one score are compared as a set: ties are
    ranked by document number, which a build on several workers deals out differently. A tie
    at the end of a full page is dropped (which of its ids made the page is arbitrary).
    """
    from searcher import Searcher

    found = []
    for fast in (True, False):
        with Searcher(index_dir, fast=fast) as searcher:
            for query in QUERIES:
                hits = searcher.search(query, per_page=50).hits
                ranking: dict[float, list[str]] = {}
                for hit in hits:
                    ranking.setdefault(float(f"{hit.score:.9g}"), []).append(hit.id)
                groups = [(score, sorted(ids)) for score, ids in ranking.items()]
                found.append(groups[:-1] if len(hits) == 50 else groups)
    return found


def segments_of(index_dir: Path) -> int:
    from searcher.storage import read_current

    live = read_current(index_dir).path
    return len([p for p in (live / "fastpath").iterdir() if p.name != "weights"])


def build(source: Path, index_dir: Path, **how: object) -> tuple[float, int]:
    """Seconds and bulletins of one rebuild of ``source`` into a fresh ``index_dir``."""
    from index import build_index

    shutil.rmtree(index_dir, ignore_errors=True)
    started = time.perf_counter()
    report = build_index([source], index_dir, **how)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    print(f"  {index_dir.name}: {report.indexed} bulletins in {seconds:.1f} s", file=sys.stderr)
    return seconds, report.indexed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10000, help="bulletins to index")
    parser.add_argument("--task-size", type=int, default=1000, help="bulletins per Dask task")
    parser.add_argument("--out", type=Path, default=OUT / "cluster", help="work folder")
    args = parser.parse_args(argv)

    from distributed import LocalCluster

    from index.cluster import Cluster

    data = require_data()
    records = list(itertools.islice(_read(data / "vietnews_60k.jsonl.gz"), args.n))
    source = write_jsonl(records, args.out / f"vietnews-{args.n}.jsonl")
    rows = []
    local_dir = args.out / "local-2-jobs"
    seconds, indexed = build(source, local_dir, jobs=2)
    expected = answers(local_dir)
    assert sum(map(len, expected)) > 0, "the queries find nothing: pick others"
    rows.append(("local build, `jobs=2`", seconds, indexed, segments_of(local_dir), True))
    for workers in (1, 2):
        index_dir = args.out / f"cluster-{workers}-workers"
        with LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            local_directory=str(args.out / "dask-scratch"),
        ) as cluster:
            on_cluster = Cluster(cluster.scheduler_address, args.task_size)
            seconds, indexed = build(source, index_dir, cluster=on_cluster)
        same = answers(index_dir) == expected
        name = f"Dask cluster, {workers} worker{'s' if workers > 1 else ''} × 1 thread"
        rows.append((name, seconds, indexed, segments_of(index_dir), same))

    print(f"\n{args.n} VietNews bulletins, tasks of {args.task_size}; {machine()}\n")
    print("| build | seconds | bulletins/s | segments | same results as local |")
    print("|---|---:|---:|---:|---|")
    for name, seconds, indexed, segments, same in rows:
        print(
            f"| {name} | {seconds:.1f} | {indexed / seconds:.0f} | {segments} | "
            f"{'yes' if same else '**no**'} |"
        )
    if not all(row[-1] for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
