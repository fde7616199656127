"""Errors the store raises. Each one's message is a complete sentence for a person."""

from __future__ import annotations


class StoreError(Exception):
    """Base class: the message is shown to the user as it is, on one line."""


class StoreLockedError(StoreError):
    """Another process holds the DuckDB file."""


class SchemaTooNewError(StoreError):
    """The file was written by a newer rlhf-tui than this one."""


class UnknownDatasetError(StoreError):
    """No dataset of that name."""


class InvalidInputError(StoreError):
    """A file or value given by the user is not acceptable; nothing was written."""


class PermissionDeniedError(StoreError):
    """The caller may not do this (for example a non-admin importing)."""
