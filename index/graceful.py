"""Run waitress so that SIGTERM (or Ctrl-C) stops it without failing a request.

``waitress.serve`` stops on Ctrl-C by shutting its worker threads down at once: requests being
processed are cancelled and output already computed is never sent, because nothing runs the
socket loop any more. A replica restarted that way (systemd sends SIGTERM) loses the requests
it held, and haproxy cannot retry a response it has started to forward. Here the socket loop is
ours: on the signal the listening sockets close (new connections are refused, so a load
balancer retries them on another server), the loop keeps running until every in-flight request
has been answered and flushed (bounded by ``grace`` seconds), and only then do the threads stop.
"""

from __future__ import annotations

import signal
import time
from types import FrameType
from typing import Any

from waitress import create_server, wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer

POLL_SECONDS = 0.1  # how soon a signal is noticed: Python resumes poll() after a handler
IDLE_SECONDS = 0.5  # a kept-alive connection silent this long is closed while draining


def serve(app: Any, *, grace: float = 5.0, **options: Any) -> None:
    """Serve ``app`` (waitress ``options``) until SIGTERM or SIGINT, then drain and return."""
    server = create_server(app, **options)
    socket_map = server._map if isinstance(server, BaseWSGIServer) else server.map
    stopping: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping:
            _poll(server, socket_map)
        _drain(server, socket_map, grace)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.task_dispatcher.shutdown(timeout=1)
        wasyncore.close_all(socket_map)


def _poll(server: Any, socket_map: dict[int, Any]) -> None:
    wasyncore.loop(POLL_SECONDS, server.adj.asyncore_use_poll, socket_map, count=1)


def _drain(server: Any, socket_map: dict[int, Any], grace: float) -> None:
    """Stop listening, then run the loop until no connection is left (or ``grace`` is over)."""
    for listener in [d for d in socket_map.values() if isinstance(d, BaseWSGIServer)]:
        while True:  # take the connections the kernel already accepted: they hold requests
            before = len(socket_map)
            listener.handle_accept()
            if len(socket_map) == before:
                break
        wasyncore.dispatcher.close(listener)  # not listener.close(): the trigger must live on
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        channels = [d for d in socket_map.values() if isinstance(d, HTTPChannel)]
        if not channels:
            return
        now = time.time()  # waitress stamps last_activity with time.time()
        for channel in channels:
            busy = channel.requests or channel.request is not None or channel.total_outbufs_len
            if not busy and now - channel.last_activity > IDLE_SECONDS:
                channel.will_close = True  # closed by the loop's next write pass
        _poll(server, socket_map)
