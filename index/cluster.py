"""Writing a rebuild's Whoosh segments on a Dask distributed cluster (``bantin index --cluster``).

The client (the process running ``bantin index``) reads the inputs, drops duplicate ids and
deals the bulletins out in tasks of :attr:`Cluster.task_size` in input order. Each task runs on
a Dask worker: it segments, analyses and writes its bulletins into Whoosh segments of its own,
with their fast-path side files, straight into the new generation's temp folder, and returns
the segments' descriptors (small: ids and counts, never the files). The client lists them in
the index in task order, so the documents get the numbers a one-process build gives them, then
:func:`index.build.build_index` computes the collection statistics and weights and publishes
the generation atomically, exactly as for a local build.

Bulletins, not paths, travel to the workers: the client is the only one that must see the
input files, and a task's bulletins are a few hundred kilobytes. The segments, though, are
written where the client will publish them, so **the workers must see the index folder at the
same path as the client** (a shared disk or network file system, the usual set-up of a small
cluster; one machine running scheduler and workers qualifies). The client checks this before
dealing anything and refuses clearly otherwise. A cluster without a shared disk would need each
task to write into a scratch folder of its worker and return the segment's files as bytes for
the client to write into the temp folder (the segment ids are random, so they do not collide);
that costs a copy of the whole index through the scheduler's network and is not implemented.

Failures: a task that raises is retried (:attr:`Cluster.retries`) and a task whose worker dies
is rescheduled by Dask on another worker (up to the scheduler's ``allowed-failures``). A
retried task writes segments under fresh random ids; the files of the attempt that died are
orphans that the client never lists, and the commit and the side-file pass remove them. When a
task cannot be completed the build fails with :class:`ClusterError`, nothing is published and
the temp folder goes with the build, as with a local build.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from index.bulletin import Bulletin
from index.documents import BuildOptions, batches
from index.workers import Progress, commit_segments, index_batch
from index.writer import SegmentSeries
from searcher.analysis import default_segmenter
from searcher.errors import BantinError

__all__ = ["Cluster", "ClusterError", "write_on_cluster"]

#: Tasks queued per worker ahead of the one it runs: keeps each busy, bounds the client's memory.
TASKS_IN_FLIGHT = 2


class ClusterError(BantinError):
    """The cluster could not be used or could not finish the build; nothing was published."""


@dataclass(frozen=True, slots=True)
class Cluster:
    """Where and how to build on a Dask cluster (``build_index(..., cluster=...)``).

    ``task_size`` bulletins make one task and (at least) one Whoosh segment: larger tasks make
    fewer segments (searches loop over segments) and less scheduling, smaller ones balance the
    workers better and lose less work to a dead worker.
    """

    #: The scheduler's address, e.g. ``tcp://127.0.0.1:8786``.
    address: str
    #: Bulletins per task.
    task_size: int = 2048
    #: Times a task that raised is run again before the build fails.
    retries: int = 2
    #: Seconds to reach the scheduler, and then to wait for a first worker to join it.
    timeout: float = 20.0


def write_on_cluster(
    ix: Any,
    folder: Path,
    items: Iterator[tuple[Bulletin, str]],
    cluster: Cluster,
    progress: Progress | None,
    options: BuildOptions,
) -> int:
    """Index ``items`` on ``cluster`` into segments in ``folder``, listed in ``ix`` in input
    order; returns how many (0: nothing written)."""
    try:
        # Imported here: Dask is an optional extra, and a local build should not load it.
        import distributed  # noqa: F401
    except ImportError:
        raise ClusterError(
            "building on a cluster needs Dask: install the extra with "
            "`pip install 'bantin[cluster]'`"
        ) from None
    folder = Path(folder).resolve()
    with _connect(cluster.address, cluster.timeout) as client:
        _check_workers_see(client, folder)
        # The client's writer holds the index lock and commits the workers' segments.
        writer = ix.writer()
        try:
            segments, count = _run_tasks(client, folder, items, cluster, progress, options)
        except BaseException:
            writer.cancel()
            raise
    return commit_segments(writer, segments, count)


def _connect(address: str, timeout: float) -> Any:
    """A client of the scheduler at ``address`` with at least one worker, or ClusterError."""
    import distributed

    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, ValueError) as error:  # refused, timed out (an OSError), bad address
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {error}") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError):
        client.close()
        raise ClusterError(
            f"the Dask scheduler at {address} has no worker (waited {timeout:.0f} s)"
        ) from None
    return client


def _check_workers_see(client: Any, folder: Path) -> None:
    """Refuse a cluster whose workers do not see the new generation's folder (no shared disk)."""
    seen = client.run(whoosh_index.exists_in, str(folder))
    blind = sorted(worker for worker, sees in seen.items() if not sees)
    if blind:
        raise ClusterError(
            f"Dask workers {', '.join(blind)} do not see the index folder {folder.parent}: "
            "building on a cluster needs the index folder on a disk shared by the client and "
            "every worker, at the same path"
        )


def _run_tasks(
    client: Any,
    folder: Path,
    items: Iterator[tuple[Bulletin, str]],
    cluster: Cluster,
    progress: Progress | None,
    options: BuildOptions,
) -> tuple[list[Any], int]:
    """Deal tasks out with a bounded number in flight; every segment in task order, and the
    number of bulletins dealt."""
    import distributed

    tasks = _tasks(items, cluster.task_size)
    done: dict[int, list[Any]] = {}
    sizes: dict[Any, tuple[int, int]] = {}  # future -> (task number, bulletins)
    running = distributed.as_completed(loop=client.loop)
    count = 0

    def submit_next() -> bool:
        nonlocal count
        task = next(tasks, None)
        if task is None:
            return False
        number, chunk = task
        future = client.submit(
            write_task,
            str(folder),
            chunk,
            options,
            key=f"bantin-index-{folder.name}-{number}",
            retries=cluster.retries,
        )
        sizes[future] = (number, len(chunk))
        running.add(future)
        count += len(chunk)
        return True

    try:
        workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
        for _ in range(workers * TASKS_IN_FLIGHT):
            if not submit_next():
                break
        for future in running:
            number, size = sizes.pop(future)
            done[number] = _result(future, number)
            # Dropped at once: a result Dask still holds would be computed again (a fresh
            # segment, an orphan) if the worker keeping it died later in the build.
            future.release()
            if progress:
                progress(size)
            submit_next()
    except BaseException:
        client.cancel(list(sizes))
        raise
    segments = [segment for number in sorted(done) for segment in done[number]]
    written = sum(segment.doc_count_all() for segment in segments)
    if written != count:
        raise ClusterError(f"the cluster's workers wrote {written} bulletins of {count}")
    return segments, count


def _tasks(
    items: Iterator[tuple[Bulletin, str]], size: int
) -> Iterator[tuple[int, list[tuple[Bulletin, str]]]]:
    """Consecutive runs of ``size`` bulletins, numbered: the unit of work and of retry."""
    chunk: list[tuple[Bulletin, str]] = []
    number = 0
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield number, chunk
            number, chunk = number + 1, []
    if chunk:
        yield number, chunk


def _result(future: Any, number: int) -> list[Any]:
    """A task's segments, or ClusterError saying why the task could not be completed."""
    import distributed

    try:
        return future.result()
    except OSError:
        raise  # a full or unwritable shared disk: the command reports it in one line
    except distributed.KilledWorker as error:
        raise ClusterError(
            f"indexing task {number} was lost with every Dask worker that ran it ({error}); "
            "the build was stopped"
        ) from None
    except Exception as error:  # the task's own error, after its retries, or a lost scheduler
        raise ClusterError(
            f"indexing task {number} failed on the cluster: {type(error).__name__}: {error}"
        ) from None


#: One task at a time in a worker process: the segment writer and pyvi keep per-process state
#: (and the GIL would make threads no faster), so a worker with several threads runs them in turn.
_ONE_TASK_AT_A_TIME = threading.Lock()


def write_task(folder: str, chunk: list[tuple[Bulletin, str]], options: BuildOptions) -> list[Any]:
    """Dask task: segment, analyse and write ``chunk`` into new segments of the index in
    ``folder`` (with their side files); returns the segments, for the client to list.

    Idempotent for the build: each run writes segments under fresh random ids and lists
    nothing in the index, so a rerun after a lost worker only leaves unlisted orphans.
    """
    with _ONE_TASK_AT_A_TIME:
        if not whoosh_index.exists_in(folder):
            # The build this task belongs to has ended (failed or cancelled): write nothing.
            raise ClusterError(f"the index folder {folder} is gone")
        ix = whoosh_index.open_dir(folder)
        # Not locked: the client holds the index lock; every writer makes its own segment.
        series = SegmentSeries(ix, limitmb=options.limit_mb, budget_mb=options.segment_mb)
        segmenter = default_segmenter()  # loaded once per worker process, on its first task
        try:
            for batch in batches(iter(chunk), options):
                index_batch(series, segmenter, batch)
            return series.finish()
        except BaseException:
            series.cancel()
            raise
