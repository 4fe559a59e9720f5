"""HTTP: one client and one connection per host, paced, robots-checked, conditional.

Redirects are followed here, not by httpx, so each hop is paced and checked against robots.txt
and a portal cannot send us to another site. 429 and 503 are retried after Retry-After (or a
growing backoff) a few times; a host that stops answering is marked down for the rest of the
run so a dead portal costs three timeouts, not thousands. Certificates are verified: a TLS
failure is a failure with its reason, never retried without verification.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from index.crawl.politeness import Clock, Pacer, Robots, retry_after

#: Largest page read; past it the page is refused (a portal page is well under 1 MB).
MAX_PAGE_BYTES = 16 * 1024 * 1024
MAX_REDIRECTS = 5
#: Attempts for one URL answered 429/503.
MAX_ATTEMPTS = 4
#: A Retry-After longer than this is not waited for: the URL fails and the host is left alone.
MAX_RETRY_WAIT = 600.0
#: Backoff without Retry-After: this many seconds, doubled at each attempt.
BACKOFF = 5.0
#: Consecutive requests without an answer (or with 5xx) after which a host counts as down.
DOWN_AFTER_SILENCE = 3
DOWN_AFTER_ERRORS = 5
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass
class Page:
    """The outcome of asking for one URL."""

    url: str
    final_url: str
    status: int = 0  # 0 when no HTTP answer came
    content: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    content_type: str = ""
    error: str | None = None  # why it failed; None for 200 and 304
    requests: int = 0  # HTTP requests made for it (redirect hops and retries included)
    retry_wait: float | None = None  # a 429/503's Retry-After, in seconds

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200

    @property
    def not_modified(self) -> bool:
        return self.error is None and self.status == 304

    @property
    def gone(self) -> bool:
        return self.status in (404, 410)


class HostUnavailable(Exception):
    """The host cannot be crawled this run (robots.txt unreachable, host down)."""


@dataclass
class Host:
    """Everything per host: its single connection, its pacer, its robots.txt."""

    client: httpx.Client
    pacer: Pacer
    robots: Robots | None = None
    down: str | None = None
    silence: int = 0
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Fetcher:
    """Fetches pages for the crawler; one instance per run, shared by its threads."""

    def __init__(
        self,
        user_agent: str,
        clock: Clock,
        *,
        stop: threading.Event | None = None,
        timeout: httpx.Timeout = TIMEOUT,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.user_agent = user_agent
        self.clock = clock
        self.stop = stop or threading.Event()
        self._timeout = timeout
        self._verify = verify
        self._hosts: dict[str, Host] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        for host in self._hosts.values():
            host.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- hosts -------------------------------------------------------------------------

    def host(self, url: str) -> Host:
        """The host record of ``url``, created on first use."""
        key = urlsplit(url).netloc.lower()
        with self._lock:
            if key not in self._hosts:
                client = httpx.Client(
                    headers={"User-Agent": self.user_agent},
                    timeout=self._timeout,
                    verify=self._verify,
                    follow_redirects=False,
                    limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                )
                self._hosts[key] = Host(client=client, pacer=Pacer(self.clock, 0.0, self.stop))
            return self._hosts[key]

    def open_host(self, url: str, delay: float) -> Host:
        """Read the host's robots.txt (once) and set its pace; `HostUnavailable` if we may not.

        Per RFC 9309, a robots.txt answered 4xx means no rules, and one that cannot be read
        (5xx, no answer) means the whole host is off limits for now.
        """
        host = self.host(url)
        with host.lock:
            if host.robots is None and host.down is None:
                parts = urlsplit(url)
                robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
                page = self._get(host, robots_url, robots_url, {})
                if page.status == 200:
                    text = page.content.decode("utf-8", errors="replace")
                    host.robots = Robots.parse(text, self.user_agent)
                elif 400 <= page.status < 500:
                    host.robots = Robots.parse(None, self.user_agent)
                else:
                    reason = page.error or f"HTTP {page.status}"
                    if reason.startswith("TLS"):  # the site itself, not its robots.txt
                        host.down = reason
                    else:
                        host.down = f"robots.txt could not be read ({reason})"
            host.pacer.delay = max(host.pacer.delay, delay, _crawl_delay(host))
        if host.down:
            raise HostUnavailable(host.down)
        return host

    # --- pages -------------------------------------------------------------------------

    def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Page:
        """GET ``url`` (conditionally when a validator is given), following redirects."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        host = self.host(url)
        target = url
        requests = 0
        for _hop in range(MAX_REDIRECTS + 1):
            if host.robots is not None and not host.robots.allowed(target):
                return Page(url, target, error="disallowed by robots.txt", requests=requests)
            page = self._get(host, url, target, headers)
            requests += page.requests
            page.requests = requests
            location = page.final_url if page.status in (301, 302, 303, 307, 308) else None
            if location is None:
                return page
            if not _same_site(target, location):
                page.error = f"redirected off the portal to {location}"
                return page
            target = location
        return Page(url, target, error=f"more than {MAX_REDIRECTS} redirects", requests=requests)

    def _get(self, host: Host, url: str, target: str, headers: dict[str, str]) -> Page:
        """One URL on one host, with the 429/503 retries; a redirect is returned as is."""
        if host.down:
            return Page(url, target, error=host.down)
        page = Page(url, target)
        for attempt in range(MAX_ATTEMPTS):
            host.pacer.wait()
            page = self._request(host, url, target, headers)
            page.requests = attempt + 1
            host.pacer.done()
            if page.status not in (429, 503):
                break
            wait = page.retry_wait if page.retry_wait is not None else BACKOFF * 2**attempt
            if wait > MAX_RETRY_WAIT or attempt == MAX_ATTEMPTS - 1:
                page.error = f"HTTP {page.status} (asked to wait {wait:.0f} s)"
                if wait > MAX_RETRY_WAIT:
                    host.down = f"the portal asked us to wait {wait:.0f} s (HTTP {page.status})"
                break
            host.pacer.hold(wait)
        self._count(host, page)
        return page

    def _request(self, host: Host, url: str, target: str, headers: dict[str, str]) -> Page:
        try:
            with host.client.stream("GET", target, headers=headers) as response:
                content = b""
                if response.status_code == 200:
                    chunks, size = [], 0
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > MAX_PAGE_BYTES:
                            return Page(url, target, response.status_code, error="page too large")
                        chunks.append(chunk)
                    content = b"".join(chunks)
        except httpx.HTTPError as exc:
            return Page(url, target, error=_transport_reason(exc))
        status = response.status_code
        page = Page(
            url,
            target,
            status,
            content,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            content_type=response.headers.get("content-type", ""),
        )
        if status in (301, 302, 303, 307, 308):
            location = response.headers.get("location")
            if not location:
                page.error = f"HTTP {status} without a Location"
            else:
                page.final_url = urljoin(target, location)
        elif status in (429, 503):
            page.retry_wait = retry_after(response.headers.get("retry-after"), self.clock.now())
        elif status not in (200, 304):
            page.error = f"HTTP {status}"
        return page

    @staticmethod
    def _count(host: Host, page: Page) -> None:
        """Track consecutive silence and server errors; enough of them mark the host down."""
        if page.status == 0 and not (page.error or "").startswith("TLS"):
            host.silence += 1
        else:
            host.silence = 0
        host.errors = host.errors + 1 if page.status >= 500 else 0
        if host.silence >= DOWN_AFTER_SILENCE:
            host.down = f"the portal does not answer ({page.error})"
        elif host.errors >= DOWN_AFTER_ERRORS:
            host.down = f"the portal answers errors (HTTP {page.status})"


def _crawl_delay(host: Host) -> float:
    return host.robots.crawl_delay() if host.robots is not None else 0.0


def _same_site(a: str, b: str) -> bool:
    """Whether a redirect stays on the portal (http→https and www. do)."""
    strip = lambda u: (urlsplit(u).hostname or "").lower().removeprefix("www.")  # noqa: E731
    return strip(a) == strip(b)


def _transport_reason(exc: httpx.HTTPError) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate error: {cause.verify_message or cause}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {cause}"
        cause = cause.__cause__ or cause.__context__
    if "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return f"TLS certificate error: {exc}"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {exc}"
    return f"{type(exc).__name__}: {exc}"
