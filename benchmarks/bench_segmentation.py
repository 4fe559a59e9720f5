"""Benchmark: searcher.segmentation.Segmenter against pyvi on real news bulletins.

Checks that ``Segmenter.tokenize_many`` returns exactly ``pyvi.ViTokenizer.tokenize`` on every
document, then measures characters per second of both, on one core and on all cores, and
prints a Markdown table. The data (title + "\\n" + body of the first documents of the JSON
Lines news corpora) is read in place from the shared data folder; nothing is copied.

    python benchmarks/bench_segmentation.py --n 2000
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from a checkout; workers re-import this module
    sys.path.insert(0, str(REPO))
DEFAULT_DATA = REPO.parent / "shared" / "data"
CORPORA = ("vietnews_60k.jsonl.gz", "baomoi_2017_35k.jsonl.gz")
BATCH = 256  # documents per Segmenter call, as the indexer batches them


def load_documents(folder: Path, n: int) -> list[str]:
    """The first ``n`` documents, split evenly over the corpora found in ``folder``."""
    files = [folder / name for name in CORPORA if (folder / name).is_file()]
    docs: list[str] = []
    for k, path in enumerate(files):
        want = (n - len(docs)) // (len(files) - k)
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in itertools.islice(lines, want):
                record = json.loads(line)
                docs.append(f"{record.get('title', '')}\n{record.get('body', '')}")
    return docs


def batches(docs: Sequence[str], size: int = BATCH) -> list[list[str]]:
    return [list(docs[i : i + size]) for i in range(0, len(docs), size)]


# --- workers (module level so that multiprocessing can pickle them) ---------------------------

_pyvi_tokenize: Callable[[str], str] | None = None
_segmenter = None


def _init_pyvi() -> None:
    global _pyvi_tokenize
    from pyvi import ViTokenizer

    _pyvi_tokenize = ViTokenizer.tokenize
    _pyvi_tokenize("khởi động")


def _init_segmenter(warm: list[str]) -> None:
    global _segmenter
    from searcher.segmentation import Segmenter

    _segmenter = Segmenter()
    _segmenter.tokenize_many(warm)


def _pyvi_batch(docs: list[str]) -> int:
    assert _pyvi_tokenize is not None
    return sum(len(_pyvi_tokenize(d)) for d in docs)


def _segmenter_batch(docs: list[str]) -> int:
    assert _segmenter is not None
    return sum(len(t) for t in _segmenter.tokenize_many(docs))


def _ready(_: int) -> None:
    time.sleep(0.2)  # keeps every worker busy once, so all have finished their initializer


# --- measurements ------------------------------------------------------------------------------


def clocked(run: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one run."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def interleaved(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[tuple]]:
    """Time every run ``repeats`` times, taking turns, so that a change in the machine's load
    during the benchmark weighs on all of them alike."""
    times: dict[str, list[tuple]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            times[name].append(clocked(run))
    return times


def open_pool(init: Callable[..., None], initargs: tuple[object, ...], processes: int) -> Any:
    pool = multiprocessing.get_context("spawn").Pool(processes, init, initargs)
    pool.map(_ready, range(processes), chunksize=1)
    return pool


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="number of documents (default 2000)")
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="folder of the news corpora (.jsonl.gz)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement")
    parser.add_argument(
        "--processes", type=int, default=os.cpu_count() or 1, help="processes for 'all cores'"
    )
    args = parser.parse_args(argv)

    if not args.data.is_dir() or not any((args.data / c).is_file() for c in CORPORA):
        print(f"skipped: no corpora ({', '.join(CORPORA)}) in {args.data}")
        return 0
    from searcher.segmentation import Segmenter

    docs = load_documents(args.data, args.n)
    chars = sum(map(len, docs))
    chunks = batches(docs)
    print(f"{len(docs)} documents, {chars:,} characters, {args.repeats} repeats", file=sys.stderr)

    _init_pyvi()
    assert _pyvi_tokenize is not None
    pyvi = _pyvi_tokenize
    seg = Segmenter()
    cold, _ = clocked(lambda: [seg.tokenize_many(c) for c in chunks])

    # 1. Identical output, document by document (and one call per document for a sample).
    expected = [pyvi(d) for d in docs]
    got = [t for c in chunks for t in seg.tokenize_many(c)]
    differences = sum(e != g for e, g in zip(expected, got, strict=True))
    differences += sum(seg.tokenize(d) != e for d, e in zip(docs[:200], expected, strict=False))

    # 2. Speed on one core, then on all cores (one process per core, batches handed out one
    # at a time); pyvi and the Segmenter take turns.
    one = interleaved(
        {
            "pyvi": lambda: [pyvi(d) for d in docs],
            "tokenize": lambda: [seg.tokenize_many(c) for c in chunks],
            "segment": lambda: [seg.segment_many(c) for c in chunks],
        },
        args.repeats,
    )
    procs = args.processes
    pyvi_pool = open_pool(_init_pyvi, (), procs)
    seg_pool = open_pool(_init_segmenter, (docs[:BATCH],), procs)
    try:
        many = interleaved(
            {
                "pyvi": lambda: pyvi_pool.map(_pyvi_batch, chunks, chunksize=1),
                "tokenize": lambda: seg_pool.map(_segmenter_batch, chunks, chunksize=1),
            },
            args.repeats,
        )
    finally:
        pyvi_pool.terminate()
        seg_pool.terminate()

    def rate(times: list[tuple], clock: int) -> float:
        return chars / statistics.median(t[clock] for t in times)

    wall, cpu = 0, 1
    rows = [
        ("1 core, tokenize (CPU time)", rate(one["pyvi"], cpu), rate(one["tokenize"], cpu)),
        ("1 core, tokenize (wall clock)", rate(one["pyvi"], wall), rate(one["tokenize"], wall)),
        (
            f"{procs} cores, tokenize (wall clock)",
            rate(many["pyvi"], wall),
            rate(many["tokenize"], wall),
        ),
        (
            "1 core, segment with spans (CPU time)",
            rate(one["pyvi"], cpu),
            rate(one["segment"], cpu),
        ),
    ]
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}")
    print(
        f"Documents: {len(docs)} ({chars:,} characters); outputs different from pyvi: "
        f"**{differences}**; median of {args.repeats} runs; Segmenter batches of {BATCH}"
    )
    print(f"Segmenter first pass (empty syllable cache), 1 core: {chars / cold:,.0f} chars/s")
    print()
    print("| run | pyvi chars/s | Segmenter chars/s | speed-up |")
    print("|---|---:|---:|---:|")
    for name, base, ours in rows:
        print(f"| {name} | {base:,.0f} | {ours:,.0f} | {ours / base:.1f}× |")
    return 1 if differences else 0


if __name__ == "__main__":
    raise SystemExit(main())
