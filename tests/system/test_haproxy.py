"""Two `bantin serve` replicas fed by `bantin pull`, behind haproxy, on loopback.

While clients search through haproxy, one replica is killed (SIGKILL) and restarted and a new
generation is pulled into both: no request may fail, and every answer must be exactly the
answer of one whole generation (the old or the new), never a mix. The figures it prints (run
with ``-s``) are the ones in docs/scaling.md.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_replica import QUERY, bulletins, free_port, write_jsonl

from index import build_index
from index.replica import pull
from searcher import Searcher

pytestmark = pytest.mark.skipif(
    shutil.which("haproxy") is None or shutil.which("rsync") is None,
    reason="needs Debian's haproxy and rsync (apt-get install haproxy rsync)",
)

ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}
CLIENTS = 3
SEARCH = "/api/search?" + urllib.parse.urlencode({"q": QUERY, "per_page": 20})

HAPROXY_CONFIG = """\
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


def wait_until_healthy(base: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, f"{base} exited with {process.returncode}"
        try:
            if get(f"{base}/healthz", timeout=2)[0] == 200:
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


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Every process the test starts, killed at the end whatever happens."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)


class Load:
    """Clients searching through haproxy in a loop; every failure and answer is kept."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.totals: list[int] = []
        self.answers: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self.client) for _ in range(CLIENTS)]

    def client(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                status, body = get(self.url)
            except OSError as error:
                self.failures.append(repr(error))
                continue
            self.latencies.append(time.perf_counter() - started)
            if status != 200:
                self.failures.append(f"{status}: {body[:200]!r}")
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

    def figures(self) -> str:
        cuts = statistics.quantiles(self.latencies, n=100)
        return (
            f"{len(self.latencies)} requests, {len(self.failures)} failed, "
            f"p50 {cuts[49] * 1000:.1f} ms, p95 {cuts[94] * 1000:.1f} ms, "
            f"max {max(self.latencies) * 1000:.0f} ms"
        )


def test_replicas_behind_haproxy_fail_over_and_switch_generation_with_no_failed_request(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", bulletins("a", 12))
    more = write_jsonl(tmp_path / "more.jsonl", bulletins("m", 8))
    source, newer = tmp_path / "source", tmp_path / "newer"
    build_index([a], source)
    build_index([a, more], newer)
    old, new = answer_of(source), answer_of(newer)
    assert old["total"] == 12 and new["total"] == 20

    replicas = [tmp_path / "replica1", tmp_path / "replica2"]
    ports = [free_port(), free_port()]
    for replica in replicas:
        pull(source, replica)
    servers = [serve(replica, port) for replica, port in zip(replicas, ports, strict=True)]
    processes.extend(servers)
    front = free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(HAPROXY_CONFIG.format(front=front, port1=ports[0], port2=ports[1]))
    haproxy = subprocess.Popen(["haproxy", "-f", str(config), "-db"], stderr=subprocess.DEVNULL)
    processes.append(haproxy)
    wait_until_healthy(f"http://127.0.0.1:{front}", haproxy)
    for port in ports:  # both replicas answer (pyvi loaded) before the clock starts
        assert get(f"http://127.0.0.1:{port}{SEARCH}")[0] == 200

    with Load(f"http://127.0.0.1:{front}{SEARCH}") as load:
        time.sleep(1.0)
        servers[0].send_signal(signal.SIGKILL)
        servers[0].wait(10)
        time.sleep(1.0)  # served by the other replica alone meanwhile
        servers[0] = serve(replicas[0], ports[0])
        processes.append(servers[0])
        pull(newer, source)  # the source moves to the new generation…
        for replica in replicas:  # …and each replica pulls it, serving all the while
            done = subprocess.run(
                [sys.executable, "-m", "index.cli", "pull", str(source), "--index", str(replica)],
                env=ENV,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
            time.sleep(0.5)
        time.sleep(1.0)
    print(f"\nhaproxy failover under load ({CLIENTS} clients): {load.figures()}")

    assert load.failures == []
    assert len(load.answers) >= 50
    mixed = [answer for answer in load.answers if answer not in (old, new)]
    assert mixed == []
    assert {answer["total"] for answer in load.answers} == {12, 20}
    for _ in range(6):  # both replicas now serve the new generation
        status, body = get(f"http://127.0.0.1:{front}{SEARCH}")
        answer = json.loads(body)
        answer.pop("took_ms")
        assert (status, answer) == (200, new)
