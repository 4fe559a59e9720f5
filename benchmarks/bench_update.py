"""Benchmark: what an update costs against a full build, in time and in disk.

Builds an index of ``--n`` real bulletins (VietNews and Báo Mới interleaved, read in place from
the shared data folder and written as JSON Lines files of 1,000 bulletins each, as daily dumps
would be), then times ``update_index`` over the same files edited: 50 new bulletins (a new
file), 10 changed (a sentence added to their bodies, in place) and 5 removed (the last lines of
the last file, so no other bulletin's line number moves: a bulletin's source line is part of
its content hash); the changes fall in the last file, so the update reads that file and the new
one and skips the unchanged files by their signatures. Each repeat updates a fresh copy of the
built index. Also times reading the two files it reads alone (parsing and metadata
extraction). Prints a Markdown table with medians::

    python -m benchmarks.bench_update --n 20000 --repeats 3

Sizes count each file once however many generations link it (as ``du`` does), with both
generations an update leaves on disk (the live one and the previous one, kept for readers).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from a checkout; workers re-import this module
    sys.path.insert(0, str(REPO))

from benchmarks.common import OUT, machine, real_bulletins, write_jsonl  # noqa: E402

NEW, CHANGED, REMOVED = 50, 10, 5
PART = 1000


def disk_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder``, each inode counted once."""
    seen: set[int] = set()
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            info = os.lstat(os.path.join(root, name))
            if info.st_ino not in seen:
                seen.add(info.st_ino)
                total += info.st_size
    return total


def added_by_part(index_dir: Path) -> dict[str, int]:
    """Bytes the live generation holds that the previous one does not, by its top-level part
    (a sub-folder such as ``lm`` or ``passages``; Whoosh's own files as ``whoosh``)."""
    from searcher.storage import generation_names

    *_, previous, live = generation_names(index_dir)
    old = {os.lstat(p).st_ino for p in (index_dir / previous).rglob("*") if p.is_file()}
    parts: dict[str, int] = {}
    for path in (index_dir / live).rglob("*"):
        info = os.lstat(path)
        if path.is_file() and info.st_ino not in old:
            relative = path.relative_to(index_dir / live).parts
            part = relative[0] if len(relative) > 1 else "whoosh"
            parts[part] = parts.get(part, 0) + info.st_size
    return parts


def write_inputs(records: list[dict], folder: Path) -> list[Path]:
    shutil.rmtree(folder, ignore_errors=True)
    return [
        write_jsonl(records[start : start + PART], folder / f"part-{start // PART:04d}.jsonl")
        for start in range(0, len(records), PART)
    ]


def edited(records: list[dict]) -> list[dict]:
    """The base records with CHANGED bodies edited and the last REMOVED dropped: the edits
    fall in the last file, as corrections to recent bulletins do (other files are unchanged,
    and an update does not read them)."""
    changed = [dict(r) for r in records]
    last = range(max(0, len(records) - PART), len(records) - REMOVED)
    for i in list(last)[:: max(1, len(last) // CHANGED)][:CHANGED]:
        changed[i]["body"] = changed[i]["body"] + " Bản tin được cập nhật."
    return changed[:-REMOVED]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="bulletins in the index")
    parser.add_argument("--repeats", type=int, default=3, help="updates timed (median)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--out", type=Path, default=OUT / "update", help="work folder")
    args = parser.parse_args()

    from index import build_index, update_index
    from index.documents import first_of_each_id, read_bulletins

    records = real_bulletins(args.n + NEW)
    base, new = records[: args.n], records[args.n :]
    work = args.out
    base_files = write_inputs(base, work / "inputs")
    shutil.rmtree(work / "index", ignore_errors=True)
    load_before = os.getloadavg()
    started = time.perf_counter()
    built = build_index(base_files, work / "index", jobs=args.jobs)
    build_seconds = time.perf_counter() - started
    size_before = disk_bytes(work / "index")

    # The same files, edited in place (a bulletin's source file is part of its content hash);
    # only the last one is rewritten.
    last = base_files[-1]
    write_jsonl(edited(base)[(len(base_files) - 1) * PART :], last)
    new_file = write_jsonl(new, work / "inputs" / "new.jsonl")
    update_files = [*base_files, new_file]
    skipped: list = []
    started = time.perf_counter()
    read = sum(1 for _ in first_of_each_id(read_bulletins([last, new_file], skipped), skipped))
    read_seconds = time.perf_counter() - started

    seconds, sizes, reports = [], [], []
    for _ in range(args.repeats):
        copy = work / "updated"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(work / "index", copy)
        started = time.perf_counter()
        report = update_index(update_files, copy, jobs=args.jobs)
        seconds.append(time.perf_counter() - started)
        sizes.append(disk_bytes(copy))
        reports.append(report)
    load_after = os.getloadavg()
    update_seconds = statistics.median(seconds)
    size_after = statistics.median(sizes)
    last = reports[-1]

    print(f"machine: {machine()}")
    print(f"load average (1, 5, 15 min) before: {load_before}, after: {load_after}")
    print(
        f"index: {built.indexed:,} bulletins; update: {last.added} added, {last.updated} "
        f"changed, {last.removed} removed, {last.unchanged:,} unchanged (read {read:,})"
    )
    print()
    print("| | value |")
    print("|---|---:|")
    print(f"| full build, jobs={args.jobs} | {build_seconds:.1f} s |")
    runs = ", ".join(f"{s:.1f}" for s in seconds)
    print(f"| update (median of {args.repeats}: {runs} s) | {update_seconds:.1f} s |")
    print(f"| update / full build | {100 * update_seconds / build_seconds:.1f} % |")
    print(f"| of which reading the changed files (parse, extract) | {read_seconds:.1f} s |")
    rest = update_seconds - read_seconds
    print(f"| update without reading / full build | {100 * rest / build_seconds:.1f} % |")
    print(f"| index size before | {size_before / 1e6:.1f} MB |")
    print(f"| index size after (both generations) | {size_after / 1e6:.1f} MB |")
    added_bytes = size_after - size_before
    print(f"| bytes added | {added_bytes / 1e6:.2f} MB ({100 * added_bytes / size_before:.2f} %) |")
    for part, size in sorted(added_by_part(work / "updated").items(), key=lambda kv: -kv[1]):
        print(f"| of which new in `{part}` | {size / 1e6:.2f} MB |")


if __name__ == "__main__":
    main()
