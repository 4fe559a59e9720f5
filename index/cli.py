"""The ``bantin`` command: index, search, serve, and pull or verify a replica.

The command bodies only read options (and ``BANTIN_INDEX``), build the library objects and
call them; everything else lives in :mod:`index.build`, :mod:`index.replica`, :mod:`searcher` and
:mod:`webui`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from html import unescape
from pathlib import Path

import click

from corpus import corpus_files
from index.build import BuildReport, NothingIndexedError, build_index, update_index
from index.cluster import ClusterError
from index.replica import PullError, PullReport, pull
from searcher import IndexLockedError, IndexUnavailableError, Searcher, default_index_dir
from searcher.storage import current_stamp, generation_names
from searcher.verify import Verification, verify_index

_INDEX_OPTION = click.option(
    "--index",
    "index_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="BANTIN_INDEX",
    show_envvar=True,
    help="Index folder (default: a per-user data folder).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bantin")
def main() -> None:
    """bantin: full-text search for Vietnamese local-government bulletins."""


@main.command("index")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@_INDEX_OPTION
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=lambda: os.cpu_count() or 1,
    show_default="number of CPUs",
    help="Worker processes for segmentation.",
)
@click.option(
    "--update", is_flag=True, help="Add new, replace changed and drop vanished bulletins of PATHS."
)
@click.option(
    "--cluster",
    metavar="ADDRESS",
    help="Build on the Dask cluster whose scheduler is at ADDRESS (e.g. tcp://10.0.0.5:8786) "
    "instead of local processes; its workers must see the index folder at the same path. "
    "Needs bantin[cluster].",
)
def index_command(
    paths: tuple[Path, ...], index_dir: Path | None, jobs: int, update: bool, cluster: str | None
) -> None:
    """Rebuild the index from bulletin files or folders (default: the shipped corpus)."""
    index_dir = index_dir or default_index_dir()
    if update and not paths:
        raise click.UsageError("--update needs the PATHS to update from.")
    if update and cluster:
        raise click.UsageError("--cluster rebuilds; an --update runs here (it is small).")
    sources = list(paths) if paths else corpus_files()
    if update:
        run = functools.partial(update_index, jobs=jobs)
    else:
        run = functools.partial(build_index, jobs=jobs, cluster=cluster)
    try:
        report = _with_progress(lambda progress: run(sources, index_dir, progress=progress))
    except NothingIndexedError as error:
        _print_summary(error.report)
        raise click.ClickException(f"{error}; the previous index (if any) is unchanged.") from None
    except ClusterError as error:
        raise click.ClickException(f"{error}; the previous index (if any) is unchanged.") from None
    except IndexLockedError as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        raise click.ClickException(
            f"could not write the index at {index_dir}: {error.strerror or error}; "
            "the previous index (if any) is unchanged."
        ) from None
    _print_summary(report)


@main.command("search")
@click.argument("query")
@_INDEX_OPTION
@click.option("--locality", help="Only bulletins about this locality (accents optional).")
@click.option("--province", help="Only bulletins of this province (accents optional).")
@click.option("--year", help="Only bulletins of this year.")
@click.option(
    "--sort",
    type=click.Choice(["relevance", "date"]),
    default="relevance",
    show_default=True,
    help="Rank by relevance or newest first.",
)
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True, help="Page.")
@click.option(
    "--per-page", type=click.IntRange(1, 100), default=10, show_default=True, help="Hits per page."
)
@click.option("--json", "as_json", is_flag=True, help="Print the search JSON object.")
@click.option("--explain", is_flag=True, help="Show how each hit's score was made.")
def search_command(
    query: str,
    index_dir: Path | None,
    locality: str | None,
    province: str | None,
    year: str | None,
    sort: str,
    page: int,
    per_page: int,
    as_json: bool,
    explain: bool,
) -> None:
    """Search the index from the terminal."""
    searcher = _open_searcher(index_dir or default_index_dir())
    with searcher:
        try:
            results = searcher.search(
                query,
                locality=locality,
                province=province,
                year=year,
                sort=sort,
                page=page,
                per_page=per_page,
                explain=explain,
            )
        except IndexUnavailableError as error:  # damage found past the opening checks
            raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps(results.to_dict(), ensure_ascii=False, indent=2))
        return
    for warning in results.warnings:
        click.secho(warning, fg="yellow", err=True)
    if results.suggestion:
        click.echo(f"Có phải bạn muốn tìm: {results.suggestion}")
    click.echo(f"{results.total} kết quả ({results.took_ms:.1f} ms)")
    first = (results.page - 1) * results.per_page
    for rank, hit in enumerate(results.hits, start=first + 1):
        place = ", ".join(p for p in (hit.locality, hit.province) if p)
        meta = " · ".join(p for p in (hit.date, place, hit.id) if p)
        click.echo()
        click.echo(f"{rank}. " + _terminal(hit.title_html, bold=True))
        click.secho(f"   {meta}", dim=True)
        click.echo("   " + _terminal(hit.snippet))
        if hit.explanation:
            click.secho(f"   {hit.explanation}", dim=True)


@main.command("serve")
@_INDEX_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=5000, show_default=True)
def serve_command(index_dir: Path | None, host: str, port: int) -> None:
    """Serve the search page and JSON API (production server: waitress)."""
    from index.graceful import serve
    from webui import create_app  # the CLI is the one place that wires webui in

    index_dir = index_dir or default_index_dir()
    _open_searcher(index_dir).close()
    app = create_app({"BANTIN_INDEX": str(index_dir)})
    click.echo(f"bantin: serving {index_dir} on http://{host}:{port}/", err=True)
    serve(app, host=host, port=port, threads=8, ident="bantin")  # SIGTERM: drain, exit 0
    click.echo("bantin: stopped", err=True)


@main.command("crawl")
@click.argument("portals_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--store",
    "store_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Crawl store folder: raw pages, bulletins, crawl state (default: a per-user data folder).",
)
@_INDEX_OPTION
@click.option("--no-index", is_flag=True, help="Only fill the store; leave the index alone.")
@click.option(
    "--reextract",
    is_flag=True,
    help="Rebuild the bulletins from the raw pages in the store, with no request, then index.",
)
def crawl_command(
    portals_file: Path,
    store_dir: Path | None,
    index_dir: Path | None,
    no_index: bool,
    reextract: bool,
) -> None:
    """Fetch bulletins from the portals in PORTALS_FILE, politely, then update the index."""
    from index import crawl as crawling

    try:
        config = crawling.load_portals(portals_file)
    except crawling.PortalsFileError as error:
        raise click.ClickException(str(error)) from None
    target = None if no_index else (index_dir or default_index_dir())
    run = crawling.reextract if reextract else crawling.crawl
    try:
        report = _with_progress(
            lambda progress: run(
                config, store_dir or default_store_dir(), index_dir=target, progress=progress
            ),
            unit=" pages",
            desc="re-extracting" if reextract else "crawling",
        )
    except KeyboardInterrupt:  # a second Ctrl-C while the first was being handled
        click.echo("Interrupted: everything fetched so far is kept.", err=True)
        sys.exit(130)
    for line in crawling.summary_lines(report):
        click.echo(line)
    if report.interrupted:
        sys.exit(130)  # as a shell reports a command stopped by Ctrl-C


def default_store_dir() -> Path:
    """The per-user crawl store, beside the default index."""
    from platformdirs import user_data_path

    return user_data_path("bantin", appauthor=False) / "crawl"


@main.command("pull")
@click.argument("source")
@_INDEX_OPTION
def pull_command(source: str, index_dir: Path | None) -> None:
    """Serve the same generation as SOURCE: an index folder, host:path (rsync over ssh) or
    rsync://host/module/path. Copies only missing files, verifies them, publishes atomically."""
    try:
        report = pull(source, index_dir or default_index_dir())
    except (PullError, IndexLockedError) as error:
        raise click.ClickException(str(error)) from None
    _print_pull(report)


@main.command("verify")
@_INDEX_OPTION
def verify_command(index_dir: Path | None) -> None:
    """Check every file of the live generation against its manifest (sizes and checksums)."""
    try:
        verification = verify_index(index_dir or default_index_dir())
    except IndexUnavailableError as error:
        raise click.ClickException(str(error)) from None
    _print_verification(verification)


# --- helpers ------------------------------------------------------------------------------


def _open_searcher(index_dir: Path) -> Searcher:
    """Open the index; a fresh install with no index builds one from the shipped corpus."""
    if current_stamp(index_dir) is None and not generation_names(index_dir):
        click.echo(
            f"bantin: no index at {index_dir} yet; building it from the shipped corpus…", err=True
        )
        try:
            report = build_index(corpus_files(), index_dir, jobs=1)
        except (IndexLockedError, OSError) as error:
            raise click.ClickException(f"could not build the index: {error}") from None
        click.echo(f"bantin: indexed {report.indexed} bulletins.", err=True)
    try:
        return Searcher(index_dir)
    except IndexUnavailableError as error:
        raise click.ClickException(str(error)) from None


def _with_progress(run, unit: str = " docs", desc: str = "indexing"):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    with tqdm(unit=unit, desc=desc, disable=not sys.stderr.isatty(), file=sys.stderr) as bar:
        return run(bar.update)


def _print_summary(report: BuildReport) -> None:
    rate = report.indexed / report.seconds if report.seconds else 0.0
    if report.mode == "update":
        click.echo(
            f"Updated {report.index_dir}: {report.added} added, {report.updated} changed, "
            f"{report.removed} removed, {report.unchanged} unchanged; "
            f"{report.indexed} bulletins in the index ({report.seconds:.1f} s)."
        )
    elif report.generation:
        click.echo(
            f"Indexed {report.indexed} bulletins into {report.index_dir} "
            f"in {report.seconds:.1f} s ({rate:.0f} bulletins/s)."
        )
    if report.skipped:
        click.echo(f"Skipped {len(report.skipped)}:")
        for skipped in report.skipped:
            click.echo(f"  {skipped.source}: {skipped.reason}")


def _print_pull(report: PullReport) -> None:
    if report.generation is None:
        click.echo(
            f"{report.index_dir} already serves {report.source_generation} of {report.source}."
        )
        return
    click.echo(
        f"Pulled {report.source_generation} of {report.source} into {report.index_dir} as "
        f"{report.generation}: {report.files} files, {report.linked} already here (linked), "
        f"{report.bytes_copied / 1e6:.1f} MB copied and verified ({report.seconds:.1f} s)."
    )


def _print_verification(verification: Verification) -> None:
    name = verification.generation
    if verification.ok:
        click.echo(
            f"{verification.index_dir} {name}: {verification.files} files, "
            f"{verification.bytes / 1e6:.1f} MB match the manifest."
        )
        return
    for damage in verification.damaged:
        click.echo(f"damaged: {name}/{damage}", err=True)
    raise click.ClickException(
        f"{len(verification.damaged)} damaged file(s) in {verification.index_dir} {name}: "
        "rebuild it (`bantin index`) or pull it again (`bantin pull`)"
    )


_MARK = re.compile(r"<mark>(.*?)</mark>", re.DOTALL)


def _terminal(html: str, bold: bool = False) -> str:
    """Turn a highlighted HTML fragment into terminal text with the matches emphasised."""
    parts: list[str] = []
    cursor = 0
    for match in _MARK.finditer(html):
        parts.append(click.style(unescape(html[cursor : match.start()]), bold=bold))
        parts.append(click.style(unescape(match.group(1)), fg="yellow", bold=True, underline=True))
        cursor = match.end()
    parts.append(click.style(unescape(html[cursor:]), bold=bold))
    return "".join(parts)


if __name__ == "__main__":
    main()
