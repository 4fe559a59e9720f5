"""The Searcher as a Flask extension, in the shape of flaskr's ``db.py``.

``init_app(app)`` gives each app one Searcher holder in ``app.extensions``; ``get_searcher()``
is how views reach it. The Searcher itself opens on the first request that needs it, so the
app starts (and ``/healthz`` can say what is wrong) even while the index is missing, and a
Searcher is shared by all requests because opening one loads the index's side files.
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from searcher import Searcher, default_index_dir

#: The key of the holder in ``app.extensions``.
EXTENSION = "bantin"


class SearcherHolder:
    """One Searcher per app, opened lazily and thread-safely, retried until it opens."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        self._lock = threading.Lock()
        self._searcher: Searcher | None = None

    def get(self) -> Searcher:
        """The open Searcher; raises IndexUnavailableError (not cached) when it cannot open."""
        searcher = self._searcher
        if searcher is not None:
            return searcher
        with self._lock:
            if self._searcher is None:
                self._searcher = Searcher(self.index_dir)
            return self._searcher

    def close(self) -> None:
        """Close the Searcher if it was opened; safe to call twice."""
        with self._lock:
            searcher, self._searcher = self._searcher, None
        if searcher is not None:
            searcher.close()


def resolve_index_dir(value: Any) -> Path:
    """The configured index folder, or the per-user default when none is configured."""
    if value:
        return Path(value).expanduser()
    return Path(default_index_dir())


def init_app(app: Flask) -> None:
    """Attach a Searcher holder for ``app.config["BANTIN_INDEX"]`` to ``app``."""
    holder = SearcherHolder(resolve_index_dir(app.config["BANTIN_INDEX"]))
    app.extensions[EXTENSION] = holder
    # Flask has no app-level teardown: close when the app is collected or at interpreter exit.
    weakref.finalize(app, holder.close)


def get_searcher() -> Searcher:
    """The current app's Searcher (see SearcherHolder.get)."""
    return current_app.extensions[EXTENSION].get()


def close_searcher(app: Flask) -> None:
    """Close ``app``'s Searcher now (a server stopping); the next request opens it again."""
    app.extensions[EXTENSION].close()
