"""The one blueprint: search page, document page, JSON API, feed, OpenSearch, health.

Views are thin: they read arguments, call the Searcher, hand the results to a presenter
(``webui.presenters``) and render or ``jsonify`` what it returns. Failures are raised and
answered by ``webui.errors``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

from flask import Blueprint, abort, current_app, jsonify, render_template, request, url_for
from markupsafe import escape
from werkzeug.wrappers import Response

from searcher.errors import IndexUnavailableError
from searcher.results import Results
from webui import presenters
from webui.errors import recover, refuse_query
from webui.extension import get_searcher
from webui.params import ArgumentError, SearchArgs, parse_search_args
from webui.presenters import Links

log = logging.getLogger(__name__)

bp = Blueprint("bantin", __name__)


def links(*, external: bool = False) -> Links:
    """URLs of this blueprint for the presenters; absolute ones for feeds."""
    return Links(
        search=partial(url_for, "bantin.index", _external=external),
        doc=partial(url_for, "bantin.doc", _external=external),
        feed=partial(url_for, "bantin.feed", _external=external),
    )


def search_args(*, strict: bool, default_sort: str = "relevance") -> tuple[SearchArgs, list[str]]:
    """This request's search arguments (see parse_search_args)."""
    return parse_search_args(
        request.args, current_app.config, strict=strict, default_sort=default_sort
    )


def run_search(args: SearchArgs) -> Results:
    """Search with ``args``. IndexUnavailableError passes (503); anything else is a 400."""
    searcher = get_searcher()
    return recover(
        lambda: searcher.search(
            args.q,
            locality=args.locality,
            province=args.province,
            year=args.year,
            sort=args.sort,
            page=args.page,
            per_page=args.per_page,
        ),
        refuse_query,
        "search",
        args,
    )


# --- HTML pages --------------------------------------------------------------------------


@bp.get("/")
def index() -> str:
    """The search page; the landing page when there is neither a query nor a filter."""
    args, notes = search_args(strict=False)
    config = current_app.config
    if not args.q and not args.filters:
        doc_count = get_searcher().doc_count()
        context = presenters.landing_page(
            args, doc_count, config["EXAMPLE_QUERIES"], links(), notes
        )
        return render_template("index.html", **context)
    results = run_search(args)
    if results.total and args.page > results.pages:
        # A page past the end (an old link, a hand-edited URL): show the last one instead.
        args = replace(args, page=results.pages)
        results = run_search(args)
    context = presenters.search_page(
        args,
        results,
        links(),
        notes,
        facet_size=config["FACET_SIZE"],
        max_page=config["MAX_PAGE"],
    )
    return render_template("index.html", **context)


@bp.get("/doc/<docid:doc_id>", merge_slashes=False)
def doc(doc_id: str) -> str:
    """One whole bulletin, the query's words highlighted, with the way back to the results."""
    args, _notes = search_args(strict=False)
    searcher = get_searcher()
    document = recover(lambda: searcher.doc(doc_id), lambda _error: None, "doc lookup", doc_id)
    if document is None:
        abort(404)

    def mark(text: str) -> str:
        """HTML-safe text with the query's words in <mark> (|safe in the template)."""
        if args.q:
            try:
                return str(searcher.highlight(text, args.q))
            except Exception:
                log.exception("highlight failed for %r", args.q)
        return str(escape(text))

    context = presenters.document_page(document, args, links(), mark)
    return render_template("doc.html", **context)


# --- JSON API --------------------------------------------------------------------------------


@bp.get("/api/search")
def api_search() -> Response:
    """The search result JSON of the contract.

    An empty ``q`` is not an error: it lists the bulletins matching the filters, newest first
    unless ``sort`` says otherwise (so ``/api/search?locality=…`` browses a locality).
    """
    default_sort = "date" if not (request.args.get("q") or "").strip() else "relevance"
    args, _ = search_args(strict=True, default_sort=default_sort)
    return jsonify(run_search(args).to_dict())


@bp.get("/api/suggest")
def api_suggest() -> Response:
    """Completions for a partial query: a JSON list of strings.

    ``format=opensearch`` answers in the OpenSearch suggestions format ``[query, [...]]``.
    """
    q = request.args.get("q") or ""
    config = current_app.config
    max_length = config["MAX_QUERY_LENGTH"]
    if len(q) > max_length:
        raise ArgumentError(f"'q' is longer than {max_length} characters")
    completions: list[str] = []
    if q.strip():
        searcher = get_searcher()
        completions = recover(
            lambda: list(searcher.complete(q, limit=config["SUGGEST_LIMIT"])),
            lambda _error: [],
            "completion",
            q,
        )
    if request.args.get("format") == "opensearch":
        return current_app.response_class(
            json.dumps([q, completions], ensure_ascii=False),
            mimetype="application/x-suggestions+json",
        )
    return jsonify(completions)


# --- feeds and discovery -----------------------------------------------------------------


@bp.get("/feed")
def feed() -> Response:
    """An Atom feed of the newest bulletins matching a search, for feed readers."""
    args, _ = search_args(strict=True)
    args = replace(args, sort="date", page=1, per_page=current_app.config["FEED_SIZE"])
    results = run_search(args)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = render_template("atom.xml", **presenters.feed(args, results, links(external=True), now))
    return current_app.response_class(body, mimetype="application/atom+xml")


@bp.get("/opensearch.xml")
def opensearch() -> Response:
    """OpenSearch description, so browsers can add bantin as a search engine."""
    root = url_for("bantin.index", _external=True)
    body = render_template(
        "opensearch.xml",
        html_template=root + "?q={searchTerms}",
        suggest_template=url_for("bantin.api_suggest", _external=True)
        + "?format=opensearch&q={searchTerms}",
        atom_template=url_for("bantin.feed", _external=True) + "?q={searchTerms}",
        self_url=url_for("bantin.opensearch", _external=True),
        search_form_url=root,
        icon_url=url_for("static", filename="favicon.svg", _external=True),
    )
    return current_app.response_class(body, mimetype="application/opensearchdescription+xml")


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 with the document count when the index is readable, 503 with the reason otherwise."""
    try:
        documents = get_searcher().doc_count()
    except IndexUnavailableError as error:
        response, status = jsonify(status="unavailable", error=str(error)), 503
    except Exception as error:
        log.exception("health check failed")
        response = jsonify(status="unavailable", error=f"index unreadable: {type(error).__name__}")
        status = 503
    else:
        response, status = jsonify(status="ok", documents=documents), 200
    response.headers["Cache-Control"] = "no-store"
    return response, status
