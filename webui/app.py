"""The application factory: configuration, the per-app Searcher, security headers, errors.

Nothing is opened at import time. The Searcher is opened on the first request that needs it,
so the app starts (and ``/healthz`` can say what is wrong) even while the index is missing.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)

#: Sent with every response. No inline script or style anywhere, so 'self' is enough.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

DEFAULT_CONFIG: dict[str, Any] = {
    # Index folder; None means searcher.default_index_dir().
    "BANTIN_INDEX": None,
    # Longer queries: 400 from the API and the feed, cut with a note on the HTML page.
    "MAX_QUERY_LENGTH": 500,
    "PER_PAGE": 10,
    "MAX_PER_PAGE": 50,
    "MAX_PAGE": 1000,
    "FEED_SIZE": 20,
    "SUGGEST_LIMIT": 8,
    # Facet values listed before "…"; a selected value is always listed.
    "FACET_SIZE": 10,
    "EXAMPLE_QUERIES": [
        "cai cach hanh chinh",
        "UBND Sa Đéc",
        "CCHC 2021",
        "hội nghị sơ kết",
        "Cao Lãnh",
    ],
    # Keep non-ASCII as is in JSON: the API speaks Vietnamese.
    "JSON_AS_ASCII": False,
}


class DocIdConverter(BaseConverter):
    """Any non-empty document id, '/' included, encoded as ONE path segment in links.

    Werkzeug's ``path`` converter keeps '/' raw and refuses a leading '/', so browsers would
    collapse '..' segments and the router would merge '//'. Quoting with ``safe=''`` turns
    every '/' into %2F; the WSGI server decodes it back before routing.
    """

    regex = ".+"
    part_isolating = False

    def to_url(self, value: Any) -> str:
        return quote(str(value), safe="")


class SearcherHolder:
    """One Searcher per app, opened lazily and thread-safely, retried until it opens."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        self._lock = threading.Lock()
        self._searcher: Any = None

    def get(self) -> Any:
        """The open Searcher; raises IndexUnavailableError (not cached) when it cannot open."""
        searcher = self._searcher
        if searcher is not None:
            return searcher
        from searcher import Searcher  # imported late so importing webui stays cheap

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


def get_searcher() -> Any:
    """The current app's Searcher (see SearcherHolder.get)."""
    return current_app.extensions["bantin"].get()


def _resolve_index_dir(value: Any) -> Path:
    if value:
        return Path(value).expanduser()
    from searcher import default_index_dir

    return Path(default_index_dir())


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web app.

    ``config`` (tests, ``bantin serve``) wins; without it the ``BANTIN_INDEX`` environment
    variable is read here, never inside ``searcher/``, so that
    ``waitress-serve --call webui:create_app`` works with no arguments.
    """
    app = Flask(__name__)
    app.config.from_mapping(DEFAULT_CONFIG)
    if config is None:
        env_index = os.environ.get("BANTIN_INDEX")
        if env_index:
            app.config["BANTIN_INDEX"] = env_index
    else:
        app.config.from_mapping(config)
    # Never serve the interactive debugger or tracebacks, whatever the environment says.
    app.debug = False
    app.json.ensure_ascii = bool(app.config["JSON_AS_ASCII"])  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the contract's key order

    app.url_map.converters["docid"] = DocIdConverter
    app.url_map.strict_slashes = False

    holder = SearcherHolder(_resolve_index_dir(app.config["BANTIN_INDEX"]))
    app.extensions["bantin"] = holder
    # Flask has no app-level teardown: close when the app is collected or at interpreter exit.
    weakref.finalize(app, holder.close)

    from webui import views

    app.register_blueprint(views.bp)
    views.register_filters(app)
    app.after_request(_add_security_headers)
    app.register_error_handler(HTTPException, _handle_http_error)
    app.register_error_handler(Exception, _handle_unexpected_error)
    return app


def _add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


#: Vietnamese messages for the errors a visitor can meet.
ERROR_MESSAGES = {
    400: ("Yêu cầu không hợp lệ", "Các tham số của yêu cầu không đúng."),
    404: ("Không tìm thấy trang", "Trang hoặc bản tin bạn tìm không tồn tại."),
    405: ("Phương thức không được hỗ trợ", "Trang này chỉ hỗ trợ yêu cầu GET."),
    500: ("Đã có lỗi xảy ra", "Máy chủ gặp sự cố khi xử lý yêu cầu. Vui lòng thử lại sau."),
    503: ("Chưa sẵn sàng", "Chỉ mục tìm kiếm chưa sẵn sàng. Vui lòng thử lại sau."),
}


def error_response(status: int, message: str | None = None) -> Response:
    """A friendly error: JSON ``{"error": …}`` under /api, a Vietnamese page elsewhere."""
    title, default = ERROR_MESSAGES.get(status, ERROR_MESSAGES[500])
    text = message or default
    if _wants_json():
        response = jsonify(error=text)
    else:
        response = current_app.make_response(
            render_template("error.html", status=status, title=title, message=text)
        )
    response.status_code = status
    return response


def _handle_http_error(error: HTTPException) -> Response:
    if error.code is None or error.code < 400:
        return error.get_response()
    status = error.code if error.code in ERROR_MESSAGES else 500 if error.code >= 500 else 400
    response = error_response(status)
    response.status_code = error.code
    if error.code == 405 and isinstance(error.valid_methods, list | tuple):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _handle_unexpected_error(error: Exception) -> Response:
    log.exception("unhandled error on %s", request.path)
    return error_response(500)
