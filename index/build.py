"""Rebuild or update the index at a folder: a new generation, published atomically.

A rebuild writes into a temp folder beside the live generation and publishes it (see
:mod:`searcher.storage`, which owns the folder protocol), so a search running meanwhile, a
crash, or Ctrl-C never leaves a broken or half-built index. An update copies the live
generation, applies additions, changes (by content hash) and removals, and publishes the same
way. One writer at a time: a second one is refused with a clear message. How bulletins become
Whoosh fields is :mod:`index.documents`; how a rebuild writes its segments, :mod:`index.workers`.
"""

from __future__ import annotations

import itertools
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from index.bulletin import Bulletin, Skipped
from index.cluster import Cluster, write_on_cluster
from index.documents import (
    DEFAULT_BUILD,
    BuildOptions,
    first_of_each_id,
    read_bulletins,
    segmented,
    whoosh_fields,
)
from index.workers import Progress, write_here, write_in_workers
from searcher.errors import BantinError, IndexUnavailableError
from searcher.fastpath import prepare_fast_path
from searcher.schema import SCHEMA_VERSION, build_schema
from searcher.storage import new_generation, publish, read_current

__all__ = [
    "BuildOptions",
    "BuildReport",
    "Cluster",
    "NothingIndexedError",
    "Progress",
    "build_index",
    "update_index",
]


class NothingIndexedError(BantinError):
    """No input produced a bulletin; the live index was left as it was."""

    def __init__(self, report: BuildReport) -> None:
        super().__init__("nothing could be indexed: every input was skipped or none was given")
        self.report = report


@dataclass
class BuildReport:
    """What a rebuild or update did, for the command's summary."""

    index_dir: Path
    mode: str  # "rebuild" or "update"
    indexed: int = 0  # bulletins in the new generation
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    generation: str | None = None


def build_index(
    paths: Iterable[str | os.PathLike[str]],
    index_dir: str | os.PathLike[str],
    *,
    jobs: int = 1,
    progress: Progress | None = None,
    options: BuildOptions = DEFAULT_BUILD,
    cluster: str | Cluster | None = None,
) -> BuildReport:
    """Rebuild the index at ``index_dir`` from bulletin files or folders, atomically.

    With ``jobs > 1``, that many worker processes segment and index in parallel (Whoosh
    segments of their own), unless the input is too small to be worth it. With ``cluster`` (a
    Dask scheduler's address, or a :class:`~index.cluster.Cluster`), the workers of that Dask
    cluster do it instead (``jobs`` is then unused); the index is the same.
    """
    if isinstance(cluster, str):
        cluster = Cluster(cluster)
    index_dir = Path(index_dir)
    started = time.perf_counter()
    report = BuildReport(index_dir=index_dir, mode="rebuild")
    with new_generation(index_dir) as temp:
        ix = whoosh_index.create_in(str(temp), build_schema())
        bulletins = first_of_each_id(read_bulletins(paths, report.skipped), report.skipped)
        if cluster is not None:
            report.indexed = write_on_cluster(ix, temp, bulletins, cluster, progress, options)
        else:
            report.indexed = _write_locally(ix, temp, bulletins, jobs, progress, options)
        ix.close()
        if report.indexed == 0:
            raise NothingIndexedError(report)
        report.added = report.indexed
        _publish(index_dir, temp, report)
    report.seconds = time.perf_counter() - started
    return report


def _write_locally(
    ix: Any,
    temp: Path,
    bulletins: Iterator[tuple[Bulletin, str]],
    jobs: int,
    progress: Progress | None,
    options: BuildOptions,
) -> int:
    """Write a rebuild's segments in this process or in ``jobs`` worker processes."""
    if jobs > 1:
        # Fewer bulletins than a batch per worker are not worth starting processes for.
        wanted = options.batch_size * jobs
        head = list(itertools.islice(bulletins, wanted))
        bulletins = itertools.chain(head, bulletins)
        jobs = jobs if len(head) == wanted else 1
    if jobs > 1:
        return write_in_workers(ix, temp, bulletins, jobs, progress, options)
    return write_here(ix, bulletins, progress, options)


def update_index(
    paths: Iterable[str | os.PathLike[str]],
    index_dir: str | os.PathLike[str],
    *,
    jobs: int = 1,
    progress: Progress | None = None,
    options: BuildOptions = DEFAULT_BUILD,
) -> BuildReport:
    """Add new, replace changed and drop vanished bulletins of ``paths``, atomically.

    A bulletin counts as vanished when it came from a file under ``paths`` and that file no
    longer yields it. Without a live index this is a rebuild of ``paths``.
    """
    index_dir = Path(index_dir)
    try:
        live = read_current(index_dir)
    except IndexUnavailableError:
        return build_index(paths, index_dir, jobs=jobs, progress=progress, options=options)
    started = time.perf_counter()
    paths = [Path(p) for p in paths]
    report = BuildReport(index_dir=index_dir, mode="update")
    with new_generation(index_dir) as temp:
        live = read_current(index_dir)
        shutil.rmtree(temp)
        shutil.copytree(live.path, temp)
        ix = whoosh_index.open_dir(str(temp))
        with ix.searcher() as reader:
            existing = {
                stored["id"]: (stored.get("content_hash"), stored.get("source_path", ""))
                for stored in reader.all_stored_fields()
            }
        writer = ix.writer(limitmb=options.limit_mb)
        seen: set[str] = set()
        try:
            bulletins = first_of_each_id(read_bulletins(paths, report.skipped), report.skipped)
            for bulletin, source_path in segmented(bulletins, jobs, options):
                seen.add(bulletin.id)
                fields = whoosh_fields(bulletin, source_path)
                previous = existing.get(bulletin.id)
                if previous is not None and previous[0] == fields["content_hash"]:
                    report.unchanged += 1
                elif previous is not None:
                    writer.update_document(**fields)
                    report.updated += 1
                else:
                    writer.add_document(**fields)
                    report.added += 1
                if progress:
                    progress(1)
            roots = [str(p.resolve()) for p in paths]
            for doc_id, (_hash, source_path) in existing.items():
                if doc_id not in seen and _is_under(source_path, roots):
                    writer.delete_by_term("id", doc_id)
                    report.removed += 1
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        with ix.searcher() as reader:
            report.indexed = reader.doc_count()
        ix.close()
        _publish(index_dir, temp, report)
    report.seconds = time.perf_counter() - started
    return report


def _publish(index_dir: Path, temp: Path, report: BuildReport) -> None:
    """Add the search side files and the metadata, then make ``temp`` the live generation."""
    prepare_fast_path(temp)  # the search fast path's side files; never fails the build
    meta = {
        "schema_version": SCHEMA_VERSION,
        "documents": report.indexed,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    report.generation = publish(index_dir, temp, meta)


def _is_under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)
