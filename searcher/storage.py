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

import contextlib
import json
import mmap
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import BufferFile, StructFile

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


# --- reading a generation without copying it -------------------------------------------------


class _View:
    """A read-only, seekable file over a memoryview: reads slice the mapping, nothing is copied
    up front (``io.BytesIO`` over a memoryview copies the whole buffer when created)."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._pos = 0

    def read(self, size: int | None = -1) -> bytes:
        start = self._pos
        end = len(self._view) if size is None or size < 0 else min(start + size, len(self._view))
        self._pos = max(start, end)
        return bytes(self._view[start:end])

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        view, start = self._view, self._pos
        limit = len(view) if size is None or size < 0 else min(start + size, len(view))
        end = start
        while end < limit:
            end += 1
            if view[end - 1] == 10:  # b"\n"
                break
        self._pos = end
        return bytes(view[start:end])

    def seek(self, position: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + position)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        pass  # the view is released by its ViewFile


class _ViewFile(BufferFile):
    """Whoosh's in-memory file over a slice of a mapped file, without BufferFile's copy."""

    def __init__(
        self, view: memoryview, name: str | None = None, mapping: mmap.mmap | None = None
    ) -> None:
        StructFile.__init__(self, _View(view), name=name)  # type: ignore[arg-type]
        self._buf = view
        self._mapping = mapping
        self.is_real = False

    def close(self) -> None:
        super().close()
        if self._mapping is not None:
            # Views still held by readers not yet collected: the GC unmaps it later.
            with contextlib.suppress(BufferError):
                self._mapping.close()

    def subset(self, position: int, length: int, name: str | None = None) -> _ViewFile:
        # A compound segment opens each sub-file as a subset of the whole mapped file.
        return _ViewFile(self._buf[position : position + length], name=name or self._name)


class MappedStorage(FileStorage):
    """A read-only Whoosh storage whose compound segments are memory-mapped, not copied.

    Whoosh's own mmap path wraps every sub-file of a segment (postings, stored fields, term
    index) in ``BufferFile`` → ``BytesIO``, which copies each into anonymous memory at open:
    about 1 GB and 6 s at 95,000 bulletins. Here ``supports_mmap`` is off, so the compound
    storage asks the segment file for subsets, and the segment file hands out views of one
    mapping: pages are read from the page cache on demand and shared with other processes.
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__(str(path), supports_mmap=False, readonly=True)

    def open_file(self, name: str, **kwargs: Any) -> StructFile:
        if not name.endswith(".seg"):
            return super().open_file(name, **kwargs)
        with open(self._fpath(name), "rb") as handle:
            if os.fstat(handle.fileno()).st_size == 0:
                return super().open_file(name, **kwargs)
            mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        return _ViewFile(memoryview(mapping), name=name, mapping=mapping)


def open_whoosh_index(path: str | Path) -> Any:
    """The Whoosh index of one generation folder, opened read-only over mapped segments."""
    return MappedStorage(path).open_index()
