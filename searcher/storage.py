"""On-disk layout of an index folder, shared by the indexer (writes) and the searcher (reads).

An index folder holds generations; ``CURRENT`` names the live one::

    index_dir/
      CURRENT          the live generation's folder name, replaced atomically
      gen-000007/      a complete Whoosh index plus meta.json
      .tmp-…/          a build in progress (removed by the next build if its writer died)
      .lock            held by the one writer allowed at a time

A rebuild writes a new generation beside the live one and switches ``CURRENT`` with one
``os.replace``, so readers see the old index or the new one, never a half-built one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

from searcher.errors import IndexUnavailableError

CURRENT = "CURRENT"
META = "meta.json"
GENERATION_PREFIX = "gen-"
TEMP_PREFIX = ".tmp-"
LOCK = ".lock"


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


def publish(index_dir: Path, generation_name: str) -> None:
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
