"""Errors the searcher raises on purpose, each with one clear line for the user."""

from __future__ import annotations


class BantinError(Exception):
    """Base of every error bantin raises deliberately."""


class IndexUnavailableError(BantinError):
    """The index is missing, unreadable, or of another schema version."""


class IndexLockedError(BantinError):
    """Another process is rebuilding or updating the same index."""
