"""Crawling real HTTP servers on loopback that play district portals (tests/system/portal_site.py).

No HTTP is mocked; time is: the injected clock advances when the crawler sleeps, so every
delay is checked without waiting.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner
from portal_site import HTML, NO_ARTICLE, PortalSite, hue_portal, liferay_portal

from index.cli import main
from index.crawl import CrawlConfig, PortalsFileError, crawl, reextract, summary_lines
from index.crawl.config import parse_portals

AGENT = "bantin-test/1.0 (+mailto:cntt@example.gov.vn)"
ARTICLES = 13  # the Liferay portal's 12 listed articles and the one behind a redirect


class FakeClock:
    """Epoch time that moves only when the crawler sleeps."""

    def __init__(self) -> None:
        self.time = 1_700_000_000.0
        self.slept = 0.0

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.time += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sadec(clock: FakeClock) -> Iterator[PortalSite]:
    with liferay_portal(clock.now) as site:
        yield site


@pytest.fixture
def huongtra(clock: FakeClock) -> Iterator[PortalSite]:
    with hue_portal(clock.now) as site:
        yield site


def sadec_entry(site: PortalSite, **more: object) -> dict[str, object]:
    return {
        "name": "Thành phố Sa Đéc",
        "start": [f"{site.url}/tin-tuc"],
        "sitemap": [f"{site.url}/sitemap.xml"],
        "feed": [f"{site.url}/rss"],
        "allow": ["/-/"],
        "deny": ["/lien-he"],
        "locality": "Thành phố Sa Đéc",
        "province": "Đồng Tháp",
        "delay": 0,
        **more,
    }


def hue_entry(site: PortalSite) -> dict[str, object]:
    return {
        "name": "Thị xã Hương Trà",
        "start": [f"{site.url}/?cn=28"],
        "allow": [r"[?&]tc=\d+"],
        "delay": 0,
    }


def config(*entries: dict[str, object]) -> CrawlConfig:
    return parse_portals({"user_agent": AGENT, "portal": list(entries)})


def bulletins(store: Path) -> dict[str, dict]:
    found = {}
    for path in sorted((store / "bulletins").rglob("*.jsonl")):
        record = json.loads(path.read_text(encoding="utf-8"))
        found[record["url"]] = record
    return found


def article_requests(site: PortalSite, since: int = 0) -> list:
    return [r for r in site.requests[since:] if "/-/" in r.path or "tc=" in r.path]


# --- a first and a second run ---------------------------------------------------------------


def test_first_run_stores_every_article_with_its_metadata(
    tmp_path: Path, sadec: PortalSite, clock: FakeClock
) -> None:
    report = crawl(config(sadec_entry(sadec)), tmp_path, clock=clock)
    (portal,) = report.portals
    assert portal.new == ARTICLES and portal.changed == portal.removed == 0
    stored = bulletins(tmp_path)
    assert len(stored) == ARTICLES
    first = stored[f"{sadec.url}/tin-tuc/-/ubnd-sa-dec-so-ket-cai-cach-hanh-chinh"]
    assert first["title"].startswith("UBND thành phố Sa Đéc tổ chức hội nghị sơ kết")
    assert first["date"] == "2022-07-05"  # "Sáng ngày 05/7/2022" in the text
    assert (first["locality"], first["province"]) == ("Thành phố Sa Đéc", "Đồng Tháp")
    assert "Có thể bạn quan tâm" not in first["body"] and "Truy cập" not in first["body"]
    # no date in the text: the sitemap's lastmod is the fallback
    assert stored[f"{sadec.url}/tin-tuc/-/sa-dec-khong-ngay"]["date"] == "2023-10-10"
    # the raw page is kept, compressed (the page with no article too: for --reextract)
    assert len(list((tmp_path / "raw").rglob("*.html.gz"))) == ARTICLES + 1
    # failures are reported with their reasons, and the run still completes
    reasons = dict(portal.failed)
    assert reasons[f"{sadec.url}/tin-tuc/-/bai-da-xoa"] == "HTTP 404"
    assert reasons[f"{sadec.url}/tin-tuc/-/lich-tiep-cong-dan"] == "no article found"


def test_second_run_asks_only_conditionally_and_finds_all_unchanged(
    tmp_path: Path, sadec: PortalSite, huongtra: PortalSite, clock: FakeClock
) -> None:
    portals = config(sadec_entry(sadec), hue_entry(huongtra))
    crawl(portals, tmp_path, clock=clock)
    before = {site.url: len(site.requests) for site in (sadec, huongtra)}
    report = crawl(portals, tmp_path, clock=clock)
    for portal in report.portals:
        assert portal.new == portal.changed == portal.removed == 0
    assert report.portals[0].unchanged == ARTICLES
    assert report.portals[1].unchanged == len(huongtra.posts)
    for site in (sadec, huongtra):
        for request in article_requests(site, before[site.url]):
            assert "if-none-match" in request.headers or "if-modified-since" in request.headers
            assert request.status in (301, 304)
    # the listing stops at its first page: nothing on it was unknown
    assert not any("cur=2" in r.path for r in sadec.requests[before[sadec.url] :])
    assert not any("page=2" in r.path for r in huongtra.requests[before[huongtra.url] :])


def test_url_variants_are_one_bulletin(tmp_path: Path, sadec: PortalSite, clock: FakeClock) -> None:
    """Listing (asset_publisher + redirect), sitemap (/-/slug) and feed (utm_*) links."""
    crawl(config(sadec_entry(sadec)), tmp_path, clock=clock)
    slug = "/tin-tuc/-/sa-dec-tin-0"
    assert sum(1 for r in article_requests(sadec) if r.path.split("?")[0].endswith(slug)) == 1
    assert len({r["id"] for r in bulletins(tmp_path).values()}) == ARTICLES


# --- politeness ------------------------------------------------------------------------------


def test_robots_txt_is_obeyed_and_crawl_delay_spaces_requests(
    tmp_path: Path, sadec: PortalSite, clock: FakeClock
) -> None:
    report = crawl(config(sadec_entry(sadec, delay=1.0)), tmp_path, clock=clock)
    paths = sadec.paths()
    assert paths[0] == "/robots.txt"
    assert "/tin-tuc/-/bi-mat" not in paths and not any("print=" in p for p in paths)
    assert "/lien-he" not in paths  # denied by the portals file
    assert report.portals[0].disallowed == 1
    times = [r.time for r in sadec.requests]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 3.0  # robots.txt's Crawl-delay (3) beats the file's delay (1)


def test_retry_after_is_honoured(tmp_path: Path, sadec: PortalSite, clock: FakeClock) -> None:
    crawl(config(sadec_entry(sadec)), tmp_path, clock=clock)
    asked = [r for r in sadec.requests if r.path == "/tin-tuc/-/sa-dec-tin-3"]
    assert [r.status for r in asked] == [429, 200]
    assert asked[1].time - asked[0].time >= 7.0  # Retry-After: 7


def test_redirect_is_followed_and_keeps_the_linked_id(
    tmp_path: Path, sadec: PortalSite, clock: FakeClock
) -> None:
    crawl(config(sadec_entry(sadec)), tmp_path, clock=clock)
    paths = sadec.paths()
    assert paths.index("/tin-tuc/-/sa-dec-tin-chuyen") == paths.index("/tin-tuc/-/tin-cu") + 1
    moved = bulletins(tmp_path)[f"{sadec.url}/tin-tuc/-/sa-dec-tin-chuyen"]
    assert moved["title"].startswith("Sa Đéc:")


def test_user_agent_is_the_files(tmp_path: Path, sadec: PortalSite, clock: FakeClock) -> None:
    crawl(config(sadec_entry(sadec)), tmp_path, clock=clock)
    assert {r.headers["user-agent"] for r in sadec.requests} == {AGENT}


# --- changes, removals, failures ----------------------------------------------------------


def test_change_and_removal_after_two_runs(
    tmp_path: Path, sadec: PortalSite, clock: FakeClock
) -> None:
    portals = config(sadec_entry(sadec))
    crawl(portals, tmp_path, clock=clock)
    sadec.edit("sa-dec-tin-1", "Bổ sung: hội nghị thống nhất kế hoạch năm 2024.")
    sadec.delete("sa-dec-tin-2")
    gone = f"{sadec.url}/tin-tuc/-/sa-dec-tin-2"
    clock.time += 8 * 24 * 3600  # past the recheck interval: unlinked articles are asked again

    second = crawl(portals, tmp_path, clock=clock).portals[0]
    assert (second.changed, second.removed, second.missing) == (1, 0, 1)
    assert "Bổ sung" in bulletins(tmp_path)[f"{sadec.url}/tin-tuc/-/sa-dec-tin-1"]["body"]
    assert gone in bulletins(tmp_path)  # one 404 is not a removal

    sadec.down = 503  # a portal in trouble removes nothing
    down = crawl(portals, tmp_path, clock=clock).portals[0]
    assert down.removed == 0 and gone in bulletins(tmp_path)
    sadec.down = None

    third = crawl(portals, tmp_path, clock=clock).portals[0]
    assert third.removed == 1
    assert gone not in bulletins(tmp_path)
    assert len(bulletins(tmp_path)) == ARTICLES - 1


def test_a_portal_that_is_down_is_reported_and_costs_little(
    tmp_path: Path, sadec: PortalSite, clock: FakeClock
) -> None:
    sadec.down = 500
    (portal,) = crawl(config(sadec_entry(sadec)), tmp_path, clock=clock).portals
    assert portal.error is not None and "robots.txt could not be read" in portal.error
    assert sadec.paths() == ["/robots.txt"]


def test_interrupted_run_resumes_without_refetching(
    tmp_path: Path, sadec: PortalSite, clock: FakeClock
) -> None:
    handled = 0

    def ctrl_c_after_five(_count: int) -> None:
        nonlocal handled
        handled += 1
        if handled == 5:
            raise KeyboardInterrupt

    portals = config(sadec_entry(sadec))
    stopped = crawl(portals, tmp_path, clock=clock, progress=ctrl_c_after_five)
    assert stopped.interrupted and stopped.portals[0].new == 5
    assert "Interrupted" in summary_lines(stopped)[-2]
    kept = bulletins(tmp_path)
    assert len(kept) == 5
    before = len(sadec.requests)
    report = crawl(portals, tmp_path, clock=clock)
    asked = {r.path.split("?")[0] for r in article_requests(sadec, before)}
    assert not asked & {url.removeprefix(sadec.url) for url in kept}
    assert report.portals[0].new == ARTICLES - 5
    assert len(bulletins(tmp_path)) == ARTICLES


def crawl_command(tmp_path: Path, sadec: PortalSite) -> tuple[list[str], Path]:
    """`bantin crawl … --no-index` of the Sa Đéc portal, and its store; the portal answers
    five articles, then holds the next until the test sets `sadec.released`."""
    portals = tmp_path / "portals.toml"
    portals.write_text(
        f'user_agent = "{AGENT}"\n[[portal]]\nname = "Sa Đéc"\n'
        f'start = ["{sadec.url}/tin-tuc"]\nallow = ["/-/"]\ndelay = 0.2\n',
        encoding="utf-8",
    )
    sadec.robots = "User-agent: *\nDisallow:\n"
    sadec.hold_after = 5
    store = tmp_path / "store"
    command = [sys.executable, "-m", "index.cli", "crawl", str(portals), "--store", str(store)]
    return [*command, "--no-index"], store


def wait_for_bulletins(store: Path, process: subprocess.Popen, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(bulletins(store)) < count and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)


def test_killed_crawl_loses_nothing(tmp_path: Path, sadec: PortalSite) -> None:
    """SIGKILL half-way through a real `bantin crawl`; the next run completes the store."""
    command, store = crawl_command(tmp_path, sadec)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    wait_for_bulletins(store, process, 3)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    sadec.released.set()
    kept = bulletins(store)
    assert 3 <= len(kept) < ARTICLES
    before = len(sadec.requests)
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "Sa Đéc:" in done.stdout
    refetched = [r for r in article_requests(sadec, before) if "if-none-match" not in r.headers]
    assert not {r.path.split("?")[0] for r in refetched} & {u.removeprefix(sadec.url) for u in kept}
    assert len(bulletins(store)) == ARTICLES


# --- the command ------------------------------------------------------------------------------


def test_cli_crawls_indexes_and_search_finds_the_bulletins(
    tmp_path: Path, sadec: PortalSite, huongtra: PortalSite
) -> None:
    portals = tmp_path / "portals.toml"
    portals.write_text(
        f"""user_agent = "{AGENT}"

[[portal]]
name = "Thành phố Sa Đéc"
start = ["{sadec.url}/tin-tuc"]
allow = ["/-/"]
locality = "Thành phố Sa Đéc"
province = "Đồng Tháp"
delay = 0

[[portal]]
name = "Thị xã Hương Trà"
start = ["{huongtra.url}/?cn=28"]
allow = ['[?&]tc=\\d+']
delay = 0
""",
        encoding="utf-8",
    )
    sadec.robots = "User-agent: *\nDisallow: /tin-tuc/-/bi-mat\n"  # no Crawl-delay: real time
    sadec.throttle.clear()
    runner = CliRunner()
    args = ["crawl", str(portals), "--store", str(tmp_path / "store")]
    args += ["--index", str(tmp_path / "index")]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Thành phố Sa Đéc:" in result.output and "Thị xã Hương Trà:" in result.output
    assert f"{ARTICLES + len(huongtra.posts)} added" in result.output

    search = ["search", "hội nghị sơ kết cải cách hành chính", "--index", str(tmp_path / "index")]
    hits = json.loads(runner.invoke(main, [*search, "--json"]).output)["hits"]
    top = hits[0]
    assert top["title"].startswith("UBND thành phố Sa Đéc tổ chức hội nghị sơ kết")
    assert (top["date"], top["locality"], top["province"]) == (
        "2022-07-05",
        "Thành phố Sa Đéc",
        "Đồng Tháp",
    )
    assert top["url"] == f"{sadec.url}/tin-tuc/-/ubnd-sa-dec-so-ket-cai-cach-hanh-chinh"
    search = [
        "search",
        "Hương Trà kế hoạch cải cách hành chính",
        "--index",
        str(tmp_path / "index"),
    ]
    hue = json.loads(runner.invoke(main, [*search, "--json"]).output)["hits"][0]
    assert (hue["date"], hue["province"]) == ("2021-01-11", "Thừa Thiên Huế")
    assert "Hương Trà" in hue["locality"]

    again = runner.invoke(main, args)
    assert again.exit_code == 0, again.output
    assert " 0 new, 0 changed" in again.output and "up to date" in again.output


def test_cli_refuses_a_bad_portals_file(tmp_path: Path) -> None:
    portals = tmp_path / "portals.toml"
    portals.write_text('[[portal]]\nname = "x"\nstart = ["https://x.vn/"]\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["crawl", str(portals), "--store", str(tmp_path)])
    assert result.exit_code != 0
    assert "user_agent is required" in result.output


# --- certificates ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def secure_sadec(clock: FakeClock, authority: trustme.CA) -> Iterator[PortalSite]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server)
    with liferay_portal(clock.now, tls=server) as site:
        yield site


def test_an_untrusted_certificate_fails_clearly_and_removes_nothing(
    tmp_path: Path, secure_sadec: PortalSite, clock: FakeClock, authority: trustme.CA
) -> None:
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    portals = config(sadec_entry(secure_sadec))
    first = crawl(portals, tmp_path, clock=clock, verify=trusting).portals[0]
    assert first.new == ARTICLES and first.error is None

    connections = secure_sadec.connections
    clock.time += 30 * 24 * 3600  # everything due for a recheck
    report = crawl(portals, tmp_path, clock=clock)  # the default trust: not our authority
    (portal,) = report.portals
    assert portal.error is not None and "TLS certificate error" in portal.error
    assert "unable to get local issuer certificate" in portal.error
    assert any("TLS certificate error" in line for line in summary_lines(report))
    assert secure_sadec.connections == connections + 1  # one handshake, no retry
    assert portal.removed == portal.missing == 0
    assert len(bulletins(tmp_path)) == ARTICLES


def test_ca_bundle_in_the_portals_file_trusts_a_private_authority(
    tmp_path: Path, secure_sadec: PortalSite, clock: FakeClock, authority: trustme.CA
) -> None:
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    entry = sadec_entry(secure_sadec)
    portals = parse_portals({"user_agent": AGENT, "ca_bundle": str(bundle), "portal": [entry]})
    (portal,) = crawl(portals, tmp_path / "store", clock=clock).portals
    assert portal.new == ARTICLES
    missing = {"user_agent": AGENT, "ca_bundle": str(tmp_path / "no.pem"), "portal": [entry]}
    with pytest.raises(PortalsFileError, match="ca_bundle"):
        parse_portals(missing)


# --- broken links, max_pages ---------------------------------------------------------------------


def test_a_broken_link_is_asked_again_only_after_a_growing_pause(
    tmp_path: Path, sadec: PortalSite, clock: FakeClock
) -> None:
    broken = {"/tin-tuc/-/bai-da-xoa", "/tin-tuc/-/lich-tiep-cong-dan"}
    no_article = (200, {**HTML, "ETag": '"lich-1"'}, NO_ARTICLE)
    sadec.extra["/tin-tuc/-/lich-tiep-cong-dan"] = no_article
    portals = config(sadec_entry(sadec))

    def asked(run: Callable[[], object]) -> list:
        before = len(sadec.requests)
        run()
        return [r for r in sadec.requests[before:] if r.path in broken]

    assert len(asked(lambda: crawl(portals, tmp_path, clock=clock))) == 2
    clock.time += 3600
    second: list = []
    assert asked(lambda: second.append(crawl(portals, tmp_path, clock=clock))) == []
    assert second[0].portals[0].waiting == 2 and not second[0].portals[0].failed
    assert any("2 broken links not asked" in line for line in summary_lines(second[0]))

    clock.time += 24 * 3600  # past the first pause (1 day): asked once, conditionally
    third = asked(lambda: crawl(portals, tmp_path, clock=clock))
    assert sorted(r.path for r in third) == sorted(broken)
    lich = next(r for r in third if r.path.endswith("lich-tiep-cong-dan"))
    assert lich.headers.get("if-none-match") == '"lich-1"'
    clock.time += 36 * 3600  # the pause has doubled to 2 days
    assert asked(lambda: crawl(portals, tmp_path, clock=clock)) == []
    clock.time += 13 * 3600
    assert len(asked(lambda: crawl(portals, tmp_path, clock=clock))) == 2


def test_articles_left_by_max_pages_come_first_next_run(
    tmp_path: Path, huongtra: PortalSite, clock: FakeClock
) -> None:
    """Listing page 1 holds 4 articles, page 2 the last 2; a run has room for 4 articles."""
    portals = config({**hue_entry(huongtra), "max_pages": 7})  # robots, 2 listing pages, 4
    first = crawl(portals, tmp_path, clock=clock).portals[0]
    assert (first.new, first.deferred) == (4, 2)
    # the next run reads listing page 1 only (nothing unknown on it), yet asks for the two left
    second = crawl(portals, tmp_path, clock=clock).portals[0]
    assert second.new == 2 and len(bulletins(tmp_path)) == len(huongtra.posts)
    assert any("4600" in r.path or "4601" in r.path for r in article_requests(huongtra))


# --- Ctrl-C -----------------------------------------------------------------------------------


def test_ctrl_c_stops_cleanly_with_exit_130_and_the_next_run_resumes(
    tmp_path: Path, sadec: PortalSite
) -> None:
    command, store = crawl_command(tmp_path, sadec)
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a suite started in the background (`pytest &`) ignores SIGINT, and so would the
        # crawler it starts: Python only turns SIGINT into KeyboardInterrupt if not ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_for_bulletins(store, process, 3)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    sadec.released.set()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "Interrupted: everything fetched so far is kept" in out
    kept = bulletins(store)
    assert 3 <= len(kept) < ARTICLES
    assert "Sa Đéc: " in out and f"{len(kept)} new" in out
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    assert f"{ARTICLES - len(kept)} new" in done.stdout
    assert len(bulletins(store)) == ARTICLES


# --- re-extraction --------------------------------------------------------------------------


def test_reextract_rebuilds_bulletins_from_the_raw_pages_without_a_request(
    tmp_path: Path, sadec: PortalSite, clock: FakeClock
) -> None:
    store, index = tmp_path / "store", tmp_path / "index"
    crawl(config(sadec_entry(sadec)), store, index_dir=index, clock=clock)
    requests = len(sadec.requests)
    renamed = config(sadec_entry(sadec, locality="Thành phố Sa Đéc mới", province="Đồng Tháp"))
    report = reextract(renamed, store, index_dir=index)
    assert len(sadec.requests) == requests  # not one request
    (portal,) = report.portals
    assert (portal.reextracted, portal.changed, portal.new) == (ARTICLES + 1, ARTICLES, 0)
    assert dict(portal.failed)[f"{sadec.url}/tin-tuc/-/lich-tiep-cong-dan"] == "no article found"
    assert {r["locality"] for r in bulletins(store).values()} == {"Thành phố Sa Đéc mới"}
    assert report.index is not None and report.index.updated == ARTICLES
    assert "re-extracted, no request" in summary_lines(report)[0]
    again = reextract(renamed, store, index_dir=index)
    assert again.portals[0].unchanged == ARTICLES and "up to date" in (again.index_note or "")


def test_cli_reextract(tmp_path: Path, sadec: PortalSite, clock: FakeClock) -> None:
    store = tmp_path / "store"
    crawl(config(sadec_entry(sadec)), store, clock=clock)
    requests = len(sadec.requests)
    portals = tmp_path / "portals.toml"
    portals.write_text(
        f'user_agent = "{AGENT}"\n[[portal]]\nname = "Thành phố Sa Đéc"\n'
        f'start = ["{sadec.url}/tin-tuc"]\nallow = ["/-/"]\n',
        encoding="utf-8",
    )
    args = ["crawl", str(portals), "--store", str(store), "--reextract", "--no-index"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"{ARTICLES + 1} raw pages re-extracted, no request" in result.output
    assert len(sadec.requests) == requests
