"""From bulletin files to Whoosh field values: reading, batching, segmenting, fields.

Shared by the serial and the parallel writers (:mod:`index.build`, :mod:`index.workers`), so
both index a bulletin the same way whichever process does it.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.bulletin import Bulletin, Skipped
from index.readers import bulletin_files, read_file
from searcher.analysis import PresegmentedText, default_segmenter, segmenter_input
from searcher.schema import CAPTION_SEPARATOR

#: Texts segmented per bulletin, in this order: title, body, captions.
TEXTS_PER_BULLETIN = 3


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """How a build batches and buffers; the defaults suit every corpus, tests pass small ones."""

    #: Bulletins segmented per batch: large enough to amortise a call, small for bounded memory.
    batch_size: int = 64
    #: ...and at most about this many characters (a few real bulletins of the longest kind).
    batch_chars: int = 1_000_000
    #: Batches queued for each worker process: keeps it busy while bounding memory.
    batches_in_flight: int = 2
    #: Posting buffer of each Whoosh writer (MB) before it spills a sorted run to disk.
    limit_mb: int = 512
    #: Posting buffer (estimated MB) at which a writer closes its segment and starts another:
    #: bounds each writer's memory; see SegmentSeries for the trade-off with the segment count.
    segment_mb: float = 400


#: The options of a build that is given none.
DEFAULT_BUILD = BuildOptions()


def first_of_each_id(
    items: Iterator[tuple[Bulletin, str]], skipped: list[Skipped]
) -> Iterator[tuple[Bulletin, str]]:
    """The bulletins with an id not seen before; later duplicates go into ``skipped``."""
    seen: set[str] = set()
    for bulletin, source_path in items:
        if bulletin.id in seen:
            skipped.append(Skipped(source_path, f"duplicate id “{bulletin.id}” (kept the first)"))
            continue
        seen.add(bulletin.id)
        yield bulletin, source_path


def read_bulletins(
    paths: Iterable[str | os.PathLike[str]],
    skipped: list[Skipped],
    unchanged: Callable[[str], bool] | None = None,
) -> Iterator[tuple[Bulletin, str]]:
    """Bulletins with the resolved file they came from; what is skipped goes into ``skipped``.

    Files for which ``unchanged(resolved path)`` is true are not read (an update knows what
    they hold).
    """
    for path in bulletin_files(paths):
        if isinstance(path, Skipped):
            skipped.append(path)
            continue
        source_path = os.path.realpath(path)
        if unchanged is not None and unchanged(source_path):
            continue
        try:
            for item in read_file(path):
                if isinstance(item, Skipped):
                    skipped.append(item)
                else:
                    yield item, source_path
        except OSError as error:
            skipped.append(Skipped(path, f"cannot read: {error.strerror or error}"))


def segmented(
    items: Iterator[tuple[Bulletin, str]], jobs: int, options: BuildOptions
) -> Iterator[tuple[WithSegmentation, str]]:
    """Attach pyvi segmentations of title and body, batch by batch (in workers if jobs > 1)."""
    cut = batches(items, options)
    if jobs <= 1:
        segmenter = default_segmenter()
        for batch in cut:
            yield from attach_segmentations(batch, segmenter.segment_many(segmenter_texts(batch)))
        return
    context = multiprocessing.get_context("forkserver")
    with context.Pool(jobs) as pool:
        pending = ((batch, segmenter_texts(batch)) for batch in cut)
        for batch, segmentations in _ordered_map(pool, pending, in_flight=4 * jobs):
            yield from attach_segmentations(batch, segmentations)


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


def segmenter_texts(batch: list[tuple[Bulletin, str]]) -> list[str]:
    texts: list[str] = []
    for bulletin, _ in batch:
        texts.append(segmenter_input(bulletin.title))
        texts.append(segmenter_input(bulletin.body))
        texts.append(segmenter_input(captions_text(bulletin)))
    return texts


def captions_text(bulletin: Bulletin) -> str:
    """The stored and indexed value of the captions field: one caption a line."""
    return CAPTION_SEPARATOR.join(bulletin.captions)


def attach_segmentations(
    batch: list[tuple[Bulletin, str]], segmentations: list[Any]
) -> Iterator[Any]:
    n = TEXTS_PER_BULLETIN
    for i, (bulletin, source_path) in enumerate(batch):
        yield WithSegmentation(bulletin, *segmentations[n * i : n * i + n]), source_path


@dataclass(frozen=True, slots=True)
class WithSegmentation:
    """A bulletin with pyvi's segmentations of its title and body, ready for Whoosh."""

    bulletin: Bulletin
    title_segmentation: Any
    body_segmentation: Any
    captions_segmentation: Any = None

    @property
    def id(self) -> str:
        return self.bulletin.id


def batches(items: Iterator[Any], options: BuildOptions) -> Iterator[list[Any]]:
    """Batches of ``options.batch_size`` bulletins, cut earlier at ``options.batch_chars``
    characters of text.

    Segmentation and analysis hold a batch's tokens in memory, so a batch of huge bulletins
    must be short for memory to stay bounded.
    """
    batch: list[Any] = []
    chars = 0
    for item in items:
        batch.append(item)
        bulletin = item[0]
        chars += len(bulletin.title) + len(bulletin.body) + sum(map(len, bulletin.captions))
        if len(batch) == options.batch_size or chars >= options.batch_chars:
            yield batch
            batch = []
            chars = 0
    if batch:
        yield batch


def whoosh_fields(item: WithSegmentation, source_path: str) -> dict[str, Any]:
    """Whoosh field values; text fields carry their segmentation, stored values stay plain."""
    bulletin = item.bulletin
    metadata = _metadata(bulletin, source_path)
    captions_value = captions_text(bulletin)
    title = PresegmentedText(bulletin.title, item.title_segmentation)
    body = PresegmentedText(bulletin.body, item.body_segmentation)
    captions = PresegmentedText(captions_value, item.captions_segmentation)
    return {
        **metadata,
        "title": title,
        "title_folded": title,
        "body": body,
        "body_folded": body,
        "_stored_title": bulletin.title,
        "_stored_body": bulletin.body,
        "captions": captions,
        "captions_folded": captions,
        "_stored_captions": captions_value,
        "content_hash": _hash(bulletin, metadata),
    }


def _metadata(bulletin: Bulletin, source_path: str) -> dict[str, Any]:
    """A bulletin's stored and facet fields besides its text."""
    date = bulletin.date.isoformat() if bulletin.date else ""
    return {
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


def content_hash(bulletin: Bulletin, source_path: str) -> str:
    """The hash :func:`whoosh_fields` stores for a bulletin, without segmenting it: an update
    compares it first and segments only what changed."""
    return _hash(bulletin, _metadata(bulletin, source_path))


def _hash(bulletin: Bulletin, metadata: dict[str, Any]) -> str:
    texts = [bulletin.title, bulletin.body, metadata]
    if bulletin.captions:  # a bulletin without captions keeps its hash
        texts.append(list(bulletin.captions))
    content = json.dumps(texts, ensure_ascii=False)
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _public_source(source: str | None, source_path: str) -> str | None:
    """The source shown to users: a file's name (never a server path), or a given source."""
    if not source:
        return None
    path_part, _, line = source.rpartition(":") if ":" in source else (source, "", "")
    candidate = Path(path_part or source)
    if str(candidate.resolve()) == source_path or candidate.name == Path(source_path).name:
        return candidate.name + (f":{line}" if path_part and line.isdigit() else "")
    return source
