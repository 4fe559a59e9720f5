"""``bantin pull``: make a local index serve the same generation as another index, via rsync.

A read replica is a copy of the source's live generation. The pull reads the source's
``CURRENT`` and that generation's manifest, then fills a new temp generation: a file the local
live generation already has (same path, size and checksum by the two manifests) becomes a hard
link to it, and rsync brings only the others (``--ignore-existing``). Every file is then checked
against the source's manifest (a hard link to a local file already verified is vouched for by
its stamp; everything transferred is hashed) and the generation is published exactly as a
build publishes (writer lock, temp folder, :func:`searcher.storage.publish`). A failed, killed
or damaged transfer never becomes live: it stays in the temp folder, which is removed.
Searchers over the local index notice the new ``CURRENT`` at their next search.

SOURCE is what rsync accepts: an index folder, ``[user@]host:path`` (rsync over ssh, or over
the command in ``RSYNC_RSH``, which rsync itself reads), or ``rsync://host[:port]/module/path``
(an rsync daemon).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from searcher.errors import BantinError, IndexUnavailableError
from searcher.manifest import (
    MANIFEST,
    Entry,
    Manifest,
    ManifestError,
    checksum,
    manifest_json,
    parse_manifest,
    read_manifest,
    stamp_of,
    verify_generation,
)
from searcher.schema import SCHEMA_VERSION
from searcher.storage import (
    CURRENT,
    GENERATION_PREFIX,
    META,
    new_generation,
    publish,
    read_current,
)


class PullError(BantinError):
    """The pull failed; the local index is unchanged."""


@dataclass(frozen=True, slots=True)
class Source:
    """Where to pull from, in rsync's own syntax (no trailing slash)."""

    location: str
    kind: str  # "folder", "ssh" or "daemon"

    def path(self, relative: str) -> str:
        return f"{self.location}/{relative}"


def parse_source(source: str | os.PathLike[str]) -> Source:
    """Tell an rsync daemon URL, ``host:path`` and a local folder apart, as rsync does:
    a colon before the first slash means a remote host (a ``Path`` is always a folder)."""
    text = os.fspath(source).strip()
    if not text:
        raise PullError("the source is empty: give an index folder, host:path or rsync://…")
    if text.startswith("rsync://"):
        return Source(text.rstrip("/"), "daemon")
    head = text.split("/", 1)[0]
    if ":" in head and isinstance(source, str):
        host, _, path = text.partition(":")
        return Source(f"{host}:{path.rstrip('/') or '.'}", "ssh")
    folder = Path(text).resolve()
    if not folder.is_dir():
        raise PullError(f"no index folder at {text}")
    return Source(str(folder), "folder")


@dataclass(slots=True)
class PullReport:
    """What a pull did."""

    index_dir: Path
    source: str
    source_generation: str
    #: The local generation now live; None when the index already served the source's.
    generation: str | None = None
    files: int = 0
    #: Files hard-linked from the local live generation rather than transferred.
    linked: int = 0
    bytes_copied: int = 0
    seconds: float = 0.0


def pull(
    source: str | os.PathLike[str],
    index_dir: str | Path,
    *,
    rsync: str = "rsync",
    timeout: float = 3600.0,
) -> PullReport:
    """Make ``index_dir`` serve the source's live generation; see the module docstring.

    ``rsync`` is the command to run (a path, for tests); ``timeout`` bounds each rsync run.
    Raises PullError (local index unchanged) or IndexLockedError (another writer is busy).
    """
    index_dir = Path(index_dir)
    started = time.perf_counter()
    origin = parse_source(source)
    runner = _Rsync(rsync, timeout)
    with tempfile.TemporaryDirectory(prefix="bantin-pull-") as scratch:
        name, manifest, meta = _read_source(origin, runner, Path(scratch))
    report = PullReport(index_dir, os.fspath(source), name)
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise PullError(
            f"{source} has schema version {meta.get('schema_version')}, this bantin needs "
            f"{SCHEMA_VERSION}: upgrade bantin here or rebuild the source"
        )
    wanted = {path: entry for path, entry in manifest.items() if path != META}  # publish writes it
    with new_generation(index_dir) as temp:
        live_path, local = _local_live(index_dir)
        if local is not None and _same_generation(local, manifest, live_path, meta):
            report.seconds = time.perf_counter() - started
            return report
        linked = _link_known_files(temp, live_path, local, wanted)
        # Only what is not linked crosses; the whole folder rather than --files-from, which
        # rsync daemons without chroot mishandle (a file the manifest lacks fails below).
        runner.run(
            "--recursive",
            "--ignore-existing",
            f"--exclude=/{META}",
            f"--exclude=/{MANIFEST}",
            origin.path(f"{name}/"),
            f"{temp}/",
        )
        damaged = verify_generation(temp, wanted, trusted=local)
        if damaged:
            listed = ", ".join(str(d) for d in damaged[:5])
            more = f" and {len(damaged) - 5} more" if len(damaged) > 5 else ""
            raise PullError(
                f"the copy of {name} from {source} does not match its manifest "
                f"({listed}{more}); nothing was published"
            )
        _write_verified_manifest(temp, wanted)
        report.files = len(manifest)
        report.linked = len(linked)
        report.bytes_copied = sum(e.size for p, e in wanted.items() if p not in linked)
        report.generation = publish(index_dir, temp, meta)
    report.seconds = time.perf_counter() - started
    return report


class _Rsync:
    """Runs rsync and turns its failures into one-line PullErrors."""

    def __init__(self, command: str, timeout: float) -> None:
        self.command = command
        self.timeout = timeout

    def run(self, *arguments: str) -> None:
        argv = [self.command, "--no-motd", "--quiet", *arguments]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except FileNotFoundError:
            raise PullError(
                f"`{self.command}` was not found: install rsync (Debian: apt-get install rsync)"
            ) from None
        except subprocess.TimeoutExpired:
            raise PullError(
                f"rsync took more than {self.timeout:.0f} s; nothing was published"
            ) from None
        if done.returncode < 0:
            raise PullError(f"rsync was killed by signal {-done.returncode}; nothing was published")
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            why = lines[0] if lines else "no message"
            raise PullError(f"rsync failed (exit {done.returncode}: {why}); nothing was published")


def _read_source(origin: Source, runner: _Rsync, scratch: Path) -> tuple[str, Manifest, dict]:
    """The source's live generation name, its manifest, and its (verified) metadata."""
    runner.run(origin.path(CURRENT), str(scratch / CURRENT))
    name = (scratch / CURRENT).read_text(encoding="utf-8", errors="replace").strip()
    if not name.startswith(GENERATION_PREFIX) or "/" in name:
        raise PullError(f"{origin.location} has no valid {CURRENT} (is it a bantin index?)")
    runner.run(origin.path(f"{name}/{MANIFEST}"), origin.path(f"{name}/{META}"), f"{scratch}/")
    try:
        manifest = parse_manifest(json.loads((scratch / MANIFEST).read_bytes()))
    except (ValueError, ManifestError) as error:
        raise PullError(f"{origin.location}/{name} has no usable manifest ({error})") from None
    entry = manifest.get(META)
    if entry is None or checksum(scratch / META) != entry.checksum:
        raise PullError(f"{origin.location}/{name}/{META} does not match its manifest")
    return name, manifest, json.loads((scratch / META).read_text(encoding="utf-8"))


def _local_live(index_dir: Path) -> tuple[Path | None, Manifest | None]:
    """The local live generation's folder and manifest, when there are."""
    try:
        live = read_current(index_dir)
    except IndexUnavailableError:
        return None, None
    try:
        return live.path.resolve(), read_manifest(live.path)
    except ManifestError:
        return live.path.resolve(), None


def _same_generation(local: Manifest, source: Manifest, live_path: Path | None, meta: dict) -> bool:
    """Whether the local live generation already holds the source's files and metadata
    (``meta.json`` is rewritten at publish, so it is compared as data, not bytes)."""
    if live_path is None or set(local) != set(source):
        return False
    try:
        local_meta = json.loads((live_path / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return local_meta == meta and all(
        (local[p].size, local[p].checksum) == (source[p].size, source[p].checksum)
        for p in source
        if p != META
    )


def _write_verified_manifest(temp: Path, verified: Manifest) -> None:
    """Record the checksums just verified with this machine's stamps, so that ``publish``
    reuses them instead of hashing every file a second time."""
    local: Manifest = {}
    for path, entry in verified.items():
        local[path] = Entry(entry.size, entry.checksum, stamp_of((temp / path).stat()))
    (temp / MANIFEST).write_text(manifest_json(local), encoding="utf-8")


def _link_known_files(
    temp: Path, live_path: Path | None, local: Manifest | None, wanted: Manifest
) -> set[str]:
    """Hard-link into ``temp`` every file of the local live generation that the source's
    manifest wants with the same size and checksum, and that is still the very file the local
    manifest describes (same stamp). Exact, unlike rsync's ``--link-dest``, whose quick check
    (size and mtime to the second) takes two builds' same-sized files of one second for one."""
    linked: set[str] = set()
    if live_path is None or local is None:
        return linked
    for path, entry in wanted.items():
        mine = local.get(path)
        if mine is None or (mine.size, mine.checksum) != (entry.size, entry.checksum):
            continue
        try:
            info = (live_path / path).stat()
        except OSError:
            continue
        if (info.st_size, stamp_of(info)) == (mine.size, mine.stamp):
            (temp / path).parent.mkdir(parents=True, exist_ok=True)
            os.link(live_path / path, temp / path)
            linked.add(path)
    return linked
