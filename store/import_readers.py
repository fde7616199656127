"""Reading an input file into DuckDB with every field as JSON, one row per record.

JSONL, JSON arrays, Parquet and CSV all end up as the same shape: `row_no` (1-based
position in the file) plus the file's columns typed JSON, so format detection and
validation work the same whatever the file type."""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .errors import InvalidInputError
from .sql_names import quote_identifier, quote_literal

FILE_TYPES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


@dataclass(frozen=True)
class RawInput:
    path: Path
    file_type: str
    columns: tuple[str, ...]

    def location(self, row_no: int) -> str:
        """How a person finds row `row_no` in the file."""
        if self.file_type == "jsonl":
            return f"line {row_no}"
        if self.file_type == "csv":
            return f"line {row_no + 1}"  # the header is line 1
        if self.file_type == "json":
            return f"item {row_no}"
        return f"row {row_no}"


def file_type_of(path: Path) -> str:
    kind = FILE_TYPES.get(path.suffix.lower())
    if kind is None:
        raise InvalidInputError(
            f"{path}: unknown file type {path.suffix or '(none)'}; use .jsonl, .json, .parquet or .csv"
        )
    return kind


def check_utf8(path: Path) -> None:
    """Fail with the line number of the first byte that is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line += chunk[: exc.start].count(b"\n")
                raise InvalidInputError(f"{path}: line {line}: invalid UTF-8 (byte 0x{chunk[exc.start]:02x})") from None
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise InvalidInputError(
                f"{path}: line {line}: invalid UTF-8 (truncated character at end of file)"
            ) from None


def _first_bad_json_line(path: Path) -> str:
    with path.open(encoding="utf-8") as fh:
        for number, text in enumerate(fh, start=1):
            if not text.strip():
                return f"line {number}: empty line"
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                return f"line {number}: not valid JSON ({exc.msg})"
            if not isinstance(value, dict):
                return f"line {number}: expected a JSON object, got {type(value).__name__}"
    return "not valid JSON"


def _jsonl_has_blank_lines(path: Path) -> int:
    """The first blank line's number (0 if none): blank lines would shift row numbers."""
    with path.open("rb") as fh:
        for number, text in enumerate(fh, start=1):
            if not text.strip():
                return number
    return 0


def _describe(con: duckdb.DuckDBPyConnection, path: Path, source_sql: str) -> list[tuple[str, str]]:
    """(name, type) of each column; the names come from the file, so they reach SQL only quoted."""
    columns = [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {source_sql}").fetchall()]
    for name, _ in columns:
        if "\x00" in name:
            raise InvalidInputError(f"{path}: the column name {name!r} contains a NUL character")
    return columns


def _csv_cell_as_json(column: str) -> str:
    """A CSV cell holding a JSON list or object is structured data; anything else is text.
    `column` is an already quoted identifier."""
    return f"""CASE WHEN {column} IS NULL THEN NULL
                WHEN left(ltrim({column}), 1) IN ('[', '{{') AND json_valid({column}) THEN {column}::JSON
                ELSE to_json({column}) END AS {column}"""


def raw_relation_sql(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[RawInput, str]:
    """(what was read, a SQL query over the file yielding row_no + JSON columns)."""
    if not path.exists():
        raise InvalidInputError(f"{path}: no such file")
    if path.is_dir():
        raise InvalidInputError(f"{path}: is a folder, not a file")
    kind = file_type_of(path)
    if kind in ("jsonl", "json", "csv"):
        check_utf8(path)
    if path.stat().st_size == 0:
        raise InvalidInputError(f"{path}: the file is empty")
    p = quote_literal(str(path))
    try:
        if kind in ("jsonl", "json"):
            fmt = "newline_delimited" if kind == "jsonl" else "array"
            if kind == "jsonl" and (blank := _jsonl_has_blank_lines(path)):
                raise InvalidInputError(f"{path}: line {blank}: empty line (one JSON object per line expected)")
            columns = _describe(con, path, f"read_json({p}, format='{fmt}')")
            if len(columns) == 1 and columns[0][0] == "json" and columns[0][1].startswith("MAP("):
                # DuckDB reads objects as one MAP when a key cannot be a column; the empty key is the one seen.
                raise InvalidInputError(f'{path}: a JSON object has an empty key ""; every key must be a field name')
            spec = "{" + ", ".join(f"{quote_literal(c)}: 'JSON'" for c, _ in columns) + "}"
            select = ", ".join(quote_identifier(c) for c, _ in columns)
            source = f"read_json({p}, format='{fmt}', columns={spec})"
        elif kind == "parquet":
            columns = _describe(con, path, f"read_parquet({p})")
            select = ", ".join(f"to_json({q}) AS {q}" for q in (quote_identifier(c) for c, _ in columns))
            source = f"read_parquet({p})"
        else:
            columns = _describe(con, path, f"read_csv({p}, header=true, all_varchar=true)")
            select = ", ".join(_csv_cell_as_json(quote_identifier(c)) for c, _ in columns)
            source = f"read_csv({p}, header=true, all_varchar=true)"
    except InvalidInputError:
        raise
    except duckdb.Error as exc:
        raise read_error(path, kind, exc) from None
    names = tuple(c for c, _ in columns)
    # DuckDB matches names case-insensitively, so "ROW_NO" would stand in for our row_no.
    if any(n.lower() == "row_no" for n in names):
        raise InvalidInputError(f"{path}: a column named 'row_no' is reserved")
    return RawInput(path, kind, names), f"SELECT row_number() OVER () AS row_no, {select} FROM {source}"


def read_error(path: Path, kind: str, exc: Exception) -> InvalidInputError:
    """A DuckDB read failure as one line naming the file and, for JSONL, the line."""
    if kind == "jsonl":
        return InvalidInputError(f"{path}: {_first_bad_json_line(path)}")
    first = str(exc).splitlines()[0]
    return InvalidInputError(f"{path}: cannot read as {kind.upper()}: {first}")
