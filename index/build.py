"""Write bulletins into a new Whoosh index generation and publish it atomically.

A rebuild writes into ``.tmp-…`` beside the live generation, then renames it to ``gen-N`` and
switches the ``CURRENT`` pointer (see :mod:`searcher.storage`), so a search running meanwhile,
a crash, or Ctrl-C never leaves a broken or half-built index. An update copies the live
generation, applies additions, changes (by content hash) and removals, and publishes the same
way. One writer at a time: a second one is refused with a clear message.

Bulletins are segmented in batches and handed to Whoosh with their segmentation attached. With
``jobs > 1`` a rebuild runs ``jobs`` worker processes that each segment, analyse and write
Whoosh segments of their own, while this process reads the input and hands out batches; the
segments are committed together, unmerged, so the costly part of indexing (analysis, posting
lists, the final sort and write) runs on every core. A writer closes its segment and starts
another when its buffered postings pass ``SEGMENT_MB``, so memory does not grow with the corpus;
each segment's search side files are written with it, from the postings in memory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import multiprocessing
import os
import queue
import shutil
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from index.bulletin import Bulletin, Skipped
from index.readers import bulletin_files, read_file
from index.writer import SegmentSeries
from searcher.analysis import PresegmentedText, default_segmenter, segmenter_input
from searcher.errors import BantinError, IndexLockedError, IndexUnavailableError
from searcher.fastpath import prepare_fast_path
from searcher.schema import SCHEMA_VERSION, build_schema
from searcher.storage import (
    GENERATION_PREFIX,
    LOCK,
    META,
    TEMP_PREFIX,
    fsync_tree,
    generation_names,
    next_generation_name,
    publish,
    read_current,
)

#: Bulletins segmented per batch: large enough to amortise a call, small for bounded memory.
BATCH_SIZE = 64
#: ...and at most about this many characters (a few real bulletins of the longest kind).
BATCH_CHARS = 1_000_000
#: Batches queued for each worker process: keeps it busy while bounding memory.
BATCHES_IN_FLIGHT = 2
#: Posting buffer of each Whoosh writer (MB) before it spills a sorted run to disk.
LIMIT_MB = 512
#: Posting buffer (estimated MB) at which a writer closes its segment and starts another:
#: bounds each writer's memory; see SegmentSeries for the trade-off with the segment count.
SEGMENT_MB = 400
#: Generations kept after a publish: the live one and the one before (for readers mid-switch).
KEEP_GENERATIONS = 2

Progress = Callable[[int], None]


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


# --- public API ---------------------------------------------------------------------------


def build_index(
    paths: Iterable[str | os.PathLike[str]],
    index_dir: str | os.PathLike[str],
    *,
    jobs: int = 1,
    progress: Progress | None = None,
) -> BuildReport:
    """Rebuild the index at ``index_dir`` from bulletin files or folders, atomically.

    With ``jobs > 1``, that many worker processes segment and index in parallel (Whoosh
    segments of their own), unless the input is too small to be worth it.
    """
    index_dir = Path(index_dir)
    started = time.perf_counter()
    report = BuildReport(index_dir=index_dir, mode="rebuild")
    with _writer_lock(index_dir):
        temp = _fresh_temp_dir(index_dir)
        try:
            ix = whoosh_index.create_in(str(temp), build_schema())
            bulletins = _first_of_each_id(_read(paths, report), report)
            if jobs > 1:
                # Fewer bulletins than a batch per worker are not worth starting processes for.
                head = list(itertools.islice(bulletins, BATCH_SIZE * jobs))
                bulletins = itertools.chain(head, bulletins)
                jobs = jobs if len(head) == BATCH_SIZE * jobs else 1
            if jobs > 1:
                report.indexed = _write_in_workers(ix, temp, bulletins, jobs, progress)
            else:
                report.indexed = _write_here(ix, bulletins, progress)
            ix.close()
            if report.indexed == 0:
                raise NothingIndexedError(report)
            report.added = report.indexed
            report.generation = _publish(index_dir, temp, report.indexed)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
    report.seconds = time.perf_counter() - started
    return report


def update_index(
    paths: Iterable[str | os.PathLike[str]],
    index_dir: str | os.PathLike[str],
    *,
    jobs: int = 1,
    progress: Progress | None = None,
) -> BuildReport:
    """Add new, replace changed and drop vanished bulletins of ``paths``, atomically.

    A bulletin counts as vanished when it came from a file under ``paths`` and that file no
    longer yields it. Without a live index this is a rebuild of ``paths``.
    """
    index_dir = Path(index_dir)
    try:
        live = read_current(index_dir)
    except IndexUnavailableError:
        return build_index(paths, index_dir, jobs=jobs, progress=progress)
    started = time.perf_counter()
    paths = [Path(p) for p in paths]
    report = BuildReport(index_dir=index_dir, mode="update")
    with _writer_lock(index_dir):
        live = read_current(index_dir)
        temp = _fresh_temp_dir(index_dir)
        try:
            shutil.rmtree(temp)
            shutil.copytree(live.path, temp)
            ix = whoosh_index.open_dir(str(temp))
            with ix.searcher() as reader:
                existing = {
                    stored["id"]: (stored.get("content_hash"), stored.get("source_path", ""))
                    for stored in reader.all_stored_fields()
                }
            writer = ix.writer(limitmb=LIMIT_MB)
            seen: set[str] = set()
            try:
                for bulletin, source_path in _segmented(_read(paths, report), jobs):
                    if bulletin.id in seen:
                        report.skipped.append(
                            Skipped(source_path, f"duplicate id “{bulletin.id}” (kept the first)")
                        )
                        continue
                    seen.add(bulletin.id)
                    fields = _fields(bulletin, source_path)
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
            report.generation = _publish(index_dir, temp, report.indexed)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
    report.seconds = time.perf_counter() - started
    return report


# --- writing a rebuild -------------------------------------------------------------------


def _first_of_each_id(
    items: Iterator[tuple[Bulletin, str]], report: BuildReport
) -> Iterator[tuple[Bulletin, str]]:
    """The bulletins with an id not seen before; later duplicates go into the report."""
    seen: dict[str, str] = {}
    for bulletin, source_path in items:
        if bulletin.id in seen:
            report.skipped.append(
                Skipped(source_path, f"duplicate id “{bulletin.id}” (kept the first)")
            )
            continue
        seen[bulletin.id] = source_path
        yield bulletin, source_path


def _write_here(ix: Any, items: Iterator[tuple[Bulletin, str]], progress: Progress | None) -> int:
    """Index ``items`` in this process; returns how many (0: nothing written)."""
    # The parent writer holds the index lock and lists the series' segments in the index.
    writer = ix.writer()
    series = SegmentSeries(ix, limitmb=LIMIT_MB, budget_mb=SEGMENT_MB)
    count = 0
    try:
        for item, source_path in _segmented(items, 1):
            series.add_document(**_fields(item, source_path))
            count += 1
            if progress:
                progress(1)
        segments = series.finish()
    except BaseException:
        series.cancel()
        writer.cancel()
        raise
    return _commit_segments(writer, segments, count)


def _commit_segments(writer: Any, segments: list[Any], count: int) -> int:
    """List finished ``segments`` in the index, unmerged; returns ``count`` (0: none)."""
    if not count:
        writer.cancel()
        return 0
    writer.commit(mergetype=lambda _writer, existing: [*existing, *segments])
    return count


_INDEXED, _DONE, _FAILED = "indexed", "done", "failed"


def _write_in_workers(
    ix: Any,
    folder: Path,
    items: Iterator[tuple[Bulletin, str]],
    jobs: int,
    progress: Progress | None,
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
    inboxes = [context.Queue(maxsize=BATCHES_IN_FLIGHT) for _ in range(jobs)]
    crew = _Crew(context.Queue(), progress)
    workers = [
        context.Process(
            target=_write_segment,
            args=(n, str(folder), inboxes[n], crew.messages, LIMIT_MB, SEGMENT_MB),
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
        for n, batch in enumerate(_batches(items, BATCH_SIZE)):
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
    return _commit_segments(writer, segments, count)


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
            segmentations = segmenter.segment_many(_texts(batch))
            for item, source_path in _attach(batch, segmentations):
                series.add_document(**_fields(item, source_path))
            messages.put((_INDEXED, number, len(batch)))
        messages.put((_DONE, number, series.finish()))
    except OSError as error:
        messages.put((_FAILED, number, OSError(error.errno, error.strerror, error.filename)))
    except BaseException:
        messages.put((_FAILED, number, traceback.format_exc()))


# --- reading and segmenting ---------------------------------------------------------------


def _read(
    paths: Iterable[str | os.PathLike[str]], report: BuildReport
) -> Iterator[tuple[Bulletin, str]]:
    """Bulletins with the resolved file they came from; skips go into the report."""
    for path in bulletin_files(paths):
        if isinstance(path, Skipped):
            report.skipped.append(path)
            continue
        source_path = os.path.realpath(path)
        try:
            for item in read_file(path):
                if isinstance(item, Skipped):
                    report.skipped.append(item)
                else:
                    yield item, source_path
        except OSError as error:
            report.skipped.append(Skipped(path, f"cannot read: {error.strerror or error}"))


def _segmented(
    items: Iterator[tuple[Bulletin, str]], jobs: int
) -> Iterator[tuple[_WithSegmentation, str]]:
    """Attach pyvi segmentations of title and body, batch by batch (in workers if jobs > 1)."""
    batches = _batches(items, BATCH_SIZE)
    if jobs <= 1:
        segmenter = default_segmenter()
        for batch in batches:
            yield from _attach(batch, segmenter.segment_many(_texts(batch)))
        return
    context = multiprocessing.get_context("forkserver")
    with context.Pool(jobs) as pool:
        pending = ((batch, _texts(batch)) for batch in batches)
        for batch, segmentations in _ordered_map(pool, pending, in_flight=4 * jobs):
            yield from _attach(batch, segmentations)


def _ordered_map(
    pool: Any, pending: Iterator[tuple[list[Any], list[str]]], in_flight: int
) -> Iterator[Any]:
    """Results in input order with at most ``in_flight`` batches queued (bounded memory)."""
    window: list[tuple[list[Any], Any]] = []
    for batch, texts in pending:
        window.append((batch, pool.apply_async(_segment_texts, (texts,))))
        if len(window) >= in_flight:
            batch_done, result = window.pop(0)
            yield batch_done, result.get()
    for batch_done, result in window:
        yield batch_done, result.get()


def _segment_texts(texts: list[str]) -> list[Any]:
    return default_segmenter().segment_many(texts)


def _texts(batch: list[tuple[Bulletin, str]]) -> list[str]:
    texts: list[str] = []
    for bulletin, _ in batch:
        texts.append(segmenter_input(bulletin.title))
        texts.append(segmenter_input(bulletin.body))
    return texts


def _attach(batch: list[tuple[Bulletin, str]], segmentations: list[Any]) -> Iterator[Any]:
    for i, (bulletin, source_path) in enumerate(batch):
        yield (
            _WithSegmentation(bulletin, segmentations[2 * i], segmentations[2 * i + 1]),
            source_path,
        )


@dataclass(frozen=True, slots=True)
class _WithSegmentation:
    bulletin: Bulletin
    title_segmentation: Any
    body_segmentation: Any

    @property
    def id(self) -> str:
        return self.bulletin.id


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    """Batches of ``size`` bulletins, cut earlier at ``BATCH_CHARS`` characters of text.

    Segmentation and analysis hold a batch's tokens in memory, so a batch of huge bulletins
    must be short for memory to stay bounded.
    """
    batch: list[Any] = []
    chars = 0
    for item in items:
        batch.append(item)
        bulletin = item[0]
        chars += len(bulletin.title) + len(bulletin.body)
        if len(batch) == size or chars >= BATCH_CHARS:
            yield batch
            batch = []
            chars = 0
    if batch:
        yield batch


def _fields(item: _WithSegmentation, source_path: str) -> dict[str, Any]:
    """Whoosh field values; text fields carry their segmentation, stored values stay plain."""
    bulletin = item.bulletin
    date = bulletin.date.isoformat() if bulletin.date else ""
    metadata = {
        "id": bulletin.id,
        "date": date,
        "year": date[:4],
        "locality": bulletin.locality or "",
        "province": bulletin.province or "",
        "province_current": bulletin.province_current,
        "author": bulletin.author,
        "source_unit": bulletin.source_unit,
        "url": bulletin.url,
        "source": _public_source(bulletin.source, source_path),
        "source_path": source_path,
    }
    content = json.dumps([bulletin.title, bulletin.body, metadata], ensure_ascii=False)
    title = PresegmentedText(bulletin.title, item.title_segmentation)
    body = PresegmentedText(bulletin.body, item.body_segmentation)
    return {
        **metadata,
        "title": title,
        "title_folded": title,
        "body": body,
        "body_folded": body,
        "_stored_title": bulletin.title,
        "_stored_body": bulletin.body,
        "content_hash": hashlib.sha256(content.encode("utf-8")).hexdigest(),
    }


def _public_source(source: str | None, source_path: str) -> str | None:
    """The source shown to users: a file's name (never a server path), or a given source."""
    if not source:
        return None
    path_part, _, line = source.rpartition(":") if ":" in source else (source, "", "")
    candidate = Path(path_part or source)
    if str(candidate.resolve()) == source_path or candidate.name == Path(source_path).name:
        return candidate.name + (f":{line}" if path_part and line.isdigit() else "")
    return source


def _is_under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


# --- publishing and locking ---------------------------------------------------------------


def _fresh_temp_dir(index_dir: Path) -> Path:
    """A new temp folder; leftovers of dead builds are removed (we hold the writer lock)."""
    for entry in index_dir.iterdir():
        if entry.name.startswith(TEMP_PREFIX):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith("CURRENT.") and entry.name.endswith(".tmp"):
            entry.unlink(missing_ok=True)
    temp = index_dir / f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}"
    temp.mkdir()
    return temp


def _publish(index_dir: Path, temp: Path, documents: int) -> str:
    meta = {
        "schema_version": SCHEMA_VERSION,
        "documents": documents,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    prepare_fast_path(temp)  # the search fast path's side files; never fails the build
    (temp / META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    fsync_tree(temp)
    name = next_generation_name(index_dir)
    os.rename(temp, index_dir / name)
    publish(index_dir, name)
    for old in generation_names(index_dir)[:-KEEP_GENERATIONS]:
        if old.startswith(GENERATION_PREFIX) and old != name:
            shutil.rmtree(index_dir / old, ignore_errors=True)
    return name


@contextlib.contextmanager
def _writer_lock(index_dir: Path) -> Iterator[None]:
    """Hold the one-writer lock of ``index_dir`` or refuse clearly."""
    index_dir.mkdir(parents=True, exist_ok=True)
    handle = open(index_dir / LOCK, "a+", encoding="utf-8")  # noqa: SIM115 (held for the block)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexLockedError(
                f"another `bantin index` is already writing {index_dir}; "
                "wait for it to finish and run this again"
            ) from None
        yield
    finally:
        handle.close()
