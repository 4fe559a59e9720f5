"""Rebuilds on a real Dask cluster (a scheduler and workers as processes on loopback): the same
answers as a local build, through the library and ``bantin index --cluster``; a worker killed
mid-build never publishes a partial generation."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from distributed import Client
from whoosh import index as whoosh_index

from corpus import corpus_files
from index import build_index
from index.cli import main
from index.cluster import Cluster, ClusterError, _check_workers_see
from index.documents import BuildOptions
from searcher import Searcher
from searcher.storage import read_current

QUERIES = (
    "cai cach hanh chinh",
    "UBND",
    "hội nghị",
    '"chuyển đổi số"',
    "thủy lợi",
    "Sa Đéc",
    "nong thon moi",
)
TEXT = (
    "Ủy ban nhân dân huyện tổ chức hội nghị sơ kết công tác cải cách hành chính năm 2023 "
    "về chuyển đổi số, xây dựng nông thôn mới, thủy lợi và giáo dục tại xã Tân Phú Đông, "
    "Sa Đéc, Đồng Tháp; bạn bán bàn ban"
)
WORDS = TEXT.split(" ")
STARTUP_SECONDS = 60


def generated(count: int) -> list[dict]:
    """Bulletins that differ from each other in words, lengths and metadata."""
    return [
        {
            "id": f"cụm/{i}",
            "title": " ".join(WORDS[(i + k) % len(WORDS)] for k in range(5 + i % 4)),
            "body": " ".join(WORDS[(i * k) % len(WORDS)] for k in range(1, 40 + i % 13)) + ".",
            "date": f"202{i % 4}-0{1 + i % 9}-1{i % 10}",
            "locality": ("Thành phố Sa Đéc", "Huyện Lai Vung")[i % 2],
            "province": "Đồng Tháp",
        }
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The shipped corpus plus generated bulletins (a duplicate id among them)."""
    folder = tmp_path_factory.mktemp("cluster-input")
    records = [*generated(40), generated(1)[0]]
    path = folder / "generated.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return [*corpus_files(), path]


@pytest.fixture(scope="module")
def local_index(sources: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    index_dir = tmp_path_factory.mktemp("local-index")
    build_index(sources, index_dir, jobs=1)
    return index_dir


def _dask(*arguments: str, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *arguments], stdout=handle, stderr=subprocess.STDOUT
        )


def start_worker(address: str, log: Path) -> subprocess.Popen[bytes]:
    """One single-threaded worker process (no nanny: its pid is the worker's own)."""
    return _dask(
        "worker",
        address,
        "--nworkers",
        "1",
        "--nthreads",
        "1",
        "--no-nanny",
        "--no-dashboard",
        "--host",
        "127.0.0.1",
        "--local-directory",
        str(log.parent / "scratch"),  # not the shared /tmp/dask-scratch-space
        log=log,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_workers(address: str, count: int) -> None:
    with Client(address, timeout=STARTUP_SECONDS, set_as_default=False) as client:
        client.wait_for_workers(count, timeout=STARTUP_SECONDS)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Dask scheduler and two workers on loopback, stopped at the end; yields the address."""
    folder = tmp_path_factory.mktemp("dask")
    address_file = folder / "scheduler.json"
    processes = [
        _dask(
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(address_file),
            log=folder / "scheduler.log",
        )
    ]
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not address_file.exists() or not address_file.read_text():
            assert processes[0].poll() is None, (folder / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the Dask scheduler did not start"
            time.sleep(0.1)
        address = json.loads(address_file.read_text())["address"]
        processes += [start_worker(address, folder / f"worker-{n}.log") for n in range(2)]
        wait_for_workers(address, 2)
        yield address
    finally:
        for process in reversed(processes):
            stop(process)


def answers(index_dir: Path, *, fast: bool) -> dict[str, list[tuple[str, float]]]:
    """Every query's total and hits in rank order with their scores."""
    found: dict[str, list[tuple[str, float]]] = {}
    with Searcher(index_dir, fast=fast) as searcher:
        for query in QUERIES:
            results = searcher.search(query, per_page=100)
            found[query] = [("total", results.total), *((h.id, h.score) for h in results.hits)]
        found["sorted by date"] = [
            (h.id, h.score) for h in searcher.search("Đồng Tháp", sort="date", per_page=100).hits
        ]
    return found


def assert_same_answers(one: Path, two: Path) -> None:
    """Same hits in the same order with the same scores, on the fast path and plain Whoosh.

    Plain Whoosh sums a document's clause scores in an order that depends on what else its
    segment holds, so with other segment boundaries a score may differ in its last bit.
    """
    for fast in (True, False):
        first, second = answers(one, fast=fast), answers(two, fast=fast)
        assert first.keys() == second.keys()
        for query, hits in first.items():
            assert [hit[0] for hit in hits] == [hit[0] for hit in second[query]], query
            for (_, score), (_, other) in zip(hits, second[query], strict=True):
                assert score == pytest.approx(other, rel=1e-12), query
            assert len(hits) > 2, query  # the query finds something


def assert_whole_generation(index_dir: Path) -> list[str]:
    """The live generation holds exactly its listed segments' files; returns their ids."""
    path = read_current(index_dir).path
    ix = whoosh_index.open_dir(str(path))
    ids = sorted(segment.segment_id() for segment in ix._segments())
    ix.close()
    files = sorted(p.stem for p in path.glob("MAIN_*.seg"))
    assert files == ids  # no orphan segment of a lost task
    side = path / "fastpath"
    assert sorted(p.name for p in side.iterdir()) == sorted([*ids, "weights", "pages"])
    assert sorted(p.name for p in (side / "pages").iterdir()) == ids  # the page files too
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".tmp-")]
    return ids


def test_cluster_build_answers_like_a_local_build(
    scheduler: str, sources: list[Path], local_index: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "cluster"
    seen: list[int] = []
    report = build_index(
        sources,
        index_dir,
        cluster=Cluster(scheduler, task_size=8),
        progress=seen.append,
        options=BuildOptions(batch_size=3),
    )
    assert report.indexed == sum(seen) == 45
    assert [s.reason for s in report.skipped] == ["duplicate id “cụm/0” (kept the first)"]
    assert len(assert_whole_generation(index_dir)) == 6  # a segment per task of 8
    assert_same_answers(local_index, index_dir)


def test_bantin_index_cluster(
    scheduler: str, sources: list[Path], local_index: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "cli"
    arguments = ["index", *map(str, sources), "--index", str(index_dir), "--cluster", scheduler]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    assert "Indexed 45 bulletins" in result.output
    assert_whole_generation(index_dir)
    assert_same_answers(local_index, index_dir)


def test_a_worker_killed_mid_build_is_retried_or_fails_cleanly(
    scheduler: str, sources: list[Path], local_index: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "killed"
    build_index([sources[0]], index_dir)
    live = read_current(index_dir).name
    doomed = start_worker(scheduler, tmp_path / "doomed.log")
    monitor = Client(scheduler, set_as_default=False)
    try:
        wait_for_workers(scheduler, 3)
        address = next(a for a, pid in monitor.run(os.getpid).items() if pid == doomed.pid)
        held: list[str] = []

        def kill_it_while_it_holds_a_task(_count: int) -> None:
            """After the first task completes: SIGKILL the worker once it has a task."""
            deadline = time.monotonic() + 10
            while doomed.poll() is None and not held and time.monotonic() < deadline:
                held.extend(monitor.processing([address]).get(address, ()))
                time.sleep(0.01)
            if doomed.poll() is None:
                os.kill(doomed.pid, signal.SIGKILL)
                doomed.wait()

        try:
            build_index(
                sources,
                index_dir,
                cluster=Cluster(scheduler, task_size=2),  # many small tasks, queued everywhere
                progress=kill_it_while_it_holds_a_task,
                options=BuildOptions(batch_size=1),
            )
        except ClusterError as error:
            assert "worker" in str(error)
            assert read_current(index_dir).name == live
            assert not [p for p in index_dir.iterdir() if p.name.startswith(".tmp-")]
        else:
            assert held  # the build completed although a worker died holding a task
            assert doomed.returncode == -signal.SIGKILL
            assert read_current(index_dir).name != live
            assert_whole_generation(index_dir)
            assert_same_answers(local_index, index_dir)
    finally:
        monitor.close()
        stop(doomed)


def test_unreachable_scheduler_fails_clearly(sources: list[Path], tmp_path: Path) -> None:
    index_dir = tmp_path / "ix"
    build_index([sources[0]], index_dir)
    live = read_current(index_dir).name
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler"):
        build_index(sources, index_dir, cluster=Cluster(f"tcp://127.0.0.1:{port}", timeout=1))
    assert read_current(index_dir).name == live
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".tmp-")]


def test_workers_must_see_the_index_folder(scheduler: str, tmp_path: Path) -> None:
    with (
        Client(scheduler, set_as_default=False) as client,
        pytest.raises(ClusterError, match="do not see the index folder"),
    ):
        _check_workers_see(client, tmp_path / "not-shared")
