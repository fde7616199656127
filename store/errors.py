"""Errors a person can cause and act on. Each one's message is a complete sentence for a person.

`UserError` is the one base for the whole tool: the CLI prints it as one line with a non-zero
exit, the app shows it as one line. Anything else is a bug and keeps its traceback."""

from __future__ import annotations


class UserError(Exception):
    """Something a person did (or must do) that we can explain in one line."""


class StoreError(UserError):
    """Base class of the store's errors: the message is shown to the user as it is, on one line."""


class StoreLockedError(StoreError):
    """Another process holds the DuckDB file."""


class SchemaTooNewError(StoreError):
    """The file was written by a newer rlhf-tui than this one."""


class StoreNotFoundError(StoreError):
    """Nothing at the store's path; only `import` and `demo` create a store."""


class UnknownDatasetError(StoreError):
    """No dataset of that name."""


class InvalidInputError(StoreError):
    """A file or value given by the user is not acceptable; nothing was written."""


class PermissionDeniedError(StoreError):
    """The caller may not do this (for example a non-admin importing)."""
