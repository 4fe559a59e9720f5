"""``bantin verify``: read every byte of the live generation and compare it with its manifest.

Lives in the searcher so that a replica, which only serves, can check what it serves without
the indexer; opening a generation only makes the cheap checks (see :mod:`searcher.manifest`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from searcher.errors import IndexUnavailableError
from searcher.manifest import Damage, ManifestError, read_manifest, verify_generation
from searcher.storage import GENERATION_PREFIX, live_name, read_current


@dataclass(frozen=True, slots=True)
class Verification:
    """What ``verify_index`` found: the generation checked and every damaged file."""

    index_dir: Path
    generation: str
    files: int
    bytes: int
    damaged: list[Damage] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damaged


def verify_index(index_dir: str | Path) -> Verification:
    """Check every file of the live generation: missing, resized, other bytes, or extra.

    Raises IndexUnavailableError when there is no live generation to check. A generation
    without a usable manifest is reported as damaged (``manifest.json``), never as sound.
    """
    index_dir = Path(index_dir)
    try:
        name = read_current(index_dir).name
    except IndexUnavailableError:
        # A generation whose meta.json is broken is still one to name the damage of.
        name = live_name(index_dir)
        if not (name.startswith(GENERATION_PREFIX) and (index_dir / name).is_dir()):
            raise
    path = index_dir / name
    try:
        manifest = read_manifest(path)
    except ManifestError as error:
        file, _, problem = str(error).partition(": ")
        return Verification(index_dir, name, 0, 0, [Damage(file, problem)])
    damaged = verify_generation(path, manifest)
    total = sum(entry.size for entry in manifest.values())
    return Verification(index_dir, name, len(manifest), total, damaged)
