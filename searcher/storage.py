"""The index-folder protocol, shared by the indexer (writes) and the searcher (reads).

An index folder holds generations; ``CURRENT`` names the live one::

    index_dir/
      CURRENT          the live generation's folder name, replaced atomically
      gen-000007/      a complete Whoosh index plus meta.json
      .tmp-…/          a build in progress (removed by the next build if its writer died)
      .lock            held by the one writer allowed at a time

A rebuild writes a new generation beside the live one and switches ``CURRENT`` with one
``os.replace``, so readers see the old index or the new one, never a half-built one. This
module is the one place that knows the layout: the writer lock, the temp folder of a build,
publishing, and removing generations no reader needs any more.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

from searcher.errors import IndexLockedError, IndexUnavailableError
from searcher.manifest import Manifest, ManifestError, read_manifest, write_manifest

CURRENT = "CURRENT"
META = "meta.json"
GENERATION_PREFIX = "gen-"
TEMP_PREFIX = ".tmp-"
LOCK = ".lock"
#: The name of the Whoosh index inside a generation (Whoosh's default).
WHOOSH_INDEX = "MAIN"
#: Generations kept after a publish: the live one and the one before (for readers mid-switch).
KEEP_GENERATIONS = 2


def default_index_dir() -> Path:
    """The per-user data folder used when no index location is given."""
    return Path(user_data_dir("bantin", appauthor=False)) / "index"


@dataclass(frozen=True, slots=True)
class Generation:
    """One complete index generation on disk."""

    name: str
    path: Path
    meta: dict[str, Any]
    #: Identity of the CURRENT pointer when it was read: changes whenever it is replaced.
    stamp: tuple[int, int]


def current_stamp(index_dir: Path) -> tuple[int, int] | None:
    """A cheap fingerprint of the CURRENT pointer (inode, mtime), None when absent."""
    try:
        info = os.stat(index_dir / CURRENT)
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns


def read_current(index_dir: Path) -> Generation:
    """The live generation, or IndexUnavailableError saying what is wrong and how to fix it."""
    index_dir = Path(index_dir)
    hint = f"run `bantin index --index {index_dir}` to build it"
    stamp = current_stamp(index_dir)
    if stamp is None:
        raise IndexUnavailableError(f"no index at {index_dir}: {hint}")
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise IndexUnavailableError(
            f"index at {index_dir} is unreadable ({error}): {hint}"
        ) from None
    path = index_dir / name
    if not name.startswith(GENERATION_PREFIX) or "/" in name or not path.is_dir():
        raise IndexUnavailableError(f"index at {index_dir} is damaged (bad CURRENT): {hint}")
    try:
        meta = json.loads((path / META).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise IndexUnavailableError(f"index at {index_dir} is damaged ({error}): {hint}") from None
    return Generation(name=name, path=path, meta=meta, stamp=stamp)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    """Flush every file of a finished generation to disk before it becomes live."""
    for root, _dirs, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(root))


def _publish_pointer(index_dir: Path, generation_name: str) -> None:
    """Make ``generation_name`` live with one atomic rename of the CURRENT pointer."""
    pointer = index_dir / f"{CURRENT}.{os.getpid()}.tmp"
    with open(pointer, "w", encoding="utf-8") as handle:
        handle.write(generation_name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pointer, index_dir / CURRENT)
    _fsync_dir(index_dir)


def generation_names(index_dir: Path) -> list[str]:
    """Generation folders present, oldest first."""
    if not index_dir.is_dir():
        return []
    return sorted(
        entry.name
        for entry in index_dir.iterdir()
        if entry.name.startswith(GENERATION_PREFIX) and entry.is_dir()
    )


def next_generation_name(index_dir: Path) -> str:
    """A generation name greater than every existing one."""
    names = generation_names(index_dir)
    number = int(names[-1].removeprefix(GENERATION_PREFIX)) + 1 if names else 1
    return f"{GENERATION_PREFIX}{number:06d}"


# --- writing: one writer, a temp folder, publish, cleanup ------------------------------------


@contextlib.contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
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


@contextlib.contextmanager
def new_generation(index_dir: Path) -> Iterator[Path]:
    """Hold the writer lock and a fresh temp folder for a new generation; the folder is gone
    afterwards, published (see ``publish``) or not."""
    with writer_lock(index_dir):
        temp = _fresh_temp_dir(index_dir)
        try:
            yield temp
        finally:
            shutil.rmtree(temp, ignore_errors=True)


def share_generation(source: Path, temp: Path) -> int:
    """Fill a new generation's ``temp`` folder with hard links to the files of ``source``
    (the live generation) that a new generation reuses as they are; returns how many.

    Generations sit side by side in the index folder, so a link costs no copy and no disk
    space. Shared are Whoosh's own files (segments never change once written; the table of
    contents is replaced by a new one under a new name on commit) and everything in
    sub-folders (side files, replaced by renaming, never written into). Not shared are the
    other top-level files, such as ``meta.json``: :func:`publish` writes those into each
    generation afresh, and writing into a link would change the live generation too.
    """
    from whoosh.index import TOC

    whoosh_file = re.compile(
        f"{TOC._pattern(WHOOSH_INDEX).pattern}|{TOC._segment_pattern(WHOOSH_INDEX).pattern}"
    )
    linked = 0
    for root, dirs, files in os.walk(source):
        relative = Path(root).relative_to(source)
        dirs[:] = [name for name in dirs if not name.startswith(".")]  # no staging debris
        (temp / relative).mkdir(exist_ok=True)
        for name in files:
            if relative == Path(".") and not whoosh_file.fullmatch(name):
                continue
            if name.startswith("."):
                continue
            os.link(Path(root) / name, temp / relative / name)
            linked += 1
    return linked


def _fresh_temp_dir(index_dir: Path) -> Path:
    """A new temp folder; leftovers of dead builds are removed (we hold the writer lock)."""
    for entry in index_dir.iterdir():
        if entry.name.startswith(TEMP_PREFIX):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(f"{CURRENT}.") and entry.name.endswith(".tmp"):
            entry.unlink(missing_ok=True)
    temp = index_dir / f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}"
    temp.mkdir()
    return temp


def publish(index_dir: Path, temp: Path, meta: dict[str, Any]) -> str:
    """Make the finished build in ``temp`` the live generation; returns its name.

    Writes ``meta.json`` and the manifest (sizes and checksums of every file, see
    :mod:`searcher.manifest`), flushes every file, renames the folder to the next ``gen-N``,
    switches ``CURRENT`` and removes generations older than the last ``KEEP_GENERATIONS``.
    """
    (temp / META).unlink(missing_ok=True)  # may be a hard link shared with a live generation
    (temp / META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    write_manifest(temp, *_known_manifests(index_dir, temp))
    fsync_tree(temp)
    name = next_generation_name(index_dir)
    os.rename(temp, index_dir / name)
    _publish_pointer(index_dir, name)
    for old in generation_names(index_dir)[:-KEEP_GENERATIONS]:
        if old != name:
            shutil.rmtree(index_dir / old, ignore_errors=True)
    return name


def _known_manifests(index_dir: Path, temp: Path) -> list[Manifest]:
    """Manifests whose entries a publish may reuse: one already in ``temp`` (a verified pull)
    and the live generation's (files an update hard-linked from it)."""
    live = live_name(index_dir)
    known = []
    for folder in (temp, index_dir / live) if live else (temp,):
        with contextlib.suppress(ManifestError):
            known.append(read_manifest(folder))
    return known


def live_name(index_dir: Path) -> str:
    """What ``CURRENT`` names, unchecked ("" when unreadable): for tools that must look at a
    generation too damaged for ``read_current``."""
    try:
        return (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""
