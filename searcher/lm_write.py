"""Writing a generation's language model beside it when it is published.

Layout: ``<generation>/lm/segments/<segment id>/`` holds the counts of one Whoosh segment's live
bulletins and ``<generation>/lm/model/`` their sum, which the searcher memory-maps. A segment
never changes once written; when an update deletes bulletins from it, their counts are
subtracted (recounted from their stored text, which Whoosh keeps until the segment is merged
away); a segment made by an update or a merge is counted from its own bulletins. The model is
the sum of the segment counts: an update recounts only new bulletins and deleted ones, then
adds arrays. Kept apart from the query-time model so that the searcher never imports Whoosh's
writing side and the publish hook never imports the decoder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from searcher.lm_counts import LM_DIR, MODEL, SEGMENTS, Counts, read_meta
from searcher.lm_text import count_texts


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

    segments_dir = root / SEGMENTS
    segments_dir.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.open_dir(str(generation_path))
    state: dict[str, list[int]] = {}
    try:
        with ix.reader() as reader:
            leaves = [reader] if reader.is_atomic() else [leaf for leaf, _ in reader.leaf_readers()]
            for leaf in leaves:
                segment_id = leaf.segment().segment_id()
                deleted = _deleted(leaf)
                state[segment_id] = [leaf.doc_count_all(), len(deleted)]
                _update_segment(segments_dir / segment_id, leaf, deleted)
    finally:
        ix.close()
    for entry in segments_dir.iterdir():
        if entry.name not in state:
            shutil.rmtree(entry, ignore_errors=True)
    model = root / MODEL
    meta = read_meta(model)
    if meta is not None and meta.get("segments") == state:
        return
    parts = [(Counts.load(segments_dir / sid, mmap=False), 1) for sid in sorted(state)]
    Counts.summed(parts).save(model, {"segments": state})


def _deleted(leaf: object) -> list[int]:
    """The segment's deleted document numbers (Whoosh keeps their stored fields)."""
    if not leaf.has_deletions():  # type: ignore[attr-defined]
        return []
    return [d for d in range(leaf.doc_count_all()) if leaf.is_deleted(d)]  # type: ignore[attr-defined]


def _update_segment(folder: Path, leaf: object, deleted: list[int]) -> None:
    """Count a new segment's live bulletins, or subtract those deleted since it was counted."""
    meta = read_meta(folder)
    doc_count = leaf.doc_count_all()  # type: ignore[attr-defined]
    if meta is not None and meta.get("doc_count") == doc_count:
        counted = set(meta.get("deleted", []))
        if counted == set(deleted):
            return
        if counted <= set(deleted):
            newly = [d for d in deleted if d not in counted]
            removed = count_texts(_bulletin_text(leaf.stored_fields(d)) for d in newly)  # type: ignore[attr-defined]
            current = Counts.load(folder, mmap=False)
            Counts.summed([(current, 1), (removed, -1)]).save(
                folder, {"doc_count": doc_count, "deleted": deleted}
            )
            return
    skip = set(deleted)
    texts = (
        _bulletin_text(leaf.stored_fields(d))  # type: ignore[attr-defined]
        for d in range(doc_count)
        if d not in skip
    )
    count_texts(texts).save(folder, {"doc_count": doc_count, "deleted": deleted})
