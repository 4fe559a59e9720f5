"""Politeness: robots.txt rules, the pause between requests to a host, and Retry-After.

Time comes from an injected `Clock`, so tests check every pause without sleeping. One `Pacer`
per host spaces its requests by the larger of the portal's ``delay`` and robots.txt's
Crawl-delay, and holds the host back when it answers 429/503 with Retry-After.
"""

from __future__ import annotations

import email.utils
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from protego import Protego

#: The longest single pause; longer pauses are taken in slices so a stop request is heard.
_SLICE = 1.0


class Clock(Protocol):
    """Where the crawler reads the time (epoch seconds) and waits."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class Stopped(Exception):
    """The run was asked to stop (Ctrl-C) while waiting."""


@contextmanager
def stop_on_interrupt(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C also sets ``stop``, then raises KeyboardInterrupt as usual: should it land in
    code that swallows the exception, the run still stops at its next pause. Only in the main
    thread with Python's own handler in place (an embedding program keeps its own)."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return

    def interrupted(signum: int, frame: object) -> None:
        stop.set()
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@dataclass
class Pacer:
    """When the next request to one host may start."""

    clock: Clock
    delay: float
    stop: threading.Event = field(default_factory=threading.Event)
    _last: float = float("-inf")  # when the last request to the host ended
    _hold: float = 0.0  # no request before this (Retry-After, backoff)

    def wait(self) -> None:
        """Block until the host may be asked again (raises `Stopped` if told to stop)."""
        while True:
            if self.stop.is_set():
                raise Stopped
            left = max(self._last + self.delay, self._hold) - self.clock.now()
            if left <= 0:
                return
            self.clock.sleep(min(left, _SLICE))

    def done(self) -> None:
        """A request just ended: the next one waits ``delay`` from now (the delay may still
        grow, once robots.txt's Crawl-delay is known)."""
        self._last = self.clock.now()

    def hold(self, seconds: float) -> None:
        """The host asked for a pause (Retry-After or backoff): nothing before it ends."""
        self._hold = max(self._hold, self.clock.now() + max(seconds, self.delay))


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class Robots:
    """One host's robots.txt, read for our user agent."""

    parser: Protego | None  # None: no robots.txt (4xx), everything allowed
    agent: str

    @classmethod
    def parse(cls, text: str | None, user_agent: str) -> Robots:
        """Rules from a robots.txt body (None when the host has none)."""
        return cls(Protego.parse(text) if text is not None else None, product_token(user_agent))

    def allowed(self, url: str) -> bool:
        return self.parser is None or self.parser.can_fetch(url, self.agent)

    def crawl_delay(self) -> float:
        if self.parser is None:
            return 0.0
        return float(self.parser.crawl_delay(self.agent) or 0.0)

    def sitemaps(self) -> list[str]:
        return [] if self.parser is None else list(self.parser.sitemaps)


def product_token(user_agent: str) -> str:
    """The name robots.txt groups are matched against: "bantin" of "bantin/1 (+mailto:…)"."""
    first = user_agent.split()[0] if user_agent.split() else user_agent
    return first.split("/")[0]
