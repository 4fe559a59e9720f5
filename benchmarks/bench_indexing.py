"""Benchmark: indexing throughput of ``build_index`` against pyvi alone and SQLite FTS5.

On the same real bulletins (VietNews and Báo Mới, read in place from the shared data folder and
written once as JSON Lines under ``--out``), in one run:

* (a) pyvi alone on one core: ``pyvi.ViTokenizer.tokenize`` of every title and body;
* (b) SQLite FTS5 (``unicode61 remove_diacritics 2``) indexing the same title and body;
* (c) ``build_index`` with ``jobs=1``;
* (d) ``build_index`` with every core.

Each case runs in a fresh process, so model loading counts and the peak memory (RSS summed over
the process and all its descendants, sampled every 20 ms) is its own. With ``--repeat`` the
cases are interleaved round by round and the table shows medians. Prints a Markdown table::

    python -m benchmarks.bench_indexing --n 20000 --out bench-out/indexing
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from a checkout; workers re-import this module
    sys.path.insert(0, str(REPO))

from benchmarks.common import OUT, machine, real_bulletins, require_data, write_jsonl  # noqa: E402

CASES = {
    "pyvi": "(a) pyvi alone, 1 core",
    "fts5": "(b) SQLite FTS5",
    "build1": "(c) build_index, jobs=1",
    "buildall": f"(d) build_index, jobs={os.cpu_count() or 1}",
}
SAMPLE_SECONDS = 0.02


# --- the cases, each run in its own process ------------------------------------------------


def _records(source: Path):  # type: ignore[no-untyped-def]
    with open(source, encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def _run_pyvi(source: Path, work: Path) -> dict:
    from pyvi import ViTokenizer

    docs = 0
    for record in _records(source):
        ViTokenizer.tokenize(record.get("title") or "")
        ViTokenizer.tokenize(record.get("body") or "")
        docs += 1
    return {"docs": docs, "index_bytes": None}


def _run_fts5(source: Path, work: Path) -> dict:
    path = work / "fts5.sqlite"
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.execute(
        "CREATE VIRTUAL TABLE bulletins USING fts5("
        "id UNINDEXED, title, body, tokenize = 'unicode61 remove_diacritics 2')"
    )
    docs = 0
    with db:
        for record in _records(source):
            db.execute(
                "INSERT INTO bulletins (id, title, body) VALUES (?, ?, ?)",
                (record["id"], record.get("title") or "", record.get("body") or ""),
            )
            docs += 1
    db.close()
    return {"docs": docs, "index_bytes": path.stat().st_size}


def _run_build(source: Path, work: Path, jobs: int) -> dict:
    from index import build_index
    from searcher.storage import read_current

    index_dir = work / f"index-jobs{jobs}"
    shutil.rmtree(index_dir, ignore_errors=True)
    report = build_index([source], index_dir, jobs=jobs)
    live = read_current(index_dir).path
    size = sum(f.stat().st_size for f in live.rglob("*") if f.is_file())
    segments = len([p for p in (live / "fastpath").iterdir() if p.name != "weights"])
    return {"docs": report.indexed, "index_bytes": size, "segments": segments}


def run_case(case: str, source: Path, work: Path) -> dict:
    """Run one case in this process; seconds exclude only the interpreter's start-up."""
    started = time.perf_counter()
    if case == "pyvi":
        result = _run_pyvi(source, work)
    elif case == "fts5":
        result = _run_fts5(source, work)
    elif case == "build1":
        result = _run_build(source, work, 1)
    else:
        result = _run_build(source, work, os.cpu_count() or 1)
    result["seconds"] = time.perf_counter() - started
    return result


# --- the driver ----------------------------------------------------------------------------


def _sample_tree(process, cpu: dict[int, float]) -> int:  # type: ignore[no-untyped-def]
    """RSS of ``process`` and its descendants now; records each one's CPU seconds in ``cpu``."""
    import psutil

    total = 0
    for proc in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            with proc.oneshot():
                total += proc.memory_info().rss
                times = proc.cpu_times()
            cpu[proc.pid] = times.user + times.system
    return total


def measure(case: str, source: Path, work: Path) -> dict:
    """Run ``case`` in a child process, sampling the RSS and CPU time of its process tree."""
    import psutil

    command = [sys.executable, "-m", "benchmarks.bench_indexing", "--case", case]
    command += ["--source", str(source), "--out", str(work)]
    child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    process = psutil.Process(child.pid)
    peak = 0
    cpu: dict[int, float] = {}
    while child.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, _sample_tree(process, cpu))
        time.sleep(SAMPLE_SECONDS)
    output = child.stdout.read() if child.stdout else ""
    if child.returncode != 0:
        raise SystemExit(f"case {case} failed with exit code {child.returncode}")
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_rss"] = peak
    result["cpu_seconds"] = sum(cpu.values())
    return result


def text_megabytes(records: list[dict]) -> float:
    """UTF-8 size of every title and body: the text all four cases process."""
    size = sum(len((r.get("title") or "").encode()) + len(r["body"].encode()) for r in records)
    return size / 1e6


def table(results: dict[str, list[dict]], megabytes: float) -> str:
    lines = [
        "| case | documents/s | MB/s | wall s | CPU s | peak RSS (MB) | index MB | segments |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        cpu = statistics.median(r["cpu_seconds"] for r in runs)
        docs = runs[0]["docs"]
        rss = statistics.median(r["peak_rss"] for r in runs) / 1e6
        size = runs[0]["index_bytes"]
        size_text = f"{size / 1e6:.0f}" if size is not None else "–"
        segments = runs[0].get("segments", "–")
        lines.append(
            f"| {CASES[case]} | {docs / seconds:.1f} | {megabytes / seconds:.2f} | "
            f"{seconds:.1f} | {cpu:.1f} | {rss:.0f} | {size_text} | {segments} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="bulletins to index")
    parser.add_argument(
        "--out", type=Path, default=OUT / "indexing", help="folder for the corpus and indexes"
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every case (medians)")
    parser.add_argument(
        "--cases", default=",".join(CASES), help=f"comma-separated subset of {', '.join(CASES)}"
    )
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.case:  # a child process: run one case and print its figures as JSON
        print(json.dumps(run_case(args.case, args.source, args.out)))
        return

    require_data()
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    records = real_bulletins(args.n)
    source = write_jsonl(records, args.out / f"corpus-{len(records)}.jsonl")
    megabytes = text_megabytes(records)
    print(f"{len(records)} bulletins, {megabytes:.1f} MB of text; {machine()}", file=sys.stderr)
    results: dict[str, list[dict]] = {case: [] for case in cases}
    for round_ in range(args.repeat):
        for case in cases:
            result = measure(case, source, args.out)
            results[case].append(result)
            print(
                f"round {round_ + 1} {case}: {result['seconds']:.1f} s, "
                f"{result['docs'] / result['seconds']:.1f} docs/s",
                file=sys.stderr,
            )
    print(table(results, megabytes))
    if "pyvi" in results and "buildall" in results:
        pyvi = statistics.median(r["seconds"] for r in results["pyvi"])
        build = statistics.median(r["seconds"] for r in results["buildall"])
        print(f"\nthroughput of (d) / throughput of (a): {pyvi / build:.2f}")
    (args.out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
