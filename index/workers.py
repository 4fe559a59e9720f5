"""Writing a rebuild's Whoosh segments: here, or in a pool of worker processes.

With ``jobs > 1`` a rebuild runs ``jobs`` worker processes that each segment, analyse and write
Whoosh segments of their own, while the parent reads the input and hands out batches; the
segments are committed together, unmerged, so the costly part of indexing (analysis, posting
lists, the final sort and write) runs on every core. A writer closes its segment and starts
another when its buffered postings pass ``BuildOptions.segment_mb``, so memory does not grow
with the corpus; each segment's search side files are written with it.
"""

from __future__ import annotations

import multiprocessing
import queue
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from index.bulletin import Bulletin
from index.documents import (
    BuildOptions,
    attach_segmentations,
    batches,
    segmented,
    segmenter_texts,
    whoosh_fields,
)
from index.writer import SegmentSeries
from searcher.analysis import default_segmenter
from searcher.errors import BantinError

Progress = Callable[[int], None]


def write_here(
    ix: Any, items: Iterator[tuple[Bulletin, str]], progress: Progress | None, options: BuildOptions
) -> int:
    """Index ``items`` in this process; returns how many (0: nothing written)."""
    # The parent writer holds the index lock and lists the series' segments in the index.
    writer = ix.writer()
    series = SegmentSeries(ix, limitmb=options.limit_mb, budget_mb=options.segment_mb)
    count = 0
    try:
        for item, source_path in segmented(items, 1, options):
            series.add_document(**whoosh_fields(item, source_path))
            count += 1
            if progress:
                progress(1)
        segments = series.finish()
    except BaseException:
        series.cancel()
        writer.cancel()
        raise
    return commit_segments(writer, segments, count)


def index_batch(series: SegmentSeries, segmenter: Any, batch: list[tuple[Bulletin, str]]) -> None:
    """Segment and analyse one batch and add it to ``series``: what a worker does, whether a
    process of the pool or a task on a cluster (:mod:`index.cluster`)."""
    segmentations = segmenter.segment_many(segmenter_texts(batch))
    for item, source_path in attach_segmentations(batch, segmentations):
        series.add_document(**whoosh_fields(item, source_path))


def commit_segments(writer: Any, segments: list[Any], count: int) -> int:
    """List finished ``segments`` in the index, unmerged; returns ``count`` (0: none)."""
    if not count:
        writer.cancel()
        return 0
    writer.commit(mergetype=lambda _writer, existing: [*existing, *segments])
    return count


_INDEXED, _DONE, _FAILED = "indexed", "done", "failed"


def write_in_workers(
    ix: Any,
    folder: Path,
    items: Iterator[tuple[Bulletin, str]],
    jobs: int,
    progress: Progress | None,
    options: BuildOptions,
) -> int:
    """Index ``items`` in ``jobs`` worker processes, segments of their own, committed unmerged.

    This process reads the input and deals batches out in turn through small bounded queues
    (so memory stays bounded and a given ``jobs`` always puts the same bulletins in the same
    segment); each worker segments, analyses and writes its batches with writers of its own
    and finishes a segment (sorting and writing its posting lists) whenever its memory budget
    is reached and at the end, in parallel with the others. Whoosh's own ``procs`` writer works
    the same way, but cannot segment in batches and loses a dead worker's documents silently;
    here any failure stops the build before anything is published.
    """
    context = multiprocessing.get_context("forkserver")
    inboxes = [context.Queue(maxsize=options.batches_in_flight) for _ in range(jobs)]
    crew = _Crew(context.Queue(), progress)
    workers = [
        context.Process(
            target=_write_segment,
            args=(n, str(folder), inboxes[n], crew.messages, options.limit_mb, options.segment_mb),
            name=f"bantin-index-{n}",
            daemon=True,
        )
        for n in range(jobs)
    ]
    # The parent writer holds the index lock and commits the workers' segments.
    writer = ix.writer()
    count = 0
    try:
        for worker in workers:
            worker.start()
        for n, batch in enumerate(batches(items, options)):
            crew.put(inboxes[n % jobs], batch, workers)
            count += len(batch)
        for inbox in inboxes:
            crew.put(inbox, None, workers)
        segments = crew.segments(workers)
        written = sum(segment.doc_count_all() for segment in segments)
        if written != count:
            raise BantinError(f"indexing workers wrote {written} bulletins of {count}")
    except BaseException:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
        for inbox in inboxes:
            # Batches nobody will read must not keep this process from exiting.
            inbox.cancel_join_thread()
        writer.cancel()
        raise
    finally:
        for worker in workers:
            if worker.pid is not None:
                worker.join()
        for inbox in inboxes:
            inbox.close()
    return commit_segments(writer, segments, count)


class _Crew:
    """The parent's view of the workers: their messages, progress, failures and segments."""

    def __init__(self, messages: Any, progress: Progress | None) -> None:
        self.messages = messages
        self.progress = progress
        self.done: dict[int, Any] = {}

    def put(self, inbox: Any, batch: Any, workers: list[Any]) -> None:
        """Queue ``batch`` (None: no more), waiting while the queue is full; relay messages."""
        while True:
            self._receive(block=False)
            try:
                inbox.put(batch, timeout=0.2)
                return
            except queue.Full:
                self._check(workers)

    def segments(self, workers: list[Any]) -> list[Any]:
        """Wait for every worker's segments (none from a worker that got no bulletins)."""
        while len(self.done) < len(workers):
            if not self._receive(block=True):
                self._check(workers)
        return [segment for n in sorted(self.done) for segment in self.done[n]]

    def _receive(self, *, block: bool) -> bool:
        """Handle waiting messages; with ``block``, wait a little for one. True if any came."""
        got = False
        while True:
            try:
                kind, worker, value = self.messages.get(block=block and not got, timeout=0.2)
            except queue.Empty:
                return got
            got = True
            if kind == _INDEXED:
                if self.progress:
                    self.progress(value)
            elif kind == _DONE:
                self.done[worker] = value
            elif isinstance(value, OSError):
                raise value  # a full or unwritable target: the command reports it in one line
            else:
                raise BantinError(f"an indexing worker failed:\n{value}")

    def _check(self, workers: list[Any]) -> None:
        """Fail if a worker ended without reporting its segment (killed, out of memory…)."""
        for n, worker in enumerate(workers):
            if worker.exitcode is not None and n not in self.done:
                if self._receive(block=True) and n in self.done:
                    continue
                raise BantinError(
                    f"indexing worker {worker.name} stopped (exit code {worker.exitcode})"
                )


def _write_segment(
    number: int, folder: str, inbox: Any, messages: Any, limitmb: int, segment_mb: float
) -> None:
    """Worker process: segment and index batches into segments of its own, then report them."""
    try:
        ix = whoosh_index.open_dir(folder)
        # Not locked: the parent holds the index lock; every writer makes its own segment.
        series = SegmentSeries(ix, limitmb=limitmb, budget_mb=segment_mb)
        segmenter = default_segmenter()
        for batch in iter(inbox.get, None):
            index_batch(series, segmenter, batch)
            messages.put((_INDEXED, number, len(batch)))
        messages.put((_DONE, number, series.finish()))
    except OSError as error:
        messages.put((_FAILED, number, OSError(error.errno, error.strerror, error.filename)))
    except BaseException:
        messages.put((_FAILED, number, traceback.format_exc()))
