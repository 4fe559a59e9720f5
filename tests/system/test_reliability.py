"""Faults: searches during rebuilds, killed and concurrent writers, write failures, damage.

Every property here is checked against what a reader must see: one whole generation — the old
index or the new one, never an error and never a page whose hits come from one index and whose
total or facets come from another. The corpora are made so that each generation answers the
same query with a different total and different facets, so a mix cannot pass for either.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from index import build_index, update_index
from index.cli import main as cli_main
from searcher import IndexUnavailableError, Searcher
from searcher.storage import CURRENT, TEMP_PREFIX, generation_names, read_current

QUERY = "cải cách hành chính"
ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}


# --- corpora whose generations cannot be mistaken for one another ---------------------------


def bulletins(tag: str, n: int, province: str, locality: str, year: int) -> list[dict]:
    return [
        {
            "id": f"{tag}-{i:04d}",
            "title": f"Thông báo {i} về cải cách hành chính của {locality}",
            "body": f"Ủy ban nhân dân {locality} họp bàn công tác cải cách hành chính lần {i}.",
            "date": f"{year}-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "province": province,
            "locality": locality,
        }
        for i in range(n)
    ]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


@dataclass(frozen=True)
class State:
    """What one generation answers to QUERY: its ids and its facet counts."""

    name: str
    ids: frozenset[str]
    facets: dict[str, dict[str, int]]

    @classmethod
    def of(cls, name: str, records: list[dict]) -> State:
        return cls(
            name,
            frozenset(r["id"] for r in records),
            {
                "province": dict(Counter(r["province"] for r in records)),
                "locality": dict(Counter(r["locality"] for r in records)),
                "year": dict(Counter(r["date"][:4] for r in records)),
            },
        )

    def answers(self, data: dict[str, Any]) -> bool:
        """Whether a search JSON (total, hits, facets) is wholly this generation's."""
        facets = {
            name: {item["value"]: item["count"] for item in values}
            for name, values in data["facets"].items()
        }
        start = (data["page"] - 1) * data["per_page"]
        expected_hits = max(0, min(data["per_page"], len(self.ids) - start))
        hit_ids = {hit["id"] for hit in data["hits"]}
        return (
            data["total"] == len(self.ids)
            and facets == self.facets
            and len(data["hits"]) == expected_hits
            and hit_ids <= self.ids
        )


def which(states: list[State], data: dict[str, Any]) -> str:
    """The one state a search JSON belongs to; fails on a mix (or an unknown answer)."""
    matching = [state.name for state in states if state.answers(data)]
    assert len(matching) == 1, f"answer matches {matching}: {json.dumps(data)[:400]}"
    return matching[0]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three sources; A, B and A+C answer QUERY with 24, 41 and 37 bulletins."""
    folder = tmp_path_factory.mktemp("corpora")
    a = bulletins("a", 24, "Đồng Tháp", "Thành phố Sa Đéc", 2021)
    b = bulletins("b", 41, "An Giang", "Thành phố Long Xuyên", 2023)
    c = bulletins("c", 13, "Đồng Tháp", "Huyện Lấp Vò", 2022)
    sources = {
        "a": write_jsonl(folder / "a.jsonl", a),
        "b": write_jsonl(folder / "b.jsonl", b),
        "c": write_jsonl(folder / "c.jsonl", c),
        "states": [State.of("A", a), State.of("B", b), State.of("A+C", a + c)],
        "index_a": folder / "index-a",  # an index of A, to copy (pyvi's model loads once)
    }
    build_index([sources["a"]], sources["index_a"])
    return sources


def rebuild_plan(corpora: dict[str, Any], index_dir: Path) -> list[tuple[str, Callable[[], Any]]]:
    """Rebuilds and updates that walk the index through A, B and A+C twice."""
    a, b, c = corpora["a"], corpora["b"], corpora["c"]
    steps = [
        ("B", lambda: build_index([b], index_dir)),
        ("A", lambda: build_index([a], index_dir)),
        ("A+C", lambda: update_index([c], index_dir)),
        ("B", lambda: build_index([b], index_dir)),
        ("A", lambda: build_index([a], index_dir)),
        ("A+C", lambda: update_index([c], index_dir)),
    ]
    return steps


def wait_for_progress(done: list[int], failures: list[str], each: int = 3) -> None:
    """Wait until every worker has finished ``each`` more requests (or one failed)."""
    target = [count + each for count in done]
    deadline = time.monotonic() + 30
    while any(d < t for d, t in zip(done, target, strict=True)) and not failures:
        assert time.monotonic() < deadline, "the workers stopped making progress"
        time.sleep(0.005)


# --- searches during rebuilds -----------------------------------------------------------------


def test_searches_during_rebuilds_and_updates_see_one_whole_generation(
    tmp_path: Path, corpora: dict[str, Any]
) -> None:
    """Python API: threads search (pages, date sort, filters, doc) while the index is rebuilt
    and updated; every answer is wholly one generation's and the searcher follows each publish."""
    index_dir = tmp_path / "ix"
    build_index([corpora["a"]], index_dir)
    states = corpora["states"]
    stop = threading.Event()
    seen: list[Counter[str]] = []
    failures: list[str] = []
    done = [0, 0, 0]  # searches finished by each reader

    def reader(searcher: Searcher, number: int) -> None:
        counts: Counter[str] = Counter()
        seen.append(counts)
        variants = [
            {"page": 1, "per_page": 10},
            {"page": 3, "per_page": 10},
            {"page": 2, "per_page": 7, "sort": "date"},
            {"page": 5, "per_page": 10},  # past the end of A: no hits, same total and facets
        ]
        step = number
        while not stop.is_set():
            step += 1
            try:
                data = searcher.search(QUERY, **variants[step % len(variants)]).to_dict()
                counts[which(states, data)] += 1
                if step % 5 == 0:
                    document = searcher.doc("b-0040")  # only in B
                    assert document is None or document.locality == "Thành phố Long Xuyên"
            except BaseException as error:  # collected and asserted below
                failures.append(f"{type(error).__name__}: {error}")
                return
            done[number] += 1

    shared = Searcher(index_dir)
    own = Searcher(index_dir)  # a second instance, as another process would have
    threads = [threading.Thread(target=reader, args=(shared, n)) for n in range(2)]
    threads.append(threading.Thread(target=reader, args=(own, 2)))
    for thread in threads:
        thread.start()
    try:
        for expected, step in rebuild_plan(corpora, index_dir):
            step()
            assert read_current(index_dir).meta["documents"] == len(
                next(s for s in states if s.name == expected).ids
            )
            wait_for_progress(done, failures, each=2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        shared.close()
        own.close()
    assert failures == []
    for counts in seen:
        assert set(counts) == {"A", "B", "A+C"}, counts  # every reader crossed every publish


def test_an_idle_searcher_outlives_the_generations_it_had_open(
    tmp_path: Path, corpora: dict[str, Any]
) -> None:
    """A searcher left idle while several rebuilds delete the generation it holds moves on."""
    index_dir = tmp_path / "ix"
    build_index([corpora["a"]], index_dir)
    states = {state.name: state for state in corpora["states"]}
    with Searcher(index_dir) as searcher:
        first = searcher.generation
        assert states["A"].answers(searcher.search(QUERY).to_dict())
        for _ in range(3):
            build_index([corpora["b"]], index_dir)
        assert first not in generation_names(index_dir)  # its files are gone from the folder
        assert states["B"].answers(searcher.search(QUERY, page=2).to_dict())
        assert searcher.doc("a-0001") is None and searcher.doc("b-0001") is not None


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` under waitress (what `bantin serve` runs) on a free loopback port.

    The event loop is driven here, in small steps, so that it is also closed from its own
    thread: closing waitress's sockets from another thread races its poll (EBADF).
    """
    from waitress import wasyncore
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.is_set():
                wasyncore.loop(timeout=0.05, map=server._map, count=1)
        finally:
            for channel in list(server._map.values()):
                channel.close()
            server.task_dispatcher.shutdown()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop.set()
        thread.join(timeout=30)


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            return reply.status, reply.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode("utf-8")


def test_web_serves_through_rebuilds_and_picks_up_each_new_index(
    tmp_path: Path, corpora: dict[str, Any]
) -> None:
    """A real server: JSON API, search page, feed and /healthz stay 200 and consistent while
    the index is rebuilt and updated, and the app shows each new generation without a restart."""
    from webui import create_app

    index_dir = tmp_path / "ix"
    build_index([corpora["a"]], index_dir)
    states = corpora["states"]
    counts_by_total = {len(state.ids): state.name for state in states}
    stop = threading.Event()
    failures: list[str] = []
    seen: Counter[str] = Counter()
    done = [0, 0, 0]  # requests finished by each client

    def client(base: str, number: int) -> None:
        q = urllib.parse.quote(QUERY)
        step = number
        while not stop.is_set():
            step += 1
            kind = step % 4
            try:
                if kind == 0:
                    status, body = fetch(f"{base}/api/search?q={q}&per_page=10&page={step % 5 + 1}")
                    assert status == 200, body[:200]
                    seen[which(states, json.loads(body))] += 1
                elif kind == 1:
                    status, body = fetch(f"{base}/?q={q}&page=2")
                    assert status == 200, body[:200]
                    total = int(re.search(r"Tìm thấy <strong>([\d.]+)</strong>", body).group(1))
                    state = next(s for s in states if s.name == counts_by_total[total])
                    ids = {
                        urllib.parse.unquote(m) for m in re.findall(r'href="/doc/([^"?]+)', body)
                    }
                    assert ids and ids <= state.ids, (total, ids)
                elif kind == 2:
                    status, body = fetch(f"{base}/feed?q={q}")
                    assert status == 200, body[:200]
                    ids = {
                        urllib.parse.unquote(m)
                        for m in re.findall(r"tag:bantin,[^<]*doc:([^<]+)<", body)
                    }
                    assert len(ids) == 20 and any(ids <= s.ids for s in states), ids
                else:
                    status, body = fetch(f"{base}/healthz")
                    assert status == 200, body[:200]
                    assert json.loads(body)["documents"] in counts_by_total
            except BaseException as error:  # collected and asserted below
                failures.append(f"{type(error).__name__}: {error}")
                return
            done[number] += 1

    with serving(create_app({"BANTIN_INDEX": str(index_dir)})) as base:
        threads = [threading.Thread(target=client, args=(base, n)) for n in range(3)]
        for thread in threads:
            thread.start()
        try:
            for _expected, step in rebuild_plan(corpora, index_dir):
                step()
                wait_for_progress(done, failures, each=4)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        assert failures == []
        assert set(seen) == {"A", "B", "A+C"}, seen
        # No restart: the last publish (A+C) is what the running app answers now.
        status, body = fetch(f"{base}/healthz")
        assert (status, json.loads(body)["documents"]) == (200, 37)
        status, body = fetch(f"{base}/api/search?q={urllib.parse.quote(QUERY)}")
        assert which(states, json.loads(body)) == "A+C"


# --- killed writers ---------------------------------------------------------------------------


def long_update(path: Path, n: int = 1000) -> Path:
    """Bulletins with longer bodies: segmenting them keeps a writer busy for a while."""
    return write_jsonl(
        path,
        [
            {
                "id": f"n-{i:04d}",
                "title": f"Bản tin {i} về chuyển đổi số",
                "body": "Ủy ban nhân dân huyện họp bàn kế hoạch chuyển đổi số. " * 10,
            }
            for i in range(n)
        ],
    )


def assert_whole(index_dir: Path, *expected: tuple[str, int]) -> None:
    """The index is exactly one of ``expected`` — (sources it holds, document count) — and
    its search answers agree with that (no mix of two generations)."""
    totals = {"a": 24, "b": 41, "c": 13, "n": 0}  # bulletins of each source matching QUERY
    with Searcher(index_dir) as searcher:
        count = searcher.doc_count()
        sources = "".join(p for p in "abcn" if searcher.doc(f"{p}-0001") is not None)
        assert searcher.search("", sort="date").total == count
        assert searcher.search(QUERY).total == sum(totals[p] for p in sources)
    assert (sources, count) in expected


def assert_no_debris(index_dir: Path) -> None:
    leftovers = [
        entry.name
        for entry in index_dir.iterdir()
        if entry.name.startswith(TEMP_PREFIX)
        or (entry.name.startswith(CURRENT + ".") and entry.name.endswith(".tmp"))
    ]
    assert leftovers == []
    assert len(generation_names(index_dir)) <= 2


_KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    import index

    mode, source, index_dir, point = sys.argv[1:5]

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    real_rename, real_replace = os.rename, os.replace

    def rename(src, dst, *args, **kwargs):
        publishing = os.path.basename(str(src)).startswith(".tmp-")
        if publishing and point == "before-rename":
            die()
        result = real_rename(src, dst, *args, **kwargs)
        if publishing and point == "after-rename":
            die()
        return result

    def replace(src, dst, *args, **kwargs):
        switching = os.path.basename(str(dst)) == "CURRENT"
        if switching and point == "before-replace":
            die()
        result = real_replace(src, dst, *args, **kwargs)
        if switching and point == "after-replace":
            die()
        return result

    os.rename, os.replace = rename, replace
    getattr(index, mode)([source], index_dir, jobs=1)
    """
)

#: Around publish, in order: the new generation is complete and fsynced but still a temp
#: folder; it is named gen-N but CURRENT still names the old one; the new pointer file is
#: written but not yet renamed over CURRENT; CURRENT is switched but old generations remain.
PUBLISH_POINTS = ["before-rename", "after-rename", "before-replace", "after-replace"]


@pytest.mark.parametrize("point", PUBLISH_POINTS)
@pytest.mark.parametrize("mode", ["build_index", "update_index"])
def test_writer_killed_around_publish_leaves_one_whole_index(
    tmp_path: Path, corpora: dict[str, Any], mode: str, point: str
) -> None:
    index_dir = tmp_path / "ix"
    build_index([corpora["a"]], index_dir)
    process = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, mode, str(corpora["c"]), str(index_dir), point],
        env=ENV,
        timeout=120,
        check=False,
    )
    assert process.returncode == -signal.SIGKILL
    new = ("ac", 37) if mode == "update_index" else ("c", 13)
    assert_whole(index_dir, new if point == "after-replace" else ("a", 24))
    # What the killed writer left behind does not disturb the next one.
    getattr(__import__("index"), mode)([corpora["c"]], index_dir)
    assert_whole(index_dir, new)
    assert_no_debris(index_dir)


def _listing(index_dir: Path) -> dict[str, list[tuple[str, int]]]:
    out: dict[str, list[tuple[str, int]]] = {}
    for entry in index_dir.iterdir():
        if entry.name.startswith(TEMP_PREFIX):
            with contextlib.suppress(OSError):
                out[entry.name] = [(f.name, f.stat().st_size) for f in entry.iterdir()]
    return out


def _copying(temp: dict[str, list[tuple[str, int]]]) -> bool:
    return bool(temp)


def _adding(temp: dict[str, list[tuple[str, int]]]) -> bool:
    return any(name == "MAIN.tmp" for files in temp.values() for name, _ in files)


def _committing(temp: dict[str, list[tuple[str, int]]]) -> bool:
    return any(
        name.endswith(".pst") and size > 0 for files in temp.values() for name, size in files
    )


@pytest.mark.parametrize(
    "moment",
    [_copying, _adding, _committing],
    ids=["temp-folder-appeared", "writer-files-appeared", "postings-being-written"],
)
def test_update_killed_at_observed_progress_leaves_the_old_index(
    tmp_path: Path, corpora: dict[str, Any], moment: Callable[[dict], bool]
) -> None:
    """SIGKILL an update the moment the folder shows it reached a stage; the old index stays."""
    index_dir = tmp_path / "ix"
    build_index([corpora["a"]], index_dir)
    source = long_update(tmp_path / "new.jsonl")
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, "update_index", str(source), str(index_dir), "-"],
        env=ENV,
    )
    try:
        deadline = time.monotonic() + 120
        while not moment(_listing(index_dir)):
            assert process.poll() is None, "the update ended before the stage was seen"
            assert time.monotonic() < deadline
            time.sleep(0.001)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    # Killed mid-way; only for the last stage could the publish have won the race.
    expected = [("a", 24)] + ([("an", 224)] if moment is _committing else [])
    assert_whole(index_dir, *expected)
    with Searcher(index_dir) as searcher:
        assert which(corpora["states"], searcher.search(QUERY).to_dict()) == "A"
    update_index([corpora["c"]], index_dir)
    assert_whole(index_dir, ("ac", 37), ("acn", 237))
    assert_no_debris(index_dir)


# --- two writers at once ----------------------------------------------------------------------


def bantin(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    """The `bantin` command in its own process."""
    return subprocess.Popen(
        [sys.executable, "-m", "index.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        **kwargs,
    )


def one_line_error(output: str) -> str:
    """The whole of a failed command's output: exactly one line, no traceback."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def test_a_second_writer_process_is_refused_while_the_first_finishes(
    tmp_path: Path, corpora: dict[str, Any]
) -> None:
    index_dir = tmp_path / "ix"
    build_index([corpora["a"]], index_dir)
    # Long enough that two more processes can start and be refused before it ends, even on
    # a loaded machine (200 bulletins took about a second, less than two interpreter starts).
    source = long_update(tmp_path / "new.jsonl", 3000)
    first = bantin("index", str(source), "--index", str(index_dir), "--jobs", "1")
    try:
        deadline = time.monotonic() + 120
        while not _listing(index_dir):  # its temp folder: it holds the writer lock
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.005)
        for args in (["index", str(corpora["b"])], ["index", "--update", str(corpora["c"])]):
            second = bantin(*args, "--index", str(index_dir), "--jobs", "1")
            out, err = second.communicate(timeout=120)
            assert second.returncode == 1
            assert "already writing" in one_line_error(out + err)
        assert first.poll() is None  # refused while the first one was still writing
        out, err = first.communicate(timeout=300)
    finally:
        first.kill()
        first.wait()
    assert first.returncode == 0, err
    assert_whole(index_dir, ("n", 3000))
    assert_no_debris(index_dir)


def test_two_rebuilds_started_together_leave_one_whole_index(
    tmp_path: Path, corpora: dict[str, Any]
) -> None:
    index_dir = tmp_path / "ix"
    build_index([corpora["c"]], index_dir)
    runs = [
        bantin("index", str(corpora[name]), "--index", str(index_dir), "--jobs", "1")
        for name in ("a", "b")
    ]
    outcomes = [(run.wait(timeout=300), *run.communicate()) for run in runs]
    assert 0 in [code for code, _, _ in outcomes]
    for code, out, err in outcomes:
        if code:
            assert code == 1 and "already writing" in one_line_error(out + err)
    assert_whole(index_dir, ("a", 24), ("b", 41))
    assert_no_debris(index_dir)


# --- write failures -------------------------------------------------------------------------


def cli(*args: str) -> Any:
    return CliRunner().invoke(cli_main, list(args), catch_exceptions=False)


def test_file_size_limit_mid_build_is_one_line_and_the_old_index_serves(
    tmp_path: Path, corpora: dict[str, Any]
) -> None:
    """A real EFBIG from the kernel (RLIMIT_FSIZE) while Whoosh writes the new segment."""
    index_dir = tmp_path / "ix"
    build_index([corpora["a"]], index_dir)
    limited = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (32 * 1024, 32 * 1024))\n"
        "from index.cli import main\n"
        "main(sys.argv[1:], prog_name='bantin')\n"
    )
    source = long_update(tmp_path / "new.jsonl")
    for args in (["index"], ["index", "--update"]):
        run = subprocess.run(
            [sys.executable, "-c", limited, *args, str(source), "--index", str(index_dir)],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=300,
            check=False,
        )
        assert run.returncode == 1
        line = one_line_error(run.stdout + run.stderr)
        assert "File too large" in line and "unchanged" in line, line
        assert_whole(index_dir, ("a", 24))
        assert_no_debris(index_dir)


class FullDisk:
    """A file whose writes fail with ENOSPC once ``budget`` bytes were written to it."""

    def __init__(self, handle: Any, budget: int) -> None:
        self._handle = handle
        self._budget = budget

    def write(self, data: Any) -> int:
        self._budget -= len(data)
        if self._budget < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self._handle.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


@pytest.fixture
def disk_fills_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file Whoosh creates fails with ENOSPC after 16 KB."""
    from whoosh.filedb.filestore import FileStorage

    real_create = FileStorage.create_file

    def create_file(self: Any, name: str, **kwargs: Any) -> Any:
        structfile = real_create(self, name, **kwargs)
        structfile.file = FullDisk(structfile.file, 16 * 1024)
        return structfile

    monkeypatch.setattr(FileStorage, "create_file", create_file)


#: Whoosh leaves the files of a failed commit or a failed open to the garbage collector (its
#: error cleanup releases the lock but does not close them); tests that provoke one collect
#: them with ``whoosh_leftovers`` and ignore the resulting ResourceWarnings.
WHOOSH_LEAKS = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def whoosh_leftovers() -> Iterator[None]:
    yield
    gc.collect()


@WHOOSH_LEAKS
@pytest.mark.parametrize("update", [False, True], ids=["rebuild", "update"])
def test_disk_full_while_writing_segments(
    tmp_path: Path,
    corpora: dict[str, Any],
    disk_fills_up: None,
    whoosh_leftovers: None,
    update: bool,
) -> None:
    index_dir = tmp_path / "ix"
    shutil.copytree(corpora["index_a"], index_dir)
    source = long_update(tmp_path / "new.jsonl", 60)
    with pytest.raises(OSError) as caught:
        (update_index if update else build_index)([source], index_dir)
    assert caught.value.errno == errno.ENOSPC
    assert_whole(index_dir, ("a", 24))
    assert_no_debris(index_dir)
    more = ["--update"] if update else []
    result = cli("index", *more, str(source), "--index", str(index_dir), "--jobs", "1")
    assert result.exit_code == 1
    line = one_line_error(result.output)
    assert "No space left on device" in line and str(index_dir) in line


def test_disk_full_when_flushing_before_publish(
    tmp_path: Path, corpora: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Space runs out only when the new generation is flushed (delayed allocation)."""
    index_dir = tmp_path / "ix"
    shutil.copytree(corpora["index_a"], index_dir)

    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)
    result = cli("index", str(corpora["b"]), "--index", str(index_dir))
    assert result.exit_code == 1
    assert "No space left on device" in one_line_error(result.output)
    monkeypatch.undo()
    assert_whole(index_dir, ("a", 24))
    assert_no_debris(index_dir)


def test_unwritable_index_location_is_one_line(tmp_path: Path, corpora: dict[str, Any]) -> None:
    """Root ignores permission bits, so the kernel refusal used here is ENOTDIR."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    result = cli("index", str(corpora["a"]), "--index", str(blocker / "ix"))
    assert result.exit_code == 1
    line = one_line_error(result.output)
    assert "could not write the index" in line and "Not a directory" in line


# --- damaged or missing index -----------------------------------------------------------------


def _generation(index_dir: Path) -> Path:
    return index_dir / (index_dir / CURRENT).read_text().strip()


def _segment(index_dir: Path) -> Path:
    (segment,) = _generation(index_dir).glob("*.seg")
    return segment


def _garble_part(index_dir: Path, suffix: str) -> None:
    """Overwrite one part (postings, stored fields…) inside the compound segment file."""
    from whoosh.filedb.compound import CompoundStorage
    from whoosh.filedb.filestore import FileStorage

    segment = _segment(index_dir)
    handle = FileStorage(str(segment.parent)).open_file(segment.name)
    compound = CompoundStorage(handle, use_mmap=False)
    try:
        (place,) = [where for name, where in compound._dir.items() if name.endswith(suffix)]
    finally:
        compound.close()
    data = bytearray(segment.read_bytes())
    noise = random.Random(9)
    for position in range(place["offset"] + 8, place["offset"] + place["length"]):
        data[position] = noise.randrange(256)
    segment.write_bytes(bytes(data))


def _rewrite_meta(index_dir: Path, **changes: Any) -> None:
    meta_path = _generation(index_dir) / "meta.json"
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), **changes}))


#: Damage found when the index is opened.
OPEN_DAMAGE: dict[str, Callable[[Path], Any]] = {
    "truncated segment": lambda ix: os.truncate(_segment(ix), _segment(ix).stat().st_size // 2),
    "missing segment": lambda ix: _segment(ix).unlink(),
    "garbled table of contents": lambda ix: [
        toc.write_bytes(random.Random(3).randbytes(toc.stat().st_size))
        for toc in _generation(ix).glob("*.toc")
    ],
    "missing generation folder": lambda ix: shutil.rmtree(_generation(ix)),
    "garbage in CURRENT": lambda ix: (ix / CURRENT).write_bytes(b"\xff\xfe\x00gen"),
    "CURRENT names a path outside": lambda ix: (ix / CURRENT).write_text("gen-1/../../etc\n"),
    "no CURRENT beside a generation": lambda ix: (ix / CURRENT).unlink(),
    "wrong schema version": lambda ix: _rewrite_meta(ix, schema_version=0),
    "broken meta.json": lambda ix: (_generation(ix) / "meta.json").write_text('{"schema'),
    "garbled term dictionary": lambda ix: _garble_part(ix, ".trm"),
}


def _plain(index_dir: Path) -> Path:
    """Drop the fast path's side files: the generation is then served by plain Whoosh alone
    (as one built before them, or whose side files could not be written)."""
    from searcher.fastpath.store import side_dir

    shutil.rmtree(side_dir(_generation(index_dir)), ignore_errors=True)
    return index_dir


def _without_pages(index_dir: Path) -> Path:
    """Drop only the fast path's page files: a page's stored fields are then Whoosh's."""
    from searcher.fastpath.pages import pages_dir
    from searcher.fastpath.store import side_dir

    shutil.rmtree(pages_dir(side_dir(_generation(index_dir))))
    return index_dir


#: Damage inside a segment that opens cleanly: found by the first read that touches it.
READ_DAMAGE: dict[str, Callable[[Path], Any]] = {
    "garbled postings": lambda ix: _garble_part(_plain(ix), ".pst"),
    "garbled stored fields": lambda ix: _garble_part(_plain(ix), "._stored.col"),
    "garbled stored fields, fast path on": lambda ix: _garble_part(
        _without_pages(ix), "._stored.col"
    ),
}


@pytest.fixture
def damaged(
    request: pytest.FixtureRequest, tmp_path: Path, corpora: dict[str, Any]
) -> Iterator[Path]:
    index_dir = tmp_path / "ix"
    shutil.copytree(corpora["index_a"], index_dir)
    request.param(index_dir)
    yield index_dir
    gc.collect()  # see WHOOSH_LEAKS


def _snapshot(index_dir: Path) -> list[tuple[str, int]]:
    return sorted(
        (str(path.relative_to(index_dir)), path.stat().st_size)
        for path in index_dir.rglob("*")
        if path.is_file() and path.name != ".lock"
    )


def _rebuild_hint(message: str, index_dir: Path) -> None:
    assert f"bantin index --index {index_dir}" in message, message
    assert "\n" not in message.strip()


def _uses(searcher: Searcher) -> list[Callable[[], Any]]:
    return [
        lambda: searcher.search(QUERY),
        lambda: searcher.search("cai cach", sort="date", page=2, per_page=5),
        lambda: searcher.search("", locality="Sa Dec"),
        lambda: searcher.doc("a-0003"),
        lambda: searcher.complete("cai c"),
        searcher.doc_count,
    ]


@WHOOSH_LEAKS
@pytest.mark.parametrize("damaged", OPEN_DAMAGE.values(), ids=OPEN_DAMAGE.keys(), indirect=True)
def test_damage_found_on_opening_is_one_clear_line_everywhere(damaged: Path) -> None:
    before = _snapshot(damaged)
    with pytest.raises(IndexUnavailableError) as caught:
        Searcher(damaged)
    _rebuild_hint(str(caught.value), damaged)

    for command in (["search", QUERY, "--json"], ["serve", "--port", "0"]):
        result = cli(command[0], "--index", str(damaged), *command[1:])
        assert result.exit_code == 1, result.output
        _rebuild_hint(one_line_error(result.output), damaged)

    from webui import create_app

    client = create_app({"BANTIN_INDEX": str(damaged), "TESTING": True}).test_client()
    health = client.get("/healthz")
    assert health.status_code == 503
    _rebuild_hint(health.get_json()["error"], damaged)
    for path in (
        "/",
        "/?q=cai+cach",
        "/api/search?q=cai",
        "/doc/a-0001",
        "/feed",
        "/api/suggest?q=c",
    ):
        response = client.get(path)
        assert response.status_code == 503, path
        assert_no_internals(response.get_data(as_text=True))
    assert "error" in client.get("/api/search?q=cai").get_json()
    # A damaged index is reported, never silently rebuilt or touched.
    assert _snapshot(damaged) == before


@pytest.mark.parametrize("damaged", READ_DAMAGE.values(), ids=READ_DAMAGE.keys(), indirect=True)
def test_damage_found_while_reading_is_reported_not_raised_raw(damaged: Path) -> None:
    before = _snapshot(damaged)
    with Searcher(damaged) as searcher:
        failures = []
        for use in _uses(searcher):
            try:
                use()
            except IndexUnavailableError as error:
                _rebuild_hint(str(error), damaged)
                failures.append(error)
        assert failures, "the damage went unnoticed"
        # Once seen, the damaged generation is not served again, health included.
        for use in _uses(searcher):
            with pytest.raises(IndexUnavailableError):
                use()

    result = cli("search", QUERY, "--index", str(damaged))
    assert result.exit_code == 1
    _rebuild_hint(one_line_error(result.output), damaged)

    from webui import create_app

    client = create_app({"BANTIN_INDEX": str(damaged), "TESTING": True}).test_client()
    for path in ("/api/search?q=cai+cach+hanh+chinh", "/?q=cải+cách", "/healthz"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert_no_internals(response.get_data(as_text=True))
    assert _snapshot(damaged) == before


def test_a_rebuild_replaces_a_damaged_index_and_the_server_recovers(
    tmp_path: Path, corpora: dict[str, Any]
) -> None:
    """No restart: the running app serves the new generation as soon as it is published."""
    from webui import create_app

    index_dir = tmp_path / "ix"
    shutil.copytree(corpora["index_a"], index_dir)
    client = create_app({"BANTIN_INDEX": str(index_dir), "TESTING": True}).test_client()
    assert client.get("/healthz").status_code == 200
    _garble_part(_plain(index_dir), ".pst")
    os.utime(index_dir / CURRENT, ns=(1, 1))  # as if the pointer were rewritten in place
    assert client.get("/api/search", query_string={"q": QUERY}).status_code == 503
    assert client.get("/healthz").status_code == 503
    build_index([corpora["b"]], index_dir)
    assert client.get("/healthz").get_json() == {"status": "ok", "documents": 41}
    data = client.get("/api/search", query_string={"q": QUERY}).get_json()
    assert which(corpora["states"], data) == "B"


def assert_no_internals(body: str) -> None:
    for leak in ("Traceback", "site-packages", '.py"', "/work", "whoosh"):
        assert leak not in body, leak


def test_the_real_server_turns_down_huge_requests_politely(corpus_index: Path) -> None:
    """A 1 MB query string or header gets a 4xx from waitress, and the server keeps serving."""
    import http.client

    from webui import create_app

    with serving(create_app({"BANTIN_INDEX": str(corpus_index)})) as base:
        port = int(base.rsplit(":", 1)[1])
        for path, headers in (
            ("/api/search?q=" + "c%E1%BA%A3i+" * 100_000, {}),
            ("/", {"X-Padding": "x" * 1_000_000}),
            ("/api/search?q=" + "a" * 600, {}),  # over the query length the app accepts
        ):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.request("GET", path, headers=headers)
                reply = connection.getresponse()
                body = reply.read().decode("utf-8", "replace")
            finally:
                connection.close()
            assert 400 <= reply.status < 500, (reply.status, body[:200])
            assert_no_internals(body)
        status, body = fetch(f"{base}/healthz")
        assert status == 200 and json.loads(body)["documents"] == 5


# --- the fast path's side files ---------------------------------------------------------------


def _with_side_files(corpora: dict[str, Any], index_dir: Path) -> Path:
    from searcher.fastpath.store import side_dir, write_side_files

    shutil.copytree(corpora["index_a"], index_dir)
    write_side_files(_generation(index_dir))
    return side_dir(_generation(index_dir))


def _garble_arrays(side: Path) -> None:
    noise = random.Random(5)
    for path in side.rglob("*.npy"):
        header, size = path.read_bytes()[:128], path.stat().st_size
        if size > 128:
            path.write_bytes(header + noise.randbytes(size - 128))


SIDE_DAMAGE = [
    pytest.param(
        lambda side: next(side.rglob("body_folded.docs.npy")).unlink(), id="missing array"
    ),
    pytest.param(
        lambda side: os.truncate(next(side.rglob("body_folded.docs.npy")), 100),
        id="truncated array",
    ),
    pytest.param(lambda side: next(side.rglob("meta.json")).write_text("{"), id="garbled meta"),
    # Same sizes, other bytes: the manifest's checksums catch it when the generation opens
    # (only files whose mtime moved are hashed) and `bantin verify` names the files.
    pytest.param(_garble_arrays, id="garbled arrays"),
]


@pytest.mark.parametrize("damage", SIDE_DAMAGE)
def test_damaged_side_files_are_never_a_raw_error(
    tmp_path: Path, corpora: dict[str, Any], damage: Callable[[Path], Any]
) -> None:
    """The fast path's own files damaged: answers stay right (plain Whoosh) or are refused."""
    healthy = tmp_path / "healthy"
    _with_side_files(corpora, healthy)
    damaged = tmp_path / "damaged"
    damage(_with_side_files(corpora, damaged))
    with Searcher(healthy) as reference, Searcher(damaged) as searcher:
        assert reference._current().fast is not None  # the healthy copy uses the fast path
        for query in (QUERY, "cai cach", '"hành chính" Sa Đéc', "-sa thong bao"):
            expected = reference.search(query, per_page=30).to_dict()
            try:
                got = searcher.search(query, per_page=30).to_dict()
            except IndexUnavailableError:
                continue
            for answer in (expected, got):
                answer.pop("took_ms")
            assert got == expected, query
