"""Two `bantin serve` replicas fed by `bantin pull`, behind haproxy, on loopback.

A planned restart (SIGTERM: the replica stops listening, finishes what it holds, exits 0) while
clients search through haproxy and a new generation is pulled into both replicas fails no
request, and every answer is exactly the answer of one whole generation, never a mix. A crash
(SIGKILL) may fail only the requests in flight at that instant; none started afterwards. The
figures they print (run with ``-s``) are the ones in docs/scaling.md.
"""

from __future__ import annotations

import csv
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from test_replica import QUERY, bulletins, free_port, write_jsonl

from index import build_index
from index.replica import pull
from searcher import Searcher

needs_haproxy = pytest.mark.skipif(
    shutil.which("haproxy") is None or shutil.which("rsync") is None,
    reason="needs Debian's haproxy and rsync (apt-get install haproxy rsync)",
)

ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}
CLIENTS = 3
MAX_REQUESTS = 20_000  # the load loop is bounded in count as well as in time
SEARCH = "/api/search?" + urllib.parse.urlencode({"q": QUERY, "per_page": 20})

HAPROXY_CONFIG = """\
global
    stats socket {socket} level admin

defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    retries 3
    option redispatch 1
    retry-on all-retryable-errors

frontend search
    bind 127.0.0.1:{front}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 200ms fall 2 rise 1
    server replica1 127.0.0.1:{port1} check
    server replica2 127.0.0.1:{port2} check
"""


def get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def wait_until_healthy(base: str, process: subprocess.Popen[bytes], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, f"{base} exited with {process.returncode}"
        try:
            if get(f"{base}/healthz", timeout=5)[0] == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{base} never became healthy"
        time.sleep(0.05)


def serve(index_dir: Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "index.cli", "serve", "--index", str(index_dir)]
    process = subprocess.Popen([*command, "--port", str(port)], env=ENV, stderr=subprocess.DEVNULL)
    wait_until_healthy(f"http://127.0.0.1:{port}", process)
    return process


def answer_of(index_dir: Path) -> dict[str, Any]:
    """What a generation answers to the load's request, took_ms aside."""
    with Searcher(index_dir) as searcher:
        answer = searcher.search(QUERY, per_page=20).to_dict()
    answer.pop("took_ms")
    return answer


@dataclass
class Cluster:
    """Two replicas of ``source`` behind haproxy; ``processes`` are all killed at teardown."""

    root: Path
    stats_socket: Path
    front: int = 0
    ports: list[int] = field(default_factory=list)
    replicas: list[Path] = field(default_factory=list)
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stat(self, server: str) -> dict[str, str]:
        """haproxy's `show stat` row for ``server`` (status UP/DOWN, stot requests...)."""
        with socket.socket(socket.AF_UNIX) as admin:
            admin.settimeout(10)
            admin.connect(str(self.stats_socket))
            admin.sendall(b"show stat\n")
            text = b"".join(iter(lambda: admin.recv(65536), b"")).decode()
        rows = csv.DictReader(text.removeprefix("# ").splitlines())
        return next(row for row in rows if row["svname"] == server)

    def wait_status(self, index: int, status: str, seconds: float = 60) -> float:
        """Wait until haproxy reports replica ``index`` as ``status``; the monotonic time then."""
        deadline = time.monotonic() + seconds
        while self.stat(f"replica{index + 1}")["status"] != status:
            assert time.monotonic() < deadline, f"replica{index + 1} never {status}"
            time.sleep(0.02)
        return time.monotonic()

    def restart(self, index: int) -> None:
        self.servers[index] = serve(self.replicas[index], self.ports[index])
        self.processes.append(self.servers[index])
        self.wait_status(index, "UP")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Replicas of a 12-bulletin source, serving behind haproxy, all stopped at the end."""
    build_index([write_jsonl(tmp_path / "a.jsonl", bulletins("a", 12))], tmp_path / "source")
    with tempfile.TemporaryDirectory() as short:  # a unix socket path must stay short
        cluster = Cluster(tmp_path, Path(short) / "haproxy.sock")
        try:
            for index in range(2):
                cluster.replicas.append(tmp_path / f"replica{index + 1}")
                cluster.ports.append(free_port())
                pull(tmp_path / "source", cluster.replicas[index])
                cluster.servers.append(serve(cluster.replicas[index], cluster.ports[index]))
                cluster.processes.append(cluster.servers[index])
            cluster.front = free_port()
            config = tmp_path / "haproxy.cfg"
            config.write_text(
                HAPROXY_CONFIG.format(
                    socket=cluster.stats_socket,
                    front=cluster.front,
                    port1=cluster.ports[0],
                    port2=cluster.ports[1],
                )
            )
            command = ["haproxy", "-f", str(config), "-db"]
            cluster.processes.append(subprocess.Popen(command, stderr=subprocess.DEVNULL))
            wait_until_healthy(f"http://127.0.0.1:{cluster.front}", cluster.processes[-1])
            for index in range(2):  # both replicas answer (pyvi loaded) before the clock starts
                cluster.wait_status(index, "UP")
                assert get(f"http://127.0.0.1:{cluster.ports[index]}{SEARCH}")[0] == 200
            yield cluster
        finally:
            for process in cluster.processes:
                if process.poll() is None:
                    process.kill()
                process.wait(10)


@dataclass
class Failure:
    started: float
    ended: float
    error: str


class Load:
    """Clients searching through haproxy in a loop; every failure (timed) and answer is kept."""

    def __init__(self, url: str, seconds: float = 60) -> None:
        self.url = url
        self.stop = threading.Event()
        self.until = time.monotonic() + seconds
        self.latencies: list[float] = []
        self.answers: list[dict[str, Any]] = []
        self.failures: list[Failure] = []
        self.threads = [threading.Thread(target=self.client) for _ in range(CLIENTS)]

    def client(self) -> None:
        while not self.stop.is_set() and time.monotonic() < self.until:
            if len(self.latencies) + len(self.failures) >= MAX_REQUESTS:
                return
            started = time.monotonic()
            try:
                status, body = get(self.url)
            except (OSError, http.client.HTTPException) as error:  # IncompleteRead is the latter
                self.failures.append(Failure(started, time.monotonic(), repr(error)))
                continue
            self.latencies.append(time.monotonic() - started)
            if status != 200:
                self.failures.append(
                    Failure(started, time.monotonic(), f"{status}: {body[:200]!r}")
                )
                continue
            answer = json.loads(body)
            answer.pop("took_ms")
            self.answers.append(answer)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in self.threads)

    def figures(self) -> str:
        cuts = statistics.quantiles(self.latencies, n=100)
        return (
            f"{len(self.latencies) + len(self.failures)} requests, {len(self.failures)} failed, "
            f"p50 {cuts[49] * 1000:.1f} ms, p95 {cuts[94] * 1000:.1f} ms, "
            f"max {max(self.latencies) * 1000:.0f} ms"
        )


SLOW_APP = """\
import sys, time
from index.graceful import serve

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    time.sleep(float(environ["QUERY_STRING"] or 0))
    return [b"x" * 100_000]

serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=2)
print("drained", flush=True)
"""


def test_sigterm_finishes_the_requests_in_flight_then_refuses_and_exits_0() -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SLOW_APP, str(port)], env=ENV, stdout=subprocess.PIPE
    )
    try:
        base = f"http://127.0.0.1:{port}/"
        wait_until_healthy(base.rstrip("/"), server)
        replies: list[tuple[int, bytes]] = []
        slow = threading.Thread(target=lambda: replies.append(get(base + "?1.5")))
        slow.start()
        time.sleep(0.5)  # the slow request is being processed
        server.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with pytest.raises(ConnectionRefusedError):  # no longer listening…
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        slow.join(30)
        assert replies == [(200, b"x" * 100_000)]  # …but what it held was answered in full
        assert server.wait(30) == 0
        assert server.stdout is not None and server.stdout.read() == b"drained\n"
    finally:
        if server.poll() is None:
            server.kill()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()


def pull_command(source: Path, replica: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "index.cli", "pull", str(source), "--index", str(replica)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


@needs_haproxy
def test_planned_restart_and_new_generation_behind_haproxy_fail_no_request(
    cluster: Cluster,
) -> None:
    root = cluster.root
    more = write_jsonl(root / "more.jsonl", bulletins("m", 8))
    build_index([root / "a.jsonl", more], root / "newer")
    old, new = answer_of(root / "source"), answer_of(root / "newer")
    assert old["total"] == 12 and new["total"] == 20

    with Load(f"http://127.0.0.1:{cluster.front}{SEARCH}") as load:
        time.sleep(1.0)
        cluster.servers[0].send_signal(signal.SIGTERM)  # what systemctl restart sends
        assert cluster.servers[0].wait(30) == 0
        cluster.wait_status(0, "DOWN")  # served by the other replica alone meanwhile
        cluster.restart(0)
        pull(root / "newer", root / "source")  # the source moves to the new generation…
        for replica in cluster.replicas:  # …and each replica pulls it, serving all the while
            pull_command(root / "source", replica)
            time.sleep(0.5)
        time.sleep(1.0)
    print(f"\nhaproxy, planned restart under load ({CLIENTS} clients): {load.figures()}")

    assert load.failures == []
    assert len(load.answers) >= 50
    mixed = [answer for answer in load.answers if answer not in (old, new)]
    assert mixed == []
    assert {answer["total"] for answer in load.answers} == {12, 20}
    for _ in range(6):  # both replicas now serve the new generation
        status, body = get(f"http://127.0.0.1:{cluster.front}{SEARCH}")
        answer = json.loads(body)
        answer.pop("took_ms")
        assert (status, answer) == (200, new)


@needs_haproxy
def test_crash_behind_haproxy_fails_only_the_requests_in_flight(cluster: Cluster) -> None:
    with Load(f"http://127.0.0.1:{cluster.front}{SEARCH}") as load:
        time.sleep(1.0)
        killed = time.monotonic()
        cluster.servers[0].send_signal(signal.SIGKILL)
        cluster.servers[0].wait(10)
        down = cluster.wait_status(0, "DOWN")
        time.sleep(1.0)  # served by the other replica alone
        cluster.restart(0)
        served = int(cluster.stat("replica1")["stot"])
        time.sleep(1.5)
    print(
        f"\nhaproxy, crash under load ({CLIENTS} clients): {load.figures()}, "
        f"marked down after {(down - killed) * 1000:.0f} ms"
    )

    late = [failure for failure in load.failures if failure.started > killed]
    assert late == []  # retried on the other replica, before and after it was marked down
    assert len(load.failures) <= CLIENTS  # at most one in flight per client when it died
    assert len(load.answers) >= 50
    assert {answer["total"] for answer in load.answers} == {12}
    assert int(cluster.stat("replica1")["stot"]) > served  # back in the rotation, answering
