"""bantin's embeddable search core: Vietnamese analysis, schema, queries, ranking, results.

Importing this package is cheap: pyvi's model loads on the first segmentation, not here.
"""

from searcher.errors import BantinError, IndexLockedError, IndexUnavailableError
from searcher.results import Document, FacetValue, Hit, Results
from searcher.searcher import Searcher
from searcher.storage import default_index_dir

__all__ = [
    "BantinError",
    "Document",
    "FacetValue",
    "Hit",
    "IndexLockedError",
    "IndexUnavailableError",
    "Results",
    "Searcher",
    "default_index_dir",
]
