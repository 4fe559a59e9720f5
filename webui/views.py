"""The one blueprint: search page, document page, JSON API, feed, OpenSearch, health.

Views are thin: they read arguments, call the Searcher, and prepare plain data (Datasette
style: every facet value, chip, page link and sort option arrives with its URL already built),
so templates only render.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from flask import Blueprint, Flask, abort, current_app, jsonify, render_template, request, url_for
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from searcher.errors import IndexUnavailableError
from webui.app import error_response, get_searcher

log = logging.getLogger(__name__)

bp = Blueprint("bantin", __name__)

#: Filters in display order; each is also a facet of the results.
FILTERS = ("province", "locality", "year")
FACET_LABELS = {"province": "Tỉnh/thành phố", "locality": "Địa phương", "year": "Năm"}
SORTS = {"relevance": "Liên quan nhất", "date": "Mới nhất"}
MAX_FILTER_LENGTH = 200
#: Tag URI authority for feed and entry ids: stable whatever host serves the app.
TAG_PREFIX = "tag:bantin,2024:"


class ArgumentError(ValueError):
    """A request argument the strict surfaces (API, feed) refuse with a 400."""


class SearchFailedError(Exception):
    """The searcher raised on a query; shown as a 400, never as a 5xx."""


@dataclass(frozen=True, slots=True)
class SearchArgs:
    """The validated arguments of a search, and how to write them back into a URL."""

    q: str = ""
    province: str | None = None
    locality: str | None = None
    year: str | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = 10

    @property
    def filters(self) -> dict[str, str]:
        """The active filters, in display order."""
        return {name: value for name in FILTERS if (value := getattr(self, name))}

    def params(self, **changes: Any) -> dict[str, Any]:
        """Query-string parameters for these arguments with ``changes``; defaults left out."""
        args = replace(self, **changes)
        params: dict[str, Any] = {}
        if args.q:
            params["q"] = args.q
        params.update(args.filters)
        if args.sort != "relevance":
            params["sort"] = args.sort
        if args.page != 1:
            params["page"] = args.page
        if args.per_page != current_app.config["PER_PAGE"]:
            params["per_page"] = args.per_page
        return params

    def url(self, **changes: Any) -> str:
        """The search page for these arguments with ``changes``."""
        return url_for("bantin.index", **self.params(**changes))


def _int_arg(raw: str | None, name: str, low: int, high: int, default: int, strict: bool) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        if strict:
            raise ArgumentError(f"'{name}' must be an integer from {low} to {high}") from None
        return default
    if low <= value <= high:
        return value
    if strict:
        raise ArgumentError(f"'{name}' must be an integer from {low} to {high}")
    return min(max(value, low), high)


def parse_search_args(
    raw: MultiDict[str, str], *, strict: bool, default_sort: str = "relevance"
) -> tuple[SearchArgs, list[str]]:
    """Read search arguments from a query string.

    ``strict`` (API, feed): anything invalid raises ArgumentError, for a 400. Otherwise (HTML
    pages) invalid values fall back to defaults, an over-long query is cut, and the returned
    notes tell the visitor. Unknown parameters are ignored either way.
    """
    config = current_app.config
    notes: list[str] = []
    q = (raw.get("q") or "").strip()
    max_length = config["MAX_QUERY_LENGTH"]
    if len(q) > max_length:
        if strict:
            raise ArgumentError(f"'q' is longer than {max_length} characters")
        q = q[:max_length].strip()
        notes.append(f"Câu tìm kiếm quá dài nên chỉ dùng {max_length} ký tự đầu tiên.")

    filters: dict[str, str | None] = {}
    for name in FILTERS:
        value = (raw.get(name) or "").strip() or None
        if value is not None and len(value) > MAX_FILTER_LENGTH:
            if strict:
                raise ArgumentError(f"'{name}' is longer than {MAX_FILTER_LENGTH} characters")
            value = None
        if name == "year" and value is not None and not re.fullmatch(r"\d{4}", value):
            if strict:
                raise ArgumentError("'year' must be a four-digit year")
            value = None
        filters[name] = value

    sort = (raw.get("sort") or "").strip() or default_sort
    if sort not in SORTS:
        if strict:
            raise ArgumentError(f"'sort' must be one of: {', '.join(SORTS)}")
        sort = default_sort

    page = _int_arg(raw.get("page"), "page", 1, config["MAX_PAGE"], 1, strict)
    per_page = _int_arg(
        raw.get("per_page"), "per_page", 1, config["MAX_PER_PAGE"], config["PER_PAGE"], strict
    )
    args = SearchArgs(q=q, sort=sort, page=page, per_page=per_page, **filters)
    return args, notes


def run_search(args: SearchArgs) -> Any:
    """Search with ``args``. IndexUnavailableError passes (503); anything else is a 400."""
    searcher = get_searcher()
    try:
        return searcher.search(
            args.q,
            locality=args.locality,
            province=args.province,
            year=args.year,
            sort=args.sort,
            page=args.page,
            per_page=args.per_page,
        )
    except IndexUnavailableError:
        raise
    except Exception as error:
        log.exception("search failed for %r", args)
        raise SearchFailedError(str(error)) from error


@bp.app_errorhandler(IndexUnavailableError)
def _index_unavailable(error: IndexUnavailableError) -> Response:
    log.warning("index unavailable: %s", error)
    return error_response(503)


@bp.app_errorhandler(SearchFailedError)
def _search_failed(error: SearchFailedError) -> Response:
    return error_response(400, "Không thể xử lý câu tìm kiếm này. Hãy thử diễn đạt khác.")


# --- data for templates (Datasette style: URLs built here, never in templates) -------------


def build_facets(
    args: SearchArgs, facets: dict[str, list[Any]], total: int
) -> list[dict[str, Any]]:
    """Each facet as ``{name, label, results: [{value, label, count, toggle_url, selected}],
    truncated}``; a selected value toggles its filter off, any other value sets it."""
    size = current_app.config["FACET_SIZE"]
    out = []
    for name in FILTERS:
        active = getattr(args, name)
        results = []
        for facet_value in facets.get(name, []):
            value = str(facet_value.value)
            selected = value == active
            results.append(
                {
                    "value": value,
                    "label": value,
                    "count": facet_value.count,
                    "toggle_url": args.url(**{name: None if selected else value, "page": 1}),
                    "selected": selected,
                }
            )
        if active and not any(item["selected"] for item in results):
            # The searcher matches filters loosely ("Sa Dec" finds "Thành phố Sa Đéc"), so the
            # typed value may not be a facet value: list it anyway, so it can be turned off
            # here too. Every result passes the filter, hence the count.
            results.insert(
                0,
                {
                    "value": active,
                    "label": active,
                    "count": total,
                    "toggle_url": args.url(**{name: None, "page": 1}),
                    "selected": True,
                },
            )
        shown = [item for i, item in enumerate(results) if i < size or item["selected"]]
        if shown:
            out.append(
                {
                    "name": name,
                    "label": FACET_LABELS[name],
                    "results": shown,
                    "truncated": len(shown) < len(results),
                }
            )
    return out


def build_chips(args: SearchArgs) -> list[dict[str, str]]:
    """Active filters as removable chips."""
    return [
        {
            "name": name,
            "label": FACET_LABELS[name],
            "value": value,
            "remove_url": args.url(**{name: None, "page": 1}),
        }
        for name, value in args.filters.items()
    ]


def build_sort_options(args: SearchArgs) -> list[dict[str, Any]]:
    return [
        {
            "value": value,
            "label": label,
            "url": args.url(sort=value, page=1),
            "selected": value == args.sort,
        }
        for value, label in SORTS.items()
    ]


def build_pagination(args: SearchArgs, pages: int) -> dict[str, Any] | None:
    """Previous/next links and a window of page numbers (None stands for a gap)."""
    pages = min(pages, current_app.config["MAX_PAGE"])
    if pages <= 1:
        return None
    current = args.page
    numbers = sorted({1, pages, *range(max(1, current - 2), min(pages, current + 2) + 1)})
    items: list[dict[str, Any] | None] = []
    previous = 0
    for number in numbers:
        if number - previous > 1:
            items.append(None)
        items.append({"number": number, "url": args.url(page=number), "current": number == current})
        previous = number
    return {
        "prev_url": args.url(page=current - 1) if current > 1 else None,
        "next_url": args.url(page=current + 1) if current < pages else None,
        "pages": items,
    }


def doc_url(doc_id: str, args: SearchArgs, **kwargs: Any) -> str:
    """Link to a bulletin that carries the search along (for highlighting and the way back)."""
    return url_for("bantin.doc", doc_id=doc_id, **args.params(), **kwargs)


def build_hits(args: SearchArgs, hits: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": hit.id,
            "url": doc_url(hit.id, args),
            "title_html": hit.title_html,  # HTML-safe from the searcher: |safe in the template
            "snippet": hit.snippet,
            "date": hit.date,
            "locality": hit.locality,
            "province": hit.province,
            "author": hit.author,
        }
        for hit in hits
    ]


def _feed_params(args: SearchArgs) -> dict[str, str]:
    """A feed follows the query and filters; sort and paging are the feed's own."""
    params: dict[str, str] = {"q": args.q} if args.q else {}
    params.update(args.filters)
    return params


def feed_url(args: SearchArgs, *, external: bool = False) -> str:
    return url_for("bantin.feed", **_feed_params(args), _external=external)


# --- HTML pages --------------------------------------------------------------------------


@bp.get("/")
def index() -> str:
    """The search page; the landing page when there is neither a query nor a filter."""
    args, notes = parse_search_args(request.args, strict=False)
    searcher = get_searcher()
    if not args.q and not args.filters:
        return render_template(
            "index.html",
            args=args,
            landing=True,
            doc_count=searcher.doc_count(),
            examples=[
                {"query": example, "url": url_for("bantin.index", q=example)}
                for example in current_app.config["EXAMPLE_QUERIES"]
            ],
            feed_url=feed_url(args),
            notes=notes,
        )
    results = run_search(args)
    if results.total and args.page > results.pages:
        # A page past the end (an old link, a hand-edited URL): show the last one instead.
        args = replace(args, page=results.pages)
        results = run_search(args)
    return render_template(
        "index.html",
        args=args,
        landing=False,
        results=results,
        hits=build_hits(args, results.hits),
        notes=notes + list(results.warnings),
        suggestion_url=args.url(q=results.suggestion, page=1) if results.suggestion else None,
        facets=build_facets(args, results.facets, results.total),
        chips=build_chips(args),
        clear_filters_url=args.url(province=None, locality=None, year=None, page=1),
        sort_options=build_sort_options(args),
        pagination=build_pagination(args, results.pages),
        feed_url=feed_url(args),
        first_rank=(args.page - 1) * args.per_page + 1,
    )


def _safe_external_url(url: str | None) -> str | None:
    """Only http(s) links leave the site: a stored javascript: URL must never become a link."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


@bp.get("/doc/<docid:doc_id>", merge_slashes=False)
def doc(doc_id: str) -> str:
    """One whole bulletin, the query's words highlighted, with the way back to the results."""
    args, _notes = parse_search_args(request.args, strict=False)
    searcher = get_searcher()
    try:
        document = searcher.doc(doc_id)
    except IndexUnavailableError:
        raise
    except Exception:
        log.exception("doc lookup failed for %r", doc_id)
        document = None
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

    paragraphs = [mark(part.strip()) for part in document.body.split("\n\n") if part.strip()]
    in_results = bool(args.q or args.filters)

    def filter_url(name: str, value: str | None) -> str | None:
        return url_for("bantin.index", **{name: value}) if value else None

    return render_template(
        "doc.html",
        args=args,
        document=document,
        title_html=mark(document.title),
        paragraphs=paragraphs,
        back_url=args.url() if in_results else None,
        home_url=url_for("bantin.index"),
        locality_url=filter_url("locality", document.locality),
        province_url=filter_url("province", document.province),
        year_url=filter_url("year", (document.date or "")[:4] or None),
        source_url=_safe_external_url(document.url),
        feed_url=feed_url(args),
    )


# --- JSON API --------------------------------------------------------------------------------


@bp.get("/api/search")
def api_search() -> Response:
    """The search result JSON of the contract.

    An empty ``q`` is not an error: it lists the bulletins matching the filters, newest first
    unless ``sort`` says otherwise (so ``/api/search?locality=…`` browses a locality).
    """
    default_sort = "date" if not (request.args.get("q") or "").strip() else "relevance"
    try:
        args, _ = parse_search_args(request.args, strict=True, default_sort=default_sort)
    except ArgumentError as error:
        return error_response(400, str(error))
    return jsonify(run_search(args).to_dict())


@bp.get("/api/suggest")
def api_suggest() -> Response:
    """Completions for a partial query: a JSON list of strings.

    ``format=opensearch`` answers in the OpenSearch suggestions format ``[query, [...]]``.
    """
    q = request.args.get("q") or ""
    max_length = current_app.config["MAX_QUERY_LENGTH"]
    if len(q) > max_length:
        return error_response(400, f"'q' is longer than {max_length} characters")
    completions: list[str] = []
    if q.strip():
        searcher = get_searcher()
        try:
            completions = list(searcher.complete(q, limit=current_app.config["SUGGEST_LIMIT"]))
        except IndexUnavailableError:
            raise
        except Exception:
            log.exception("completion failed for %r", q)
    if request.args.get("format") == "opensearch":
        return current_app.response_class(
            json.dumps([q, completions], ensure_ascii=False),
            mimetype="application/x-suggestions+json",
        )
    return jsonify(completions)


# --- feeds and discovery -----------------------------------------------------------------


def _atom_datetime(iso_date: str | None) -> str | None:
    if not iso_date:
        return None
    try:
        day = date.fromisoformat(iso_date[:10])
    except ValueError:
        return None
    return f"{day.isoformat()}T00:00:00Z"


@bp.get("/feed")
def feed() -> Response:
    """An Atom feed of the newest bulletins matching a search, for feed readers."""
    try:
        args, _ = parse_search_args(request.args, strict=True)
    except ArgumentError as error:
        return error_response(400, str(error))
    args = replace(args, sort="date", page=1, per_page=current_app.config["FEED_SIZE"])
    results = run_search(args)
    search_args = replace(args, sort="relevance", per_page=current_app.config["PER_PAGE"])
    entries = []
    for hit in results.hits:
        entries.append(
            {
                "id": TAG_PREFIX + "doc:" + quote(hit.id, safe=""),
                "title": hit.title,
                "updated": _atom_datetime(hit.date),
                "url": url_for("bantin.doc", doc_id=hit.id, _external=True),
                "summary": hit.snippet,
                "author": hit.author,
                "categories": [value for value in (hit.province, hit.locality) if value],
            }
        )
    dated = [entry["updated"] for entry in entries if entry["updated"]]
    updated = max(dated) if dated else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for entry in entries:
        # Atom requires a date. Undated bulletins come last in a date sort; the oldest date
        # shown keeps them there in readers that re-sort, instead of posing as news.
        entry["updated"] = entry["updated"] or (min(dated) if dated else updated)
    described = [args.q and f"«{args.q}»", *args.filters.values()]
    title = " · ".join(part for part in described if part) or "Bản tin mới nhất"
    feed_params = urlencode(_feed_params(args))
    body = render_template(
        "atom.xml",
        feed_id=TAG_PREFIX + "feed" + ("?" + feed_params if feed_params else ""),
        title=f"bantin — {title}",
        updated=updated,
        self_url=feed_url(args, external=True),
        alternate_url=url_for("bantin.index", **search_args.params(), _external=True),
        entries=entries,
    )
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


# --- template filters ----------------------------------------------------------------------

#: Characters XML 1.0 forbids; a stray one in a bulletin would make the whole feed unreadable.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: Any) -> Any:
    """Drop characters XML 1.0 cannot carry, keeping Markup as Markup."""
    if value is None:
        return ""
    cleaned = _XML_INVALID.sub("", str(value))
    return Markup(cleaned) if isinstance(value, Markup) else cleaned


def vi_int(value: int) -> str:
    """1234567 → "1.234.567" (Vietnamese groups thousands with dots)."""
    return f"{int(value):,}".replace(",", ".")


def vi_decimal(value: float, digits: int = 1) -> str:
    """4.1 → "4,1" (Vietnamese decimal comma)."""
    text = f"{float(value):,.{digits}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def vi_date(value: str | None) -> str:
    """ISO "2022-07-05" → "05/07/2022"; anything else as given."""
    if not value:
        return ""
    try:
        return date.fromisoformat(value[:10]).strftime("%d/%m/%Y")
    except ValueError:
        return value


def register_filters(app: Flask) -> None:
    """Jinja filters the templates use (formatting only, never URLs)."""
    app.jinja_env.filters.update(
        xml_text=xml_text, vi_int=vi_int, vi_decimal=vi_decimal, vi_date=vi_date
    )
    app.jinja_env.globals.update(facet_labels=FACET_LABELS)
