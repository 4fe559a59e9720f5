"""Screenshots of the results page at desktop and phone widths, for the README.

Builds an index of the shipped corpus in a temporary folder (unless ``--index`` is given),
serves the web UI on a free local port, and drives the system Chromium through Playwright::

    python benchmarks/screenshots.py [--index DIR] [--out docs/screenshots] [--query "…"]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from webui import create_app

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS = {
    "desktop": {"width": 1280, "height": 900},
    "phone": {"width": 390, "height": 844},
}


@contextmanager
def serving(index_dir: Path) -> Iterator[str]:
    """The web UI on 127.0.0.1 at a free port, for as long as the block runs."""
    server = make_server("127.0.0.1", 0, create_app({"BANTIN_INDEX": str(index_dir)}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def take_screenshots(base_url: str, out: Path, query: str) -> list[Path]:
    """One PNG per viewport of the results page for ``query``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            locale="vi-VN",
            color_scheme="light",
        )
        try:
            page = context.new_page()
            # The first search loads the segmentation model: keep that time out of the picture.
            page.goto(f"{base_url}/?q={query}")
            for name, viewport in VIEWPORTS.items():
                page.set_viewport_size(viewport)
                page.goto(f"{base_url}/?q={query}")
                # Screenshots should not show a focus ring or an open completion list.
                page.locator("#q").blur()
                path = out / f"results-{name}.png"
                page.screenshot(path=str(path))
                written.append(path)
        finally:
            context.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="an existing index (default: build one)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--query", default="cai cach hanh chinh")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        index_dir = options.index
        if index_dir is None:
            from index import build_index

            index_dir = Path(scratch) / "index"
            build_index([ROOT / "corpus"], index_dir)
        with serving(index_dir) as base_url:
            for path in take_screenshots(base_url, options.out, options.query):
                print(path)


if __name__ == "__main__":
    main()
