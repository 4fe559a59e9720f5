"""The bantin command, through click's runner (and one real `bantin serve`)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from index.cli import main


def run(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_index_prints_a_summary_and_exits_zero(tmp_path: Path) -> None:
    result = run("index", "--index", str(tmp_path / "ix"), "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert "Indexed 5 bulletins" in result.output


def test_index_reports_skipped_files_and_fails_when_nothing_indexed(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    result = run("index", str(tmp_path / "empty.txt"), "--index", str(tmp_path / "ix"))
    assert result.exit_code == 1
    assert "empty.txt" in result.output and "nothing could be indexed" in result.output


def test_update_needs_paths(tmp_path: Path) -> None:
    result = run("index", "--update", "--index", str(tmp_path / "ix"))
    assert result.exit_code == 2
    assert "--update needs" in result.output


def test_search_json_is_the_contract(corpus_index: Path) -> None:
    result = run("search", "cai cach hanh chinh", "--index", str(corpus_index), "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["total"] == 5 and data["suggestion"] == "cải cách hành chính"
    assert "<mark>" in data["hits"][0]["title_html"]


def test_search_reads_the_index_location_from_the_environment(corpus_index: Path) -> None:
    result = run("search", "Tân Kỳ", "--json", env={"BANTIN_INDEX": str(corpus_index)})
    assert json.loads(result.stdout)["hits"][0]["id"] == "002_205483f94943f1e4"


def test_search_filters_and_plain_output(corpus_index: Path) -> None:
    result = run(
        "search", "cải cách", "--index", str(corpus_index), "--locality", "Sa Dec", "--year", "2022"
    )
    assert result.exit_code == 0
    assert "1 kết quả" in result.output
    assert "001_43642a5dc4415f17" in result.output
    assert "<mark>" not in result.output


def test_search_builds_the_shipped_corpus_when_there_is_no_index(tmp_path: Path) -> None:
    result = run("search", "Hương Trà", "--index", str(tmp_path / "fresh"), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["hits"][0]["id"] == "004_19503b7e49f52df0"


def test_search_on_a_damaged_index_says_so_in_one_line(tmp_path: Path) -> None:
    damaged = tmp_path / "ix"
    damaged.mkdir()
    (damaged / "CURRENT").write_text("gen-000001\n")
    result = run("search", "x", "--index", str(damaged))
    assert result.exit_code == 1
    message = result.output.strip()
    assert len(message.splitlines()) == 1 and "bantin index" in message


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_listens_on_loopback_and_answers(corpus_index: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "index.cli",
            "serve",
            "--index",
            str(corpus_index),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
                    assert json.load(reply)["documents"] == 5
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        if shutil.which("ss"):
            listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True)
            lines = [row for row in listening.stdout.splitlines() if f":{port} " in row]
            assert lines and all("127.0.0.1:" in row for row in lines)
    finally:
        process.terminate()
        process.wait(timeout=10)
