"""End-to-end tests in real headless Chromium: what a person does with the search page."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from webui import create_app
from webui.extension import close_searcher

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUERY = "cai cach hanh chinh"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed (apt-get install chromium)"
    ),
]

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def base_url(corpus_index: Path) -> Iterator[str]:
    """The app on a real HTTP server on a free port, stopped after the module."""
    from werkzeug.serving import make_server

    app = create_app({"BANTIN_INDEX": str(corpus_index)})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="bantin-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        close_searcher(app)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            locale="vi-VN",
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(10_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh tab that fails the test on any console error (CSP violations included)."""
    tab = browser.new_page()
    errors: list[str] = []
    tab.on("console", lambda message: message.type == "error" and errors.append(message.text))
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    tab.close()
    assert errors == []


def results_total(page: Any) -> int:
    text = page.locator(".summary").inner_text()
    found = re.search(r"Tìm thấy ([\d.]+) kết quả", text)
    return int(found.group(1).replace(".", "")) if found else 0


def test_unaccented_query_shows_highlighted_accented_results(page, base_url):
    page.goto(base_url + "/")
    box = page.get_by_label("Tìm kiếm bản tin")
    assert box.evaluate("element => element === document.activeElement")  # autofocus
    box.fill(QUERY)
    box.press("Enter")
    page.wait_for_url(re.compile(r"\?q=cai\+cach\+hanh\+chinh$"))
    assert results_total(page) == 5
    assert page.locator(".result").count() == 5
    marked = {text.lower() for text in page.locator(".result mark").all_inner_texts()}
    assert marked & {"cải cách hành chính", "cải", "cách", "hành", "chính"}
    assert page.get_by_label("Tìm kiếm bản tin").input_value() == QUERY
    # <mark> is styled: a visible background, not the browser's default only.
    background = page.locator(".result mark").first.evaluate(
        "element => getComputedStyle(element).backgroundColor"
    )
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")


def test_locality_facet_narrows_results_and_counts(page, base_url):
    page.goto(f"{base_url}/?q={QUERY}")
    before = results_total(page)
    facet = page.locator("a[data-facet='locality']").first
    label = facet.locator(".facet-label").inner_text()
    count = int(facet.locator(".facet-count").inner_text().replace(".", ""))
    assert count < before
    facet.click()
    page.wait_for_url(re.compile(r"locality="))
    assert results_total(page) == count
    assert page.locator(".result").count() == count
    for meta in page.locator(".result-meta").all_inner_texts():
        assert label in meta
    selected = page.locator("a[data-facet='locality'].is-selected")
    assert selected.count() == 1
    assert selected.locator(".facet-count").inner_text() == str(count)
    # The chip removes the filter again.
    page.locator("a.chip").first.click()
    page.wait_for_url(re.compile(r"\?q=[^&]+$"))
    assert results_total(page) == before


def test_open_a_document_and_return(page, base_url):
    page.goto(f"{base_url}/?q={QUERY}&sort=date")
    first = page.locator(".result-title a").first
    title = first.inner_text()
    first.click()
    page.wait_for_url(re.compile(r"/doc/"))
    assert page.locator("h1.doc-title").inner_text() == title
    assert page.locator(".doc-body mark").count() > 0
    page.locator(".back-link").first.click()
    page.wait_for_url(re.compile(r"/\?q=cai\+cach\+hanh\+chinh&sort=date$"))
    assert page.locator(".result-title a").first.inner_text() == title


def test_completion_with_the_keyboard(page, base_url):
    page.goto(base_url + "/")
    box = page.locator("#q")
    assert box.get_attribute("role") == "combobox"
    box.press_sequentially("cai c", delay=30)
    listbox = page.locator("#q-suggestions[role='listbox']")
    options = listbox.locator("[role='option']")
    options.first.wait_for(state="visible")
    assert box.get_attribute("aria-expanded") == "true"
    assert box.get_attribute("aria-activedescendant") is None

    box.press("ArrowDown")
    box.press("ArrowDown")
    box.press("ArrowUp")
    first_id = options.first.get_attribute("id")
    assert box.get_attribute("aria-activedescendant") == first_id
    assert options.first.get_attribute("aria-selected") == "true"

    box.press("Escape")
    assert listbox.is_hidden()
    assert box.get_attribute("aria-expanded") == "false"

    box.press("ArrowDown")
    assert listbox.is_visible()
    chosen = options.first.inner_text()
    box.press("Enter")
    page.wait_for_url(re.compile(r"\?q="))
    assert page.locator("#q").input_value() == chosen
    assert page.locator(".summary").is_visible()


def test_phone_width_has_no_sideways_scrolling(page, base_url):
    page.set_viewport_size({"width": 390, "height": 844})
    for path in (f"/?q={QUERY}", "/", "/doc/001_43642a5dc4415f17?q=" + QUERY):
        page.goto(base_url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, path
