"""Every error a visitor can meet, answered in one place: JSON under /api, a page elsewhere.

Views raise (``abort(404)``, ArgumentError, SearchFailedError, the searcher's
IndexUnavailableError) and the handlers registered by ``init_app`` answer; ``recover`` is
the one way a view calls the Searcher when a failure has a fallback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from searcher.errors import IndexUnavailableError
from webui.params import ArgumentError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Vietnamese messages for the errors a visitor can meet.
ERROR_MESSAGES = {
    400: ("Yêu cầu không hợp lệ", "Các tham số của yêu cầu không đúng."),
    404: ("Không tìm thấy trang", "Trang hoặc bản tin bạn tìm không tồn tại."),
    405: ("Phương thức không được hỗ trợ", "Trang này chỉ hỗ trợ yêu cầu GET."),
    500: ("Đã có lỗi xảy ra", "Máy chủ gặp sự cố khi xử lý yêu cầu. Vui lòng thử lại sau."),
    503: ("Chưa sẵn sàng", "Chỉ mục tìm kiếm chưa sẵn sàng. Vui lòng thử lại sau."),
}
SEARCH_FAILED_MESSAGE = "Không thể xử lý câu tìm kiếm này. Hãy thử diễn đạt khác."


class SearchFailedError(Exception):
    """The searcher raised on a query; shown as a 400, never as a 5xx."""


def recover(
    call: Callable[[], T], on_error: Callable[[Exception], T], what: str, subject: Any
) -> T:
    """``call()``, a Searcher call; on failure, log it and answer ``on_error(error)`` instead.

    IndexUnavailableError passes through (its handler answers 503); anything else is a
    searcher bug whose details must never reach the visitor.
    """
    try:
        return call()
    except IndexUnavailableError:
        raise
    except Exception as error:
        log.exception("%s failed for %r", what, subject)
        return on_error(error)


def refuse_query(error: Exception) -> NoReturn:
    """``on_error`` for searches: a query the searcher cannot run is the visitor's 400."""
    raise SearchFailedError(str(error)) from error


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


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


def _handle_bad_argument(error: ArgumentError) -> Response:
    return error_response(400, str(error))


def _handle_search_failed(error: SearchFailedError) -> Response:
    return error_response(400, SEARCH_FAILED_MESSAGE)


def _handle_index_unavailable(error: IndexUnavailableError) -> Response:
    log.warning("index unavailable: %s", error)
    return error_response(503)


def _handle_unexpected_error(error: Exception) -> Response:
    log.exception("unhandled error on %s", request.path)
    return error_response(500)


def init_app(app: Flask) -> None:
    """Register the handlers; Flask picks the most specific one for each exception."""
    app.register_error_handler(HTTPException, _handle_http_error)
    app.register_error_handler(ArgumentError, _handle_bad_argument)
    app.register_error_handler(SearchFailedError, _handle_search_failed)
    app.register_error_handler(IndexUnavailableError, _handle_index_unavailable)
    app.register_error_handler(Exception, _handle_unexpected_error)
