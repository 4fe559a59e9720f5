"""The manifest of a generation: every file with its size and checksum, and how to check them.

``<generation>/manifest.json`` is written when a generation is published, before ``CURRENT``
moves (see :func:`searcher.storage.publish`), and travels with the generation to replicas::

    {"format": 1, "algorithm": "blake2b-256",
     "files": {"_MAIN_1.toc": {"size": 2310, "checksum": "9f…", "stamp": [dev, inode, mtime_ns]},
               "fastpath/weights/stats.json": {...}, ...}}

Checksums are streamed, so a file of any size costs one read. Hashing a whole index at every
publish would make an update cost as much as the index, so :func:`write_manifest` reuses an
entry of the previous generation's manifest for a file whose (device, inode, size, mtime) are
the ones recorded there: generations share unchanged files as hard links and a linked file is
never modified in place (a new version is always a new file), so the same inode with the same
size and mtime holds the same bytes. Only new files are read. The stamp is local to the machine
that wrote the manifest; a replica writes its own after a pull.

Two checks use it. Opening a generation (:func:`check_sizes`) costs one ``stat`` per file, so
that opening stays fast: a missing or resized file is damage, and a fast-path side file
modified since the manifest was written (its mtime moved) is hashed, so garbled arrays — which,
unlike Whoosh's own files, decode to silently wrong answers rather than fail — are caught
without reading the files nobody touched. ``bantin verify`` (:func:`verify_generation`) reads
every byte.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
FORMAT = 1
ALGORITHM = "blake2b-256"
#: The problem of a file with the right size and other bytes (see ``Damage``).
CHECKSUM_DIFFERS = "checksum differs"


@dataclass(frozen=True, slots=True)
class Entry:
    """What one file of a generation must be."""

    size: int
    checksum: str
    #: (device, inode, mtime_ns) when the entry was written, on the machine that wrote it.
    stamp: tuple[int, int, int] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"size": self.size, "checksum": self.checksum}
        if self.stamp is not None:
            data["stamp"] = list(self.stamp)
        return data


@dataclass(frozen=True, slots=True)
class Damage:
    """One file that does not match the manifest, and how."""

    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


class ManifestError(ValueError):
    """A manifest that is missing, unreadable or of another format."""


Manifest = dict[str, Entry]


def checksum(path: Path) -> str:
    """The file's BLAKE2b-256 digest, streamed (never the whole file in memory)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, lambda: hashlib.blake2b(digest_size=32)).hexdigest()


def stamp_of(info: os.stat_result) -> tuple[int, int, int]:
    return info.st_dev, info.st_ino, info.st_mtime_ns


def generation_files(generation_path: Path) -> Iterator[str]:
    """Every file of a generation, as a POSIX path relative to it, the manifest left out."""
    for root, dirs, files in os.walk(generation_path):
        dirs.sort()
        for name in sorted(files):
            relative = Path(root, name).relative_to(generation_path).as_posix()
            if relative != MANIFEST:
                yield relative


def read_manifest(generation_path: Path) -> Manifest:
    """The manifest of a generation, or ManifestError saying why there is none to use."""
    try:
        data = json.loads((Path(generation_path) / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{MANIFEST}: missing") from None
    except (OSError, ValueError) as error:
        raise ManifestError(f"{MANIFEST}: unreadable ({error})") from None
    return parse_manifest(data)


def parse_manifest(data: Any) -> Manifest:
    """Check a decoded manifest's shape: a damaged manifest must not pass for a short one."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ManifestError(f"{MANIFEST}: not a format {FORMAT} manifest")
    if data.get("algorithm") != ALGORITHM or not isinstance(data.get("files"), dict):
        raise ManifestError(f"{MANIFEST}: unknown algorithm or no file list")
    manifest: Manifest = {}
    for path, entry in data["files"].items():
        try:
            stamp = entry.get("stamp")
            manifest[path] = Entry(
                int(entry["size"]), str(entry["checksum"]), tuple(stamp) if stamp else None
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            raise ManifestError(f"{MANIFEST}: bad entry for {path}") from None
        if path.startswith("/") or ".." in path.split("/"):
            raise ManifestError(f"{MANIFEST}: path outside the generation: {path}")
    return manifest


def manifest_json(manifest: Mapping[str, Entry]) -> str:
    files = {path: manifest[path].to_json() for path in sorted(manifest)}
    return json.dumps({"format": FORMAT, "algorithm": ALGORITHM, "files": files}, indent=1)


def write_manifest(generation_path: Path, *known: Mapping[str, Entry]) -> Manifest:
    """Describe every file of a finished generation in its ``manifest.json``.

    ``known`` are manifests whose entries may be reused: the previous generation's, or the one
    a pull has just verified. An entry is reused for a file only when its stamp (device, inode,
    mtime) and size are the file's own, i.e. the very same unmodified file; every other file
    is read and hashed. The manifest is written to a new file and renamed into place.
    """
    generation_path = Path(generation_path)
    manifest: Manifest = {}
    for relative in generation_files(generation_path):
        info = os.stat(generation_path / relative)
        stamp = stamp_of(info)
        reused = _reusable(relative, info.st_size, stamp, known)
        digest = reused if reused is not None else checksum(generation_path / relative)
        manifest[relative] = Entry(info.st_size, digest, stamp)
    staging = generation_path / f".{MANIFEST}.tmp"
    staging.write_text(manifest_json(manifest), encoding="utf-8")
    os.replace(staging, generation_path / MANIFEST)
    return manifest


def _reusable(
    relative: str, size: int, stamp: tuple[int, int, int], known: tuple[Mapping[str, Entry], ...]
) -> str | None:
    for manifest in known:
        entry = manifest.get(relative)
        if entry is not None and entry.stamp == stamp and entry.size == size:
            return entry.checksum
    return None


def verify_generation(
    generation_path: Path,
    manifest: Mapping[str, Entry],
    *,
    trusted: Mapping[str, Entry] | None = None,
) -> list[Damage]:
    """Every file that differs from ``manifest``: missing, resized, other bytes, or extra.

    Reads every byte, except for files that ``trusted`` (this machine's manifest of a verified
    generation) vouches for by their stamp with the same checksum: a pull's hard links to the
    local live generation.
    """
    generation_path = Path(generation_path)
    damaged: list[Damage] = []
    for relative, entry, info in _present(generation_path, manifest, damaged):
        if trusted and _reusable(relative, info.st_size, stamp_of(info), (trusted,)) == (
            entry.checksum
        ):
            continue
        if checksum(generation_path / relative) != entry.checksum:
            damaged.append(Damage(relative, CHECKSUM_DIFFERS))
    for relative in generation_files(generation_path):
        if relative not in manifest:
            damaged.append(Damage(relative, "not in the manifest"))
    return damaged


def check_sizes(
    generation_path: Path, *, hash_touched: Callable[[str], bool] = lambda relative: True
) -> list[Damage]:
    """The cheap check made when a generation opens: one ``stat`` per file of the manifest.

    A missing or resized file is damage. A file for which ``hash_touched`` holds and whose
    mtime is not the one recorded has been written since the manifest was: it alone is hashed.
    A generation without a manifest (built before manifests existed) passes; ``bantin verify``
    reports it.
    """
    generation_path = Path(generation_path)
    try:
        manifest = read_manifest(generation_path)
    except ManifestError as error:
        if not (generation_path / MANIFEST).exists():
            return []
        return [Damage(MANIFEST, str(error).removeprefix(f"{MANIFEST}: "))]
    damaged: list[Damage] = []
    for relative, entry, info in _present(generation_path, manifest, damaged):
        if (
            hash_touched(relative)
            and _touched(info, entry)
            and checksum(generation_path / relative) != entry.checksum
        ):
            damaged.append(Damage(relative, CHECKSUM_DIFFERS))
    return damaged


def _present(
    generation_path: Path, manifest: Mapping[str, Entry], damaged: list[Damage]
) -> Iterator[tuple[str, Entry, os.stat_result]]:
    """The manifest's files that exist with the right size; the others go to ``damaged``."""
    for relative in sorted(manifest):
        entry = manifest[relative]
        try:
            info = os.stat(generation_path / relative)
        except FileNotFoundError:
            damaged.append(Damage(relative, "missing"))
            continue
        if info.st_size != entry.size:
            damaged.append(Damage(relative, f"size {info.st_size}, expected {entry.size}"))
            continue
        yield relative, entry, info


def _touched(info: os.stat_result, entry: Entry) -> bool:
    """Whether the file was written after its entry (copies that keep mtimes are not)."""
    return entry.stamp is None or info.st_mtime_ns != entry.stamp[2]
