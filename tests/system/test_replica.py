"""Manifests, `bantin verify` and `bantin pull`, for real: rsync from a folder, from an rsync
daemon on loopback, and over a remote shell.

No sshd runs unprivileged here, so ``host:path`` goes through rsync's remote-shell protocol with
``RSYNC_RSH`` set to a stand-in for ssh that runs the remote half on this machine: everything but
the ssh connection itself is exercised.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from index import build_index, update_index
from index.cli import main as cli_main
from index.replica import PullError, parse_source, pull
from searcher import Searcher
from searcher.manifest import MANIFEST, read_manifest, verify_generation, write_manifest
from searcher.storage import CURRENT, TEMP_PREFIX, new_generation, publish, read_current

pytestmark = pytest.mark.skipif(shutil.which("rsync") is None, reason="rsync is not installed")

QUERY = "cải cách hành chính"


def bulletins(tag: str, n: int) -> list[dict]:
    return [
        {
            "id": f"{tag}-{i:04d}",
            "title": f"Thông báo {i} về cải cách hành chính",
            "body": f"Ủy ban nhân dân huyện họp bàn công tác cải cách hành chính lần {i}.",
            "date": f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "province": "Đồng Tháp",
            "locality": "Thành phố Sa Đéc",
        }
        for i in range(n)
    ]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two indexes answering QUERY with 12 and 20 hits, and the bulletin files behind them."""
    root = tmp_path_factory.mktemp("replica-sources")
    a = write_jsonl(root / "a.jsonl", bulletins("a", 12))
    more = write_jsonl(root / "more.jsonl", bulletins("m", 8))
    build_index([a], root / "index_a")
    build_index([a, more], root / "index_b")
    return {"a": a, "more": more, "index_a": root / "index_a", "index_b": root / "index_b"}


@pytest.fixture
def source(tmp_path: Path, sources: dict[str, Path]) -> Path:
    """A source index of its own (generation A), free to change."""
    shutil.copytree(sources["index_a"], tmp_path / "source")
    return tmp_path / "source"


def total(index_dir: Path) -> int:
    with Searcher(index_dir) as searcher:
        return searcher.search(QUERY).total


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_main, list(args))
    return result.exit_code, result.output


# --- the manifest --------------------------------------------------------------------------


def test_every_generation_carries_a_manifest_of_all_its_files(source: Path) -> None:
    live = read_current(source)
    manifest = read_manifest(live.path)
    on_disk = {p.relative_to(live.path).as_posix() for p in live.path.rglob("*") if p.is_file()} - {
        MANIFEST
    }
    assert set(manifest) == on_disk
    assert any(path.startswith("fastpath/") for path in manifest)
    assert all(entry.size == (live.path / p).stat().st_size for p, entry in manifest.items())
    assert cli("verify", "--index", str(source)) == (
        0,
        f"{source} {live.name}: {len(manifest)} files, "
        f"{sum(e.size for e in manifest.values()) / 1e6:.1f} MB match the manifest.\n",
    )


def test_a_publish_hashes_only_files_that_are_not_hard_links_to_the_live_generation(
    source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reuse rule: same (device, inode, size, mtime) as in the live manifest, same bytes."""
    import searcher.manifest

    def publish_linked(extra: str) -> str:
        """A new generation of hard links to the live one, plus one new file."""
        live = read_current(source)
        with new_generation(source) as temp:
            for path in read_manifest(live.path):
                (temp / path).parent.mkdir(parents=True, exist_ok=True)
                os.link(live.path / path, temp / path)
            (temp / extra).write_bytes(b"new bytes")
            return publish(source, temp, live.meta)

    publish_linked("first.bin")  # a copied index: stamps name other inodes, all is hashed
    hashed: list[str] = []
    real = searcher.manifest.checksum
    monkeypatch.setattr(
        searcher.manifest, "checksum", lambda path: hashed.append(Path(path).name) or real(path)
    )
    live = read_current(source)
    name = publish_linked("added.bin")
    assert sorted(hashed) == ["added.bin", "meta.json"]  # meta.json is always rewritten
    assert read_manifest(source / name)["added.bin"].size == 9
    assert cli("verify", "--index", str(source))[0] == 0
    assert verify_generation(live.path, read_manifest(live.path)) == []  # links left intact


def test_verify_names_every_damaged_file(source: Path) -> None:
    live = read_current(source).path
    segment = next(live.glob("*.seg"))
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one bit pattern flipped, same size
    segment.write_bytes(bytes(data))
    os.truncate(live / "meta.json", 10)
    weights = next((live / "fastpath" / "weights").glob("*.npy"))
    weights.unlink()
    (live / "stray.txt").write_text("?")
    code, output = cli("verify", "--index", str(source))
    assert code == 1
    assert f"damaged: {live.name}/{segment.name}: checksum differs" in output
    assert f"damaged: {live.name}/meta.json: size 10, expected" in output
    assert f"damaged: {live.name}/fastpath/weights/{weights.name}: missing" in output
    assert f"damaged: {live.name}/stray.txt: not in the manifest" in output
    assert "4 damaged file(s)" in output


def test_garbled_side_arrays_are_named_by_verify_and_refused_by_the_fast_path(
    source: Path,
) -> None:
    """The damage no decoder notices (the old strict xfail): opening sees the arrays' mtime
    moved, hashes them alone, and serves the generation by plain Whoosh, with right answers."""
    expected = total(source)
    live = read_current(source).path
    noise = random.Random(5)
    garbled = sorted(live.rglob("body.docs.npy"))
    for path in garbled:
        size = path.stat().st_size
        path.write_bytes(path.read_bytes()[:128] + noise.randbytes(size - 128))
    code, output = cli("verify", "--index", str(source))
    assert code == 1
    for path in garbled:
        assert f"{path.relative_to(live).as_posix()}: checksum differs" in output
    with Searcher(source) as searcher:
        assert searcher._current().fast is None
        assert searcher.search(QUERY).total == expected


def test_a_resized_segment_refuses_the_generation_at_opening(source: Path) -> None:
    from searcher import IndexUnavailableError

    segment = next(read_current(source).path.glob("*.seg"))
    with open(segment, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(IndexUnavailableError, match=r"\.seg: size \d+, expected"):
        Searcher(source)


def test_a_generation_without_a_manifest_opens_but_does_not_verify(source: Path) -> None:
    (read_current(source).path / MANIFEST).unlink()
    assert total(source) == 12
    code, output = cli("verify", "--index", str(source))
    assert code == 1 and "manifest.json: missing" in output


def test_write_manifest_reuses_nothing_from_another_machine(tmp_path: Path) -> None:
    """Stamps from elsewhere (other device or inode) never stand for a file's checksum."""
    (tmp_path / "f").write_bytes(b"abc")
    first = write_manifest(tmp_path)
    forged = {"f": first["f"].__class__(3, "0" * 64, (0, 0, first["f"].stamp[2]))}
    assert write_manifest(tmp_path, forged)["f"].checksum == first["f"].checksum


# --- pull ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "location", "kind"),
    [
        ("rsync://10.0.0.5:8730/bantin/index/", "rsync://10.0.0.5:8730/bantin/index", "daemon"),
        ("replica@search-1:/srv/bantin/index/", "replica@search-1:/srv/bantin/index", "ssh"),
        ("search-1:index", "search-1:index", "ssh"),
        ("search-1:", "search-1:.", "ssh"),
    ],
)
def test_sources_are_read_as_rsync_reads_them(text: str, location: str, kind: str) -> None:
    parsed = parse_source(text)
    assert (parsed.location, parsed.kind) == (location, kind)
    assert parsed.path("CURRENT") == f"{location}/CURRENT"


def test_a_pull_from_a_folder_serves_the_source_generation_and_follows_it(
    tmp_path: Path, source: Path, sources: dict[str, Path]
) -> None:
    replica = tmp_path / "replica"
    code, output = cli("pull", str(source), "--index", str(replica))
    assert code == 0, output
    assert "files, 0 already here (linked)" in output
    assert total(replica) == 12
    assert cli("verify", "--index", str(replica))[0] == 0
    assert cli("pull", str(source), "--index", str(replica)) == (
        0,
        f"{replica} already serves {read_current(source).name} of {source}.\n",
    )
    with Searcher(replica) as searcher:  # open across the next pull: no restart needed
        assert searcher.search(QUERY).total == 12
        before = read_current(replica)
        update_index([sources["more"]], source)  # the source moves on
        report = pull(source, replica)
        assert searcher.search(QUERY).total == 20
    # Unchanged files (same size and mtime) are hard links to the previous local generation.
    after = read_current(replica)
    assert report.generation == after.name != before.name
    shared = [
        path
        for path in read_manifest(after.path)
        if (before.path / path).exists() and os.path.samefile(before.path / path, after.path / path)
    ]
    assert report.linked == len(shared) > 10
    assert cli("verify", "--index", str(replica))[0] == 0


def test_a_source_file_damaged_after_its_manifest_is_never_published(
    tmp_path: Path, source: Path
) -> None:
    replica = tmp_path / "replica"
    segment = next(read_current(source).path.glob("*.seg"))
    data = bytearray(segment.read_bytes())
    data[100] ^= 0xFF
    segment.write_bytes(bytes(data))
    with pytest.raises(
        PullError, match=rf"{segment.name}: checksum differs.*nothing was published"
    ):
        pull(source, replica)
    assert not (replica / CURRENT).exists()
    assert not [p for p in replica.iterdir() if p.name.startswith(TEMP_PREFIX)]
    code, output = cli("pull", str(source), "--index", str(replica))
    assert code == 1 and output.count("\n") == 1 and "checksum differs" in output


def test_a_pull_killed_mid_transfer_leaves_the_live_generation(
    tmp_path: Path, source: Path, sources: dict[str, Path]
) -> None:
    replica = tmp_path / "replica"
    pull(source, replica)
    before = read_current(replica)
    shutil.rmtree(source)
    shutil.copytree(sources["index_b"], source)
    calls = tmp_path / "calls"
    slow = tmp_path / "slow-rsync"
    slow.write_text(f'#!/bin/sh\necho "$$ $*" >> {calls}\nexec rsync --bwlimit=20 "$@"\n')
    slow.chmod(0o755)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            pull(source, replica, rsync=str(slow))
        except BaseException as error:
            failure.append(error)

    puller = threading.Thread(target=run)
    puller.start()
    deadline = time.monotonic() + 20
    while "--recursive" not in (calls.read_text() if calls.exists() else ""):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.3)  # mid-way: 20 KB/s against half a megabyte
    pid = int(
        next(line for line in calls.read_text().splitlines() if "--recursive" in line).split()[0]
    )
    os.kill(pid, signal.SIGKILL)
    puller.join(30)
    assert isinstance(failure[0], PullError)
    assert "killed by signal 9" in str(failure[0])
    assert read_current(replica).name == before.name
    assert not [p for p in replica.iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert total(replica) == 12
    pull(source, replica)
    assert total(replica) == 20


def test_pull_refuses_what_is_not_an_index(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, output = cli("pull", str(tmp_path / "empty"), "--index", str(tmp_path / "r"))
    assert code == 1 and "rsync failed" in output and output.count("\n") == 1
    code, output = cli("pull", str(tmp_path / "nowhere"), "--index", str(tmp_path / "r"))
    assert code == 1 and "no index folder at" in output
    assert not (tmp_path / "r" / CURRENT).exists()


# --- remote sources on loopback ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def rsync_daemon(tmp_path: Path, source: Path) -> Iterator[str]:
    """An rsync daemon on a free loopback port serving ``source`` as module ``bantin``."""
    port = free_port()
    config = tmp_path / "rsyncd.conf"
    config.write_text(
        f"use chroot = no\nuid = {os.getuid()}\ngid = {os.getgid()}\n"
        f"address = 127.0.0.1\nport = {port}\nlog file = {tmp_path / 'rsyncd.log'}\n"
        f"[bantin]\npath = {source.parent}\nread only = yes\n"
    )
    daemon = subprocess.Popen(["rsync", "--daemon", "--no-detach", f"--config={config}"])
    try:
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert daemon.poll() is None, "rsync --daemon did not start"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield f"rsync://127.0.0.1:{port}/bantin/{source.name}"
    finally:
        daemon.terminate()
        daemon.wait(10)


def test_a_pull_from_an_rsync_daemon(
    tmp_path: Path, source: Path, rsync_daemon: str, sources: dict[str, Path]
) -> None:
    replica = tmp_path / "replica"
    code, output = cli("pull", rsync_daemon, "--index", str(replica))
    assert code == 0, output
    assert total(replica) == 12
    update_index([sources["more"]], source)
    report = pull(rsync_daemon, replica)
    assert report.linked > 10 and total(replica) == 20
    assert cli("verify", "--index", str(replica))[0] == 0


def test_a_pull_over_a_remote_shell(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``host:path``: rsync starts its remote half through RSYNC_RSH, as it would through ssh."""
    log = tmp_path / "rsh.log"
    rsh = tmp_path / "fake-ssh"
    rsh.write_text(f'#!/bin/sh\necho "$@" >> {log}\nshift\nexec "$@"\n')  # drop the host name
    rsh.chmod(0o755)
    monkeypatch.setenv("RSYNC_RSH", str(rsh))
    replica = tmp_path / "replica"
    report = pull(f"search-1:{source}", replica)
    assert report.generation and total(replica) == 12
    calls = log.read_text().splitlines()
    assert all(call.startswith("search-1 rsync --server --sender") for call in calls)
    assert calls[0].endswith(f"{source}/CURRENT")
    assert calls[-1].endswith(f"{source}/{read_current(source).name}/")
