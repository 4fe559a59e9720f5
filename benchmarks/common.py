"""Shared pieces of the benchmarks: the real corpora in ../shared/data and cached indexes.

Benchmarks read the corpora in place (never copied into the repository) and skip with a message
when they are absent. Built indexes are cached under ``bench-out/`` (ignored by git), keyed by
the corpus size and a hash of the code that decides the index format, so every benchmark run
against the same code reuses one build.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench-out"
CORPORA = ("vietnews_60k.jsonl.gz", "baomoi_2017_35k.jsonl.gz")
#: Files whose change changes what an index holds.
_FORMAT_FILES = (
    "searcher/analysis.py",
    "searcher/schema.py",
    "searcher/text.py",
    "searcher/segmentation/model.py",
    "searcher/segmentation/segmenter.py",
    "searcher/segmentation/syllables.py",
    "searcher/segmentation/tagging.py",
    "index/build.py",
)


def data_dir() -> Path | None:
    """``../shared/data`` (or ``$BANTIN_DATA``) when it holds the corpora, else None."""
    candidate = Path(os.environ.get("BANTIN_DATA", REPO.parent / "shared" / "data"))
    return candidate if all((candidate / name).exists() for name in CORPORA) else None


def require_data() -> Path:
    """The data folder, or exit with a message saying why the benchmark is skipped."""
    found = data_dir()
    if found is None:
        print("skipped: the corpora of ../shared/data are not here (set BANTIN_DATA)")
        sys.exit(0)
    return found


def _read(path: Path) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            yield {
                key: record[key]
                for key in ("id", "title", "body", "url")
                if record.get(key) is not None
            }


def real_bulletins(n: int, skip: int = 0) -> list[dict]:
    """``n`` real articles, VietNews and Báo Mới interleaved, in a fixed order."""
    folder = require_data()
    streams = [_read(folder / name) for name in CORPORA]
    mixed = (r for pair in itertools.zip_longest(*streams) for r in pair if r is not None)
    return list(itertools.islice(mixed, skip, skip + n))


def write_jsonl(records: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def format_key() -> str:
    """Hash of the code that decides the index format: a cached index is reused only if equal."""
    digest = hashlib.sha256()
    for name in _FORMAT_FILES:
        path = REPO / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def cached_index(n: int, jobs: int | None = None) -> Path:
    """An index of ``n`` real bulletins, built once per code version and reused."""
    from index import build_index

    index_dir = OUT / f"index-{n}-{format_key()}"
    if (index_dir / "CURRENT").exists():
        return index_dir
    source = write_jsonl(real_bulletins(n), OUT / f"corpus-{n}.jsonl")
    started = time.perf_counter()
    print(f"building the {n}-bulletin index (cached in {index_dir.name}) …", file=sys.stderr)
    build_index([source], index_dir, jobs=jobs or os.cpu_count() or 1)
    print(f"built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return index_dir


def machine() -> str:
    """One line naming the machine, for the results tables."""
    model = platform.processor() or platform.machine()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line),
            model,
        )
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def memory() -> dict[str, int]:
    """Anonymous and file-backed (mapped) resident bytes of this process, from Linux's
    ``/proc/self/smaps_rollup``: mapped index pages are shared and reclaimable, anonymous
    memory is what the process really costs."""
    fields: dict[str, int] = {}
    with open("/proc/self/smaps_rollup") as handle:
        for line in handle.read().splitlines()[1:]:
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0]) * 1024
    return {"anon": fields["Anonymous"], "file": fields["Rss"] - fields["Anonymous"]}
