"""Rebuild or update the index at a folder: a new generation, published atomically.

A rebuild writes into a temp folder beside the live generation and publishes it (see
:mod:`searcher.storage`, which owns the folder protocol), so a search running meanwhile, a
crash, or Ctrl-C never leaves a broken or half-built index. An update shares the live
generation's files by hard links, writes only additions, changes (by content hash) and
removals, and publishes the same way. One writer at a time: a second one is refused with a
clear message. How bulletins become Whoosh fields is :mod:`index.documents`; how a rebuild
writes its segments, :mod:`index.workers`; which bulletin each document is, :mod:`index.catalog`.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh import writing

from index.bulletin import Bulletin, Skipped
from index.catalog import (
    file_signature,
    indexed_bulletins,
    read_signatures,
    write_catalog,
    write_signatures,
)
from index.cluster import Cluster, write_on_cluster
from index.documents import (
    DEFAULT_BUILD,
    BuildOptions,
    content_hash,
    first_of_each_id,
    read_bulletins,
    segmented,
    whoosh_fields,
)
from index.workers import Progress, write_here, write_in_workers
from index.writer import SegmentSeries
from searcher.errors import BantinError, IndexUnavailableError
from searcher.fastpath import prepare_fast_path
from searcher.schema import SCHEMA_VERSION, build_schema
from searcher.storage import new_generation, publish, read_current, share_generation

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
        inputs = _InputFiles({})
        bulletins = read_bulletins(paths, report.skipped, inputs.unchanged)
        bulletins = first_of_each_id(bulletins, report.skipped)
        if cluster is not None:
            report.indexed = write_on_cluster(ix, temp, bulletins, cluster, progress, options)
        else:
            report.indexed = _write_locally(ix, temp, bulletins, jobs, progress, options)
        if report.indexed == 0:
            ix.close()
            raise NothingIndexedError(report)
        report.added = report.indexed
        _publish(index_dir, temp, report, ix, inputs.now)
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

    The cost follows the change, not the index: the new generation shares the live one's
    files by hard links (:func:`~searcher.storage.share_generation`), content hashes are
    compared before anything is segmented, and only new and changed bulletins are segmented
    and written, into a new segment; Whoosh records the deletions in a new table of contents.
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
        share_generation(live.path, temp)
        ix = whoosh_index.open_dir(str(temp))
        existing = indexed_bulletins(temp, ix)
        seen: set[str] = set()
        inputs = _InputFiles(read_signatures(temp))
        bulletins = read_bulletins(paths, report.skipped, inputs.unchanged)
        bulletins = first_of_each_id(bulletins, report.skipped)
        changed = _changed(bulletins, existing, seen, inputs, report, progress)
        # Deletions go through Whoosh's writer (into the new table of contents); the new and
        # changed bulletins into new segments of the rebuild's writer, with their side files.
        writer = ix.writer(limitmb=options.limit_mb)
        series = SegmentSeries(ix, limitmb=options.limit_mb, budget_mb=options.segment_mb)
        try:
            for item, source_path in segmented(changed, jobs, options):
                if item.id in existing:
                    writer.delete_by_term("id", item.id)
                series.add_document(**whoosh_fields(item, source_path))
            roots = [str(p.resolve()) for p in paths]
            for doc_id, (_hash, source_path) in existing.items():
                if source_path in inputs.skipped:
                    report.unchanged += 1
                elif doc_id not in seen and _is_under(source_path, roots):
                    writer.delete_by_term("id", doc_id)
                    report.removed += 1
            segments = series.finish()
        except BaseException:
            series.cancel()
            writer.cancel()
            raise
        # Small segments are merged as Whoosh's default policy does, so repeated updates do
        # not pile up segments; large ones stay as they are (shared with the live generation).
        writer.commit(mergetype=lambda w, old: [*writing.MERGE_SMALL(w, old), *segments])
        with ix.searcher() as reader:
            report.indexed = reader.doc_count()
        signatures = {
            path: signature
            for path, signature in read_signatures(temp).items()
            if not _is_under(path, roots)  # files under the paths are all in inputs.now
        }
        _publish(index_dir, temp, report, ix, signatures | inputs.now)
    report.seconds = time.perf_counter() - started
    return report


class _InputFiles:
    """The input files of a build or update, by signature (see
    :func:`~index.catalog.file_signature`): ``now`` has those of every file walked, and
    :meth:`unchanged` tells the reader to skip a file whose signature is the one recorded by
    the previous build (its bulletins are indexed as they are); those go into ``skipped``.
    """

    def __init__(self, previous: dict[str, list[int]]) -> None:
        self.previous = previous
        self.now: dict[str, list[int]] = {}
        self.skipped: set[str] = set()

    def unchanged(self, path: str) -> bool:
        # Taken before the file is read: a file changed while it is read is read next time.
        signature = file_signature(path)
        if signature is None:
            return False
        self.now[path] = signature
        if self.previous.get(path) == signature:
            self.skipped.add(path)
            return True
        return False


def _changed(
    bulletins: Iterator[tuple[Bulletin, str]],
    existing: dict[str, tuple[str | None, str]],
    seen: set[str],
    inputs: _InputFiles,
    report: BuildReport,
    progress: Progress | None,
) -> Iterator[tuple[Bulletin, str]]:
    """The new and changed ``bulletins``, by content hash before any segmentation (pyvi is
    most of an indexing's cost); counts each kind in ``report``, ids go into ``seen``."""
    for bulletin, source_path in bulletins:
        seen.add(bulletin.id)
        previous = existing.get(bulletin.id)
        if previous is not None and previous[1] != source_path and previous[1] in inputs.skipped:
            # The id is indexed from an unchanged file: that one stays.
            report.skipped.append(
                Skipped(source_path, f"duplicate id “{bulletin.id}” (kept the indexed one)")
            )
        elif previous is not None and previous[0] == content_hash(bulletin, source_path):
            report.unchanged += 1
        else:
            if previous is None:
                report.added += 1
            else:
                report.updated += 1
            yield bulletin, source_path
        if progress:
            progress(1)


def _publish(
    index_dir: Path, temp: Path, report: BuildReport, ix: Any, signatures: dict[str, list[int]]
) -> None:
    """Add the catalog (with the input files' ``signatures``), the search side files and the
    metadata, then make ``temp`` the live generation (``ix``, the index in ``temp``, is
    closed)."""
    try:
        write_catalog(temp, ix)
    finally:
        ix.close()
    write_signatures(temp, signatures)
    prepare_fast_path(temp)  # the search fast path's side files; never fails the build
    meta = {
        "schema_version": SCHEMA_VERSION,
        "documents": report.indexed,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    report.generation = publish(index_dir, temp, meta)


def _is_under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)
