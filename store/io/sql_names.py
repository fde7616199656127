"""Quoting for the few values that must be written into SQL text rather than bound as
parameters: column names read from an input file, and file paths given to DuckDB's
table functions (which take no parameters for them). Everything else is a parameter.

Both quote the DuckDB way (the quote character doubled, no backslash escapes), so any
string comes out as exactly one identifier or one literal; NUL is refused because DuckDB
ends strings there."""

from __future__ import annotations

from store.errors import InvalidInputError


def _refuse_nul(value: str, what: str) -> None:
    if "\x00" in value:
        raise InvalidInputError(f"{what} {value!r} contains a NUL character, which DuckDB cannot take")


def quote_identifier(name: str) -> str:
    """`name` as one DuckDB double-quoted identifier: `a"b` becomes `"a""b"`."""
    _refuse_nul(name, "the column name")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """`value` as one DuckDB string literal: `it's` becomes `'it''s'`."""
    _refuse_nul(value, "the text")
    return "'" + value.replace("'", "''") + "'"
