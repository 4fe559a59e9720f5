"""Load test: `bantin serve` (waitress) on 127.0.0.1 under a realistic mix of requests.

Starts ``bantin serve`` in its own process on a free loopback port, over an index of real
bulletins (``benchmarks.common.cached_index(n)``, or ``--index DIR``), then runs a few client
threads, each with a keep-alive connection, for a bounded time and number of requests. The
mix is made from the corpus itself: words of real titles typed with and without accents,
locality/province/year filters taken from the facets, later pages, newest-first sorting,
completions of partial words, document pages and feeds. Reports requests/s, median, p90 and
p99 latency (overall and per kind), the error count (anything but a 200), and the server's
memory when ready, after a warm-up, sampled every second during the run, and at the end: RSS,
and its anonymous part (RSS minus file-backed pages: the index files are memory-mapped, so RSS
also grows as more of them is read, up to their size, which is not a leak)::

    python -m benchmarks.load_test --n 20000 --duration 120 --clients 4

Zero errors are expected; the exit status is 1 if there was any.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import unicodedata
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote, urlencode

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))

from benchmarks.common import OUT, cached_index, machine, percentile  # noqa: E402

#: Share of each kind of request in the mix.
MIX = {
    "search accented": 30,
    "search unaccented": 15,
    "search page (HTML)": 10,
    "search + filter": 12,
    "search, later page": 6,
    "search, newest first": 5,
    "suggest": 10,
    "document page": 10,
    "feed": 2,
}
RSS_EVERY = 1.0  # seconds between RSS samples of the server


def fold(text: str) -> str:
    """Drop Vietnamese marks, as someone typing without accents would."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`bantin serve` in its own process; RSS sampled in the background."""

    def __init__(self, index_dir: Path) -> None:
        import psutil

        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "index.cli", "serve", "--index", str(index_dir),
             "--port", str(self.port)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        self.ps = psutil.Process(self.process.pid)
        self.samples: list[tuple[float, int, int]] = []  # seconds, RSS, anonymous
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"bantin serve exited: {self.process.stderr.read()}")
            try:
                status, _ = request(self.connect(), "/healthz")
                if status == 200:
                    self._sampler.start()
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("bantin serve did not become ready")

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def memory(self) -> tuple[int, int]:
        """RSS and its anonymous part (RSS minus file-backed resident pages), in bytes."""
        info = self.ps.memory_info()
        return info.rss, info.rss - info.shared

    def _sample(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(RSS_EVERY):
            self.samples.append((time.monotonic() - started, *self.memory()))

    def stop(self) -> None:
        self._stop.set()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def request(connection: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    connection.request("GET", path, headers={"Connection": "keep-alive"})
    reply = connection.getresponse()
    return reply.status, reply.read()


# --- the mix -------------------------------------------------------------------------------


def vocabulary(server: Server, seed: int) -> dict[str, list]:
    """Queries, filters and ids drawn from the indexed bulletins themselves."""
    rng = random.Random(seed)
    connection = server.connect()
    _, body = request(connection, "/api/search?" + urlencode({"q": "", "per_page": 50}))
    listing = json.loads(body)
    facets = listing["facets"]
    titles: list[str] = []
    ids: list[str] = []
    for page in range(1, 21):  # 1,000 of the newest bulletins
        _, body = request(connection, "/api/search?" + urlencode({"per_page": 50, "page": page}))
        hits = json.loads(body)["hits"]
        titles += [hit["title"] for hit in hits]
        ids += [hit["id"] for hit in hits]
    connection.close()
    phrases: list[str] = []
    for title in titles:
        words = [w for w in title.split() if any(c.isalpha() for c in w)]
        for _ in range(2):
            if len(words) >= 2:
                size = rng.choice((1, 2, 2, 3))
                start = rng.randrange(0, max(1, len(words) - size + 1))
                phrases.append(" ".join(words[start : start + size]).strip(",.:;\"'()“”"))
    phrases = [p for p in phrases if p]
    prefixes = [p.split()[0][: rng.randint(2, 5)] for p in phrases]
    filters = [
        (name, item["value"]) for name in ("province", "locality", "year") for item in facets[name]
    ]
    return {"phrases": phrases, "prefixes": prefixes, "filters": filters, "ids": ids}


def make_path(kind: str, rng: random.Random, words: dict[str, list]) -> str:
    phrase = rng.choice(words["phrases"])
    if kind == "search accented":
        return "/api/search?" + urlencode({"q": phrase})
    if kind == "search unaccented":
        return "/api/search?" + urlencode({"q": fold(phrase).lower()})
    if kind == "search page (HTML)":
        return "/?" + urlencode({"q": rng.choice([phrase, fold(phrase)])})
    if kind == "search + filter":
        name, value = rng.choice(words["filters"])
        return "/api/search?" + urlencode({"q": rng.choice([phrase, ""]), name: value})
    if kind == "search, later page":
        return "/api/search?" + urlencode({"q": fold(phrase), "page": rng.randint(2, 5)})
    if kind == "search, newest first":
        return "/api/search?" + urlencode({"q": phrase, "sort": "date"})
    if kind == "suggest":
        return "/api/suggest?" + urlencode({"q": rng.choice(words["prefixes"])})
    if kind == "document page":
        return "/doc/" + quote(rng.choice(words["ids"]), safe="") + "?" + urlencode({"q": phrase})
    return "/feed?" + urlencode({"q": phrase})


# --- the run -------------------------------------------------------------------------------


def run_clients(
    server: Server, words: dict[str, list], clients: int, duration: float, max_requests: int
) -> tuple[list[tuple[str, float, int]], float]:
    kinds = list(MIX)
    weights = [MIX[k] for k in kinds]
    results: list[tuple[str, float, int]] = []  # kind, seconds, status (0: exception)
    lock = threading.Lock()
    deadline = time.monotonic() + duration
    budget = [max_requests]

    def client(number: int) -> None:
        rng = random.Random(1000 + number)
        connection = server.connect()
        while time.monotonic() < deadline:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            kind = rng.choices(kinds, weights)[0]
            path = make_path(kind, rng, words)
            started = time.perf_counter()
            try:
                status, _ = request(connection, path)
            except (OSError, http.client.HTTPException):
                status = 0
                connection.close()
                connection = server.connect()
            elapsed = time.perf_counter() - started
            with lock:
                results.append((kind, elapsed, status))
        connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.monotonic() - started


def summary(results: list[tuple[str, float, int]], wall: float) -> dict:
    by_kind: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    for kind, seconds, status in results:
        by_kind[kind].append(seconds)
        if status != 200:
            errors[f"{kind}: {status or 'exception'}"] += 1
    everything = [seconds for _, seconds, _ in results]

    def stats(values: list[float]) -> dict:
        return {
            "requests": len(values),
            "median_ms": statistics.median(values) * 1000,
            "p90_ms": percentile(values, 90) * 1000,
            "p99_ms": percentile(values, 99) * 1000,
            "max_ms": max(values) * 1000,
        }

    return {
        "wall_s": wall,
        "requests_per_s": len(results) / wall,
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "overall": stats(everything),
        "by_kind": {kind: stats(by_kind[kind]) for kind in MIX if by_kind[kind]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="bulletins in the cached index")
    parser.add_argument("--index", type=Path, help="serve this index instead of the cached one")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--duration", type=float, default=120, help="seconds of load")
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop after these")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=OUT / "load.json")
    args = parser.parse_args()

    index_dir = args.index or cached_index(args.n)
    documents = json.loads(
        (index_dir / (index_dir / "CURRENT").read_text().strip() / "meta.json").read_text()
    )["documents"]
    server = Server(index_dir)
    try:
        started = time.monotonic()
        server.wait_ready()
        ready_s = time.monotonic() - started
        memory_ready = server.memory()
        words = vocabulary(server, args.seed)
        warm = server.connect()  # one of each kind: vocabulary, caches, templates
        rng = random.Random(args.seed)
        for kind in MIX:
            for _ in range(3):
                request(warm, make_path(kind, rng, words))
        warm.close()
        memory_warm = server.memory()
        results, wall = run_clients(server, words, args.clients, args.duration, args.max_requests)
        memory_end = server.memory()
        samples = list(server.samples)
    finally:
        server.stop()

    report = summary(results, wall)
    memory = {}
    for column, name in ((0, "rss_mb"), (1, "anonymous_mb")):
        during = [sample[1 + column] for sample in samples]
        memory[name] = {
            "ready": memory_ready[column] / 2**20,
            "after_warmup": memory_warm[column] / 2**20,
            "max_during": max(during) / 2**20 if during else None,
            "end": memory_end[column] / 2**20,
            "timeline": [(round(s[0]), round(s[1 + column] / 2**20, 1)) for s in samples[::10]],
        }
    report.update(
        {
            "documents": documents,
            "clients": args.clients,
            "machine": machine(),
            "server_ready_s": ready_s,
            **memory,
        }
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print_markdown(report)
    sys.exit(1 if report["errors"] else 0)


def print_markdown(report: dict) -> None:
    overall = report["overall"]
    print(
        f"{report['documents']:,} bulletins, {report['clients']} clients, "
        f"{report['wall_s']:.0f} s, {overall['requests']:,} requests: "
        f"**{report['requests_per_s']:.1f} requests/s**, median {overall['median_ms']:.0f} ms, "
        f"p90 {overall['p90_ms']:.0f} ms, p99 {overall['p99_ms']:.0f} ms, "
        f"**{report['errors']} errors**"
    )
    print()
    print("| request | share | count | median ms | p90 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, stats in report["by_kind"].items():
        print(
            f"| {kind} | {MIX[kind]}% | {stats['requests']:,} | {stats['median_ms']:.0f} | "
            f"{stats['p90_ms']:.0f} | {stats['p99_ms']:.0f} | {stats['max_ms']:.0f} |"
        )
    for name, label in (("rss_mb", "RSS"), ("anonymous_mb", "anonymous (RSS - file-backed)")):
        memory = report[name]
        print()
        print(
            f"Server {label}, MB: ready {memory['ready']:.0f}, "
            f"after warm-up {memory['after_warmup']:.0f}, "
            f"max during the run {memory['max_during']:.0f}, end {memory['end']:.0f}; "
            "over time (s: MB) " + ", ".join(f"{t}: {mb:.0f}" for t, mb in memory["timeline"])
        )


if __name__ == "__main__":
    main()
