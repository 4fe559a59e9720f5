"""The application factory: configuration, URL converters, security headers, and wiring.

Nothing is opened at import time. The pieces each have their module and an ``init_app``:
the Searcher (``webui.extension``), error handling (``webui.errors``), template filters
(``webui.formatting``); the routes are the blueprint of ``webui.views``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from flask import Flask
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response

from webui import errors, extension, formatting, views

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

    extension.init_app(app)
    errors.init_app(app)
    formatting.init_app(app)
    app.register_blueprint(views.bp)
    app.after_request(_add_security_headers)
    return app


def _add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
