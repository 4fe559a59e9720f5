"""bantin's indexer: read bulletin files, clean and extract metadata, write the Whoosh index."""

from index.build import BuildReport, NothingIndexedError, build_index, update_index

__all__ = ["BuildReport", "NothingIndexedError", "build_index", "update_index"]
