"""Which index generation a ``Searcher`` serves, and what it keeps open for it.

Before each search one ``stat`` of ``CURRENT`` tells whether ``bantin index`` has published a
new generation; if so the new one is opened (Whoosh searcher, facet columns, fast path) and the
old one closed, so a long-running process never needs a restart. Everything cached for a
generation (decoded bulletins, vocabulary, facet codes) lives in its ``OpenGeneration`` and goes
with it. A read that fails because the index bytes are damaged marks the generation, which is
then refused with one clear "rebuild" message until a new one is published.
"""

from __future__ import annotations

import contextlib
import pickle
import struct
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from whoosh import scoring
from whoosh.reading import CorruptIndexError
from whoosh.searching import Searcher as WhooshSearcher

from searcher.errors import IndexUnavailableError
from searcher.facets import FacetColumns
from searcher.fastpath import FastIndex
from searcher.fastpath.passages import PASSAGES_DIR
from searcher.fastpath.store import SIDE_DIR
from searcher.lm import LanguageModel
from searcher.manifest import CHECKSUM_DIFFERS, check_sizes
from searcher.mapped import open_whoosh_index
from searcher.schema import SCHEMA_VERSION, TEXT_FIELDS
from searcher.storage import Generation, current_stamp, read_current
from searcher.suggest import Vocabulary

#: Bulletins whose stored fields stay decoded by default (about 8 KB each: a few megabytes).
STORED_CACHE_DOCS = 1024
#: Errors only damaged index bytes produce: a healthy index always decodes, and user input never
#: reaches these decoders. Seeing one marks the generation as corrupt (see LiveGeneration.reading).
_CORRUPTION = (
    CorruptIndexError,
    struct.error,
    zlib.error,
    pickle.UnpicklingError,
    EOFError,
    UnicodeDecodeError,
)
#: Whoosh's layers that turn stored bytes into values. Any failure raised inside them is damage
#: too; query evaluation lives in other modules, so an odd query cannot mark a healthy index.
_DECODING_MODULES = ("whoosh.filedb.", "whoosh.codec.", "whoosh.columns")


def weighting() -> scoring.WeightingModel:
    """BM25F: title weighted by its field boost, length-normalised per field."""
    return scoring.BM25F(B=0.75, K1=1.2)


@dataclass
class OpenGeneration:
    """Everything opened for one generation; replaced wholesale when a new one is published."""

    generation: Generation
    index: Any
    searcher: WhooshSearcher
    facets: FacetColumns = field(default_factory=FacetColumns)
    #: Why this generation is known to be corrupt, once a read has shown it.
    damage: str | None = None
    #: The numpy fast path over the generation's side files; None serves it by plain Whoosh.
    fast: FastIndex | None = None
    #: The syllable n-gram model written beside the generation (None: an older index, whose
    #: suggestions come from ``vocabulary``).
    language_model: LanguageModel | None = None
    #: How many bulletins' stored fields ``stored`` keeps decoded.
    stored_cache_docs: int = STORED_CACHE_DOCS
    #: Stored fields of the bulletins shown last, most recent at the end (see ``stored``).
    _stored: OrderedDict[int, dict[str, Any]] = field(default_factory=OrderedDict)

    def stored(self, docnum: int) -> dict[str, Any]:
        """A bulletin's stored fields, kept for the next pages that show it: Whoosh inflates
        and unpickles the whole record (about 50 µs at 95k) at every read. Callers hold the
        searcher's lock and only read the dict; a new generation starts with an empty cache.
        The fast path's page files hold a hit's fields, cheaper to read than to cache."""
        pages = self.fast.pages if self.fast is not None else None
        if pages is not None and (fields := pages.get(docnum)) is not None:
            return fields
        stored = self._stored.get(docnum)
        if stored is None:
            stored = self._stored[docnum] = self.searcher.stored_fields(docnum)
            if len(self._stored) > self.stored_cache_docs:
                self._stored.popitem(last=False)
        else:
            self._stored.move_to_end(docnum)
        return stored

    @cached_property
    def vocabulary(self) -> Vocabulary:
        if self.fast is not None:  # the same counts from the side files' term tables, faster
            return Vocabulary.from_terms(self.fast.document_frequencies(TEXT_FIELDS).items())
        return Vocabulary.from_terms(term_counts(self.searcher.reader()).items())

    @property
    def restorer(self) -> LanguageModel | Vocabulary:
        """What restores accents, corrects and completes: the model, else the vocabulary."""
        return self.language_model if self.language_model is not None else self.vocabulary

    def close(self) -> None:
        self.searcher.close()
        self.index.close() if hasattr(self.index, "close") else None


def term_counts(reader: Any) -> dict[str, int]:
    """Every term of the accented text fields with its document frequency, as Whoosh has it."""
    counts: dict[str, int] = {}
    for name in TEXT_FIELDS:
        for term, info in reader.iter_field(name):
            text = term.decode("utf-8")
            counts[text] = counts.get(text, 0) + info.doc_frequency()
    return counts


class LiveGeneration:
    """The generation served from ``index_dir``, followed across publishes. Not thread-safe:
    the ``Searcher`` calls it under its lock."""

    def __init__(self, index_dir: Path, *, fast: bool, stored_cache_docs: int) -> None:
        self.index_dir = index_dir
        self._fast = fast
        self._stored_cache_docs = stored_cache_docs
        self._open: OpenGeneration | None = None

    def current(self) -> OpenGeneration:
        """The open generation, switching to a newly published one if there is one."""
        opened = self._open
        if opened is not None and current_stamp(self.index_dir) == opened.generation.stamp:
            if opened.damage:
                raise IndexUnavailableError(opened.damage)
            return opened
        try:
            fresh = self._open_generation(read_current(self.index_dir))
        except IndexUnavailableError:
            if opened is not None and not opened.damage and opened.generation.path.is_dir():
                return opened  # keep serving what we have rather than fail
            raise
        if opened is not None:
            opened.close()
        self._open = fresh
        return fresh

    def close(self) -> None:
        """Release the open index files."""
        if self._open is not None:
            self._open.close()
            self._open = None

    def _open_generation(self, generation: Generation) -> OpenGeneration:
        hint = f"run `bantin index --index {self.index_dir}` to rebuild it"
        version = generation.meta.get("schema_version")
        if version != SCHEMA_VERSION:
            raise IndexUnavailableError(
                f"index at {self.index_dir} has schema version {version}, this bantin needs "
                f"{SCHEMA_VERSION}: {hint}"
            )
        # One stat per file (see searcher.manifest). Side files with other bytes only cost the
        # fast path; missing or short ones it notices itself (and computes lost weights).
        damaged = check_sizes(generation.path, hash_touched=_is_side_file)
        garbled = any(d.problem == CHECKSUM_DIFFERS for d in damaged)
        if whoosh_damage := [d for d in damaged if not _is_side_file(d.path)]:
            more = f" and {len(whoosh_damage) - 1} more" if len(whoosh_damage) > 1 else ""
            raise IndexUnavailableError(
                f"index at {self.index_dir} is damaged ({whoosh_damage[0]}{more}): {hint}"
            )
        ix: Any = None
        whoosh_searcher: WhooshSearcher | None = None
        try:
            ix = open_whoosh_index(generation.path)
            whoosh_searcher = ix.searcher(weighting=weighting())
            opened = OpenGeneration(
                generation,
                ix,
                whoosh_searcher,
                facets=FacetColumns.read(whoosh_searcher.reader()),
                stored_cache_docs=self._stored_cache_docs,
                language_model=LanguageModel.open(generation.path),
            )
            if self._fast and not garbled:
                opened.fast = FastIndex.open(generation.path, whoosh_searcher)
        except Exception as error:  # Whoosh raises many types for damaged files
            if whoosh_searcher is not None:
                whoosh_searcher.close()
            if ix is not None and hasattr(ix, "close"):
                ix.close()
            raise IndexUnavailableError(
                f"index at {self.index_dir} is damaged ({_error_name(error)}): {hint}"
            ) from None
        return opened

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Report a failure while reading the open generation as IndexUnavailableError.

        A segment can open cleanly and still be damaged further in (overwritten or garbled
        postings, stored fields, terms): reading it then fails with whatever the bytes lead
        to — Whoosh's CorruptIndexError, struct, zlib, pickle or decoding errors, IndexError,
        raised in Whoosh or in our code handed bad data. Queries are parsed leniently before
        they get here, so callers get one clear error saying how to rebuild, with the original
        chained for the log. An error that only corrupt bytes produce also marks the
        generation: it is not served again (its results could be silently wrong, and
        ``/healthz`` must say so) until a new one is published.
        """
        try:
            yield
        except IndexUnavailableError:
            raise
        except Exception as error:
            message = (
                f"index at {self.index_dir} is damaged or unreadable ({_error_name(error)}): "
                f"run `bantin index --index {self.index_dir}` to rebuild it"
            )
            if _is_corruption(error) and self._open is not None:
                self._open.damage = message
            raise IndexUnavailableError(message) from error


def _is_side_file(relative: str) -> bool:
    """The fast path's files (its side files and the stored syllables of its page marks): an
    accelerator's damage costs speed, never the index."""
    return relative.startswith((f"{SIDE_DIR}/", f"{PASSAGES_DIR}/"))


def _is_corruption(error: BaseException) -> bool:
    """Whether ``error`` can only come from damaged index bytes (see _CORRUPTION)."""
    if isinstance(error, _CORRUPTION):
        return True
    innermost = error.__traceback__
    while innermost is not None and innermost.tb_next is not None:
        innermost = innermost.tb_next
    module = innermost.tb_frame.f_globals.get("__name__", "") if innermost else ""
    return module.startswith(_DECODING_MODULES)


def _error_name(error: BaseException) -> str:
    """ "CorruptIndexError", "struct.error": the kind of a read failure, for one-line messages."""
    kind = type(error)
    return kind.__name__ if kind.__name__[:1].isupper() else f"{kind.__module__}.{kind.__name__}"
