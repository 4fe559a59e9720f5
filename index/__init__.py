"""bantin's indexer: read bulletin files, clean and extract metadata, write the Whoosh index."""

from index.build import BuildOptions, BuildReport, NothingIndexedError, build_index, update_index

__all__ = ["BuildOptions", "BuildReport", "NothingIndexedError", "build_index", "update_index"]
