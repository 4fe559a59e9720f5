"""The fast path: bantin's Whoosh queries answered from flat numpy arrays, exactly.

Whoosh stays the index and the source of truth; beside each segment the indexer writes side
files (:mod:`~searcher.fastpath.store`, decoded by :mod:`~searcher.fastpath.decode`) from which
:mod:`~searcher.fastpath.engine` computes the same matches and BM25F scores
(:mod:`~searcher.fastpath.scoring`) as Whoosh's exhaustive search, and
:mod:`~searcher.fastpath.snippets` the same highlights, in a fraction of the time. A generation
without valid side files is served by plain Whoosh.
"""

from searcher.fastpath.compiled import Unsupported
from searcher.fastpath.engine import FastIndex
from searcher.fastpath.snippets import highlight_fast, snippet_fast
from searcher.fastpath.store import prepare_fast_path, write_side_files

__all__ = [
    "FastIndex",
    "Unsupported",
    "highlight_fast",
    "prepare_fast_path",
    "snippet_fast",
    "write_side_files",
]
