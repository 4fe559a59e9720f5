"""Writing a generation's language model beside it when it is published.

Layout of ``<generation>/lm/``: ``segments/<id>/`` the counts of one Whoosh segment's
bulletins when it was counted, ``removed/<id>/`` the counts of its bulletins deleted since,
``model/`` the sum the searcher memory-maps, and ``delta/`` what changed since that sum
(signed counts, added at lookup: :class:`searcher.lm_counts.LayeredCounts`).

Every folder is written once and replaced by renaming, never written into, so a new
generation shares them all with the previous one by hard links (``share_generation``). An
update therefore writes only what its change touches: the counts of its new segment, those of
the bulletins it deleted (recounted from their stored text, which Whoosh keeps until the
segment is merged away) and a new delta. The model itself is rewritten only when the delta has
grown past :data:`FOLD_FRACTION` of it, so its size is paid once per many updates rather than
by each. Counts are exact: model plus delta equals what a rebuild counts.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from searcher.lm_counts import DELTA, LM_DIR, MODEL, REMOVED, SEGMENTS, Counts, read_meta
from searcher.lm_text import count_texts

#: The delta is folded into a new model once it holds this fraction of the model's rows.
FOLD_FRACTION = 0.1

#: Per segment, [documents, deletions counted]: what the model's meta records.
State = dict[str, list[int]]
Change = list[tuple[Counts, int]]


def _bulletin_text(stored: dict) -> str:
    """Title, body and photo captions: a caption is text people search for and type."""
    return f"{stored.get('title', '')}\n{stored.get('body', '')}\n{stored.get('captions') or ''}"


def write_language_model(generation_path: str | os.PathLike[str]) -> str | None:
    """Bring a finished generation's model up to date; returns why not, or None.

    Optional like the fast path: a failure removes the model and the searcher falls back to
    the vocabulary restorer, never failing the build.
    """
    root = Path(generation_path) / LM_DIR
    try:
        _write(Path(generation_path), root)
    except Exception as error:  # an optional file must never fail the build
        shutil.rmtree(root, ignore_errors=True)
        return f"language model not written ({type(error).__name__}: {error})"
    return None


def _write(generation_path: Path, root: Path) -> None:
    from whoosh import index as whoosh_index

    state: State = {}
    before: State = {}  # each surviving segment as the previous model counted it
    change: Change = []
    ix = whoosh_index.open_dir(str(generation_path))
    try:
        with ix.reader() as reader:
            leaves = [reader] if reader.is_atomic() else [leaf for leaf, _ in reader.leaf_readers()]
            for leaf in leaves:
                segment_id = leaf.segment().segment_id()
                deleted = _deleted(leaf)
                state[segment_id] = [leaf.doc_count_all(), len(deleted)]
                was = _update_segment(root, segment_id, leaf, deleted, change)
                if was is not None:
                    before[segment_id] = was
    finally:
        ix.close()
    _forget_segments(root, state, before, change)
    _write_model(root, state, before, change)


def _deleted(leaf: object) -> list[int]:
    """The segment's deleted document numbers (Whoosh keeps their stored fields)."""
    if not leaf.has_deletions():  # type: ignore[attr-defined]
        return []
    return [d for d in range(leaf.doc_count_all()) if leaf.is_deleted(d)]  # type: ignore[attr-defined]


def _counted(root: Path, segment_id: str) -> tuple[int, list[int]] | None:
    """A counted segment's (documents, deletions already subtracted), or None if uncounted."""
    meta = read_meta(root / SEGMENTS / segment_id)
    if meta is None:
        return None
    removed = read_meta(root / REMOVED / segment_id)
    if removed is not None and removed.get("doc_count") == meta["doc_count"]:
        return meta["doc_count"], removed["deleted"]
    if (root / REMOVED / segment_id).exists():
        return None  # unreadable: recount the segment
    return meta["doc_count"], meta["deleted"]


def _update_segment(
    root: Path, segment_id: str, leaf: object, deleted: list[int], change: Change
) -> list[int] | None:
    """Count a new segment, or the bulletins deleted from it since it was counted; the
    difference goes into ``change``. Returns the segment's state before, None if new."""
    doc_count = leaf.doc_count_all()  # type: ignore[attr-defined]
    counted = _counted(root, segment_id)
    if counted is not None and counted[0] == doc_count:
        already = set(counted[1])
        was = [doc_count, len(already)]
        if already == set(deleted):
            return was
        if already <= set(deleted):  # Whoosh never undeletes: anything else is recounted
            newly = sorted(set(deleted) - already)
            removed = count_texts(_bulletin_text(leaf.stored_fields(d)) for d in newly)  # type: ignore[attr-defined]
            folder = root / REMOVED / segment_id
            parts = [(Counts.load(folder, mmap=False), 1)] if read_meta(folder) else []
            Counts.summed([*parts, (removed, 1)]).save(
                folder, {"doc_count": doc_count, "deleted": deleted}
            )
            change.append((removed, -1))
            return was
    shutil.rmtree(root / REMOVED / segment_id, ignore_errors=True)
    skip = set(deleted)
    texts = (
        _bulletin_text(leaf.stored_fields(d))  # type: ignore[attr-defined]
        for d in range(doc_count)
        if d not in skip
    )
    counts = count_texts(texts)
    counts.save(root / SEGMENTS / segment_id, {"doc_count": doc_count, "deleted": deleted})
    change.append((counts, 1))
    return None


def _live(root: Path, segment_id: str) -> Change:
    """A counted segment's live counts as signed parts."""
    parts = [(Counts.load(root / SEGMENTS / segment_id, mmap=False), 1)]
    if read_meta(root / REMOVED / segment_id) is not None:
        parts.append((Counts.load(root / REMOVED / segment_id, mmap=False), -1))
    return parts


def _forget_segments(root: Path, state: State, before: State, change: Change) -> None:
    """Subtract and remove the segments Whoosh merged away."""
    for folder in (root / SEGMENTS, root / REMOVED):
        folder.mkdir(parents=True, exist_ok=True)
    for entry in list((root / SEGMENTS).iterdir()):
        if entry.name in state or entry.name.startswith("."):
            continue
        counted = _counted(root, entry.name)
        if counted is not None:
            before[entry.name] = [counted[0], len(counted[1])]
            change.extend((counts, -sign) for counts, sign in _live(root, entry.name))
        shutil.rmtree(entry, ignore_errors=True)
    for entry in list((root / REMOVED).iterdir()):
        if entry.name not in state:
            shutil.rmtree(entry, ignore_errors=True)


def _write_model(root: Path, state: State, before: State, change: Change) -> None:
    """Add ``change`` to the delta when the model on disk is the one ``before`` describes;
    otherwise (no model yet, or an older one) sum the segments afresh."""
    meta = read_meta(root / MODEL)
    delta_meta = read_meta(root / DELTA)
    if meta is not None and delta_meta is not None and delta_meta.get("base") != meta.get("id"):
        delta_meta = None
        meta = None
    if meta is not None and (root / DELTA).exists() and delta_meta is None:
        meta = None  # an unreadable delta: the model alone is not what it claims
    previous = (delta_meta or meta or {}).get("segments")
    if meta is None or previous != before:
        parts = [part for segment_id in sorted(state) for part in _live(root, segment_id)]
        _save_model(root, Counts.summed(parts), state)
        return
    if previous == state and not change:
        return
    parts = [(Counts.load(root / DELTA, mmap=False), 1)] if delta_meta is not None else []
    delta = Counts.summed([*parts, *change])
    base = Counts.load(root / MODEL)  # memory-mapped: its size decides, its arrays fold in
    if delta.size > FOLD_FRACTION * base.size:
        _save_model(root, Counts.summed([(base, 1), (delta, 1)]), state)
        return
    delta.save(root / DELTA, {"segments": state, "base": meta["id"]})


def _save_model(root: Path, counts: Counts, state: State) -> None:
    counts.save(root / MODEL, {"segments": state, "id": uuid.uuid4().hex})
    shutil.rmtree(root / DELTA, ignore_errors=True)
