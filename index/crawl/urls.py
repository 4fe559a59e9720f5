"""URL canonicalisation and the stable bulletin id derived from it.

One article is reachable under many URLs: Liferay's Asset Publisher links it as
``…/-/asset_publisher/<instance>/content/<slug>?redirect=…`` from a listing and as ``…/-/<slug>``
from the sitemap; mail and social links add ``utm_*``/``fbclid``; anchors add fragments. The
canonical form folds these into one, so a bulletin has one id however it was found.

courlan's tracker filter is not used: its pattern drops ``cid``, ``source`` and ``uid``, which
query-string portals use as article and category ids.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

# Tracking parameters: never part of what a page is.
_TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|igshid|mc_cid|mc_eid|zarsrc"
    r"|_ga|_gl|_hsenc|_hsmi)$",
    re.I,
)
# Liferay's navigation parameters: where to go back to, which portlet state; not the article.
_LIFERAY_NOISE = re.compile(
    r"^(redirect|inheritRedirect|backURL|p_p_\w+|p_r_p_\w+|_\w+_(redirect|backURL|"
    r"inheritRedirect|assetEntryId|type|urlTitle))$"
)
_ASSET_PUBLISHER = re.compile(r"/-/asset_publisher/[^/]+/content/([^/?#]+)")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """The one form of ``url`` that all its variants share (for identity, not for fetching)."""
    return _rebuild(url, article=True)


def clean_url(url: str) -> str:
    """``url`` without tracking parameters and fragment: the form worth requesting."""
    return _rebuild(url, article=False)


def _rebuild(url: str, *, article: bool) -> str:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    netloc = host
    if parts.port and parts.port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{parts.port}"
    path = quote(unquote(parts.path), safe="/-._~!$&'()*+,;=:@%") or "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    query = [(k, v) for k, v in query if not _TRACKING.match(k)]
    if article:
        path = _ASSET_PUBLISHER.sub(r"/-/\1", path)
        query = sorted((k, v) for k, v in query if not _LIFERAY_NOISE.match(k))
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def host_of(url: str) -> str:
    """The ``host[:port]`` a URL is requested from (politeness is per host)."""
    return urlsplit(url).netloc.lower()


def bulletin_id(canonical: str) -> str:
    """A stable, file-name-safe id: the host, then a hash of the canonical URL.

    The host keeps ids readable and grouped by portal; the hash keeps them short and fixed
    whatever the slug's length or the portal's label in the file.
    """
    host = urlsplit(canonical).hostname or "portal"
    digest = hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:16]
    return f"{host}_{digest}"


# --- pagination -------------------------------------------------------------------------

# Query parameters that number a listing's pages: Liferay's ``_<portlet>_cur``, ``page``,
# ``trang`` ("page" in Vietnamese). Not ``p``: WordPress numbers its articles with it.
_PAGE_PARAM = re.compile(r"^(.*_cur|cur|page|trang|pageindex|pagenumber)$", re.I)
# Liferay's companions of ``_cur`` that do not change which list is shown.
_PAGE_COMPANION = re.compile(r"^(.*_(delta|resetCur)|p_p_\w+|redirect)$")
# Path forms: ``/trang-2``, ``/page/2``.
_PAGE_PATH = re.compile(r"/(?:trang-(\d+)|page/(\d+))/?$", re.I)


def page_number(url: str) -> tuple[str, int]:
    """(the listing ``url`` belongs to, its page number): page 1 when it says none."""
    parts = urlsplit(clean_url(url))
    number = 1
    path = parts.path
    match = _PAGE_PATH.search(path)
    if match:
        number = int(next(g for g in match.groups() if g))
        path = path[: match.start()] or "/"
    query = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if _PAGE_PARAM.match(key) and value.isdigit():
            number = int(value)
        elif not _PAGE_COMPANION.match(key):
            query.append((key, value))
    path = path.rstrip("/") or "/"
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), "")), number
