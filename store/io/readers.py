"""Reading an input file into DuckDB with every field as JSON, one row per record.

JSONL, JSON arrays, Parquet and CSV all end up as the same shape: `row_no` (1-based
position in the file) plus the file's columns typed JSON, so format detection and
validation work the same whatever the file type.

A JSONL file with bad lines (not UTF-8, blank, not one JSON object) fails fast with the
first one named; `--skip-invalid` then reads a private copy holding only the good lines
(`jsonl_good_lines`), and rows keep the line numbers of the original file.

CSV is read with one dialect, strictly: comma-separated, `"` quotes with `""` inside a quoted
value, a header line (CSV_DIALECT). DuckDB's sniffer is not asked: it guesses another dialect
for a malformed file and reads wrong rows, or none, without a word. The header is parsed here
(names as DuckDB gives them: "column0" for an empty one, "name_1" for a repeat), and a
malformed file is reported at its line by Python's csv module."""

from __future__ import annotations

import codecs
import csv
import dataclasses
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from store.errors import InvalidInputError
from store.io.json_stream import json_array_problem
from store.io.sql_names import quote_identifier, quote_literal

CSV_DIALECT = "delim=',', quote='\"', escape='\"', header=true, strict_mode=true, null_padding=false, auto_detect=false"
FILE_TYPES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet", ".csv": "csv"}
KIND_NAMES = {"jsonl": "JSON Lines", "json": "JSON", "parquet": "Parquet", "csv": "CSV"}


class BadLineError(InvalidInputError):
    """A JSONL line that is not one JSON object (invalid UTF-8, blank, not JSON): the kind
    of problem --skip-invalid can skip by leaving the line out."""


@dataclass(frozen=True)
class GoodLines:
    """A private copy of a JSONL file holding only its good lines."""

    path: Path
    line_numbers: tuple[int, ...]  # the original line of each line kept, in order
    skipped: tuple[tuple[int, str], ...]  # (line, "line N: why") for each line left out


@dataclass(frozen=True)
class RawInput:
    path: Path
    file_type: str
    columns: tuple[str, ...]
    # row_no -> its line in the file: JSONL read from GoodLines (rows are renumbered when lines
    # were left out), CSV with values over several lines (`with_csv_lines`).
    line_numbers: tuple[int, ...] | None = None

    def line_of(self, row_no: int) -> int:
        """The line of the file where row `row_no` starts."""
        if self.line_numbers is not None:
            return self.line_numbers[row_no - 1]
        return row_no + 1 if self.file_type == "csv" else row_no  # a CSV's header is line 1

    def location(self, row_no: int) -> str:
        """How a person finds row `row_no` in the file."""
        if self.file_type in ("jsonl", "csv"):
            return f"line {self.line_of(row_no)}"
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


_LONE_SURROGATE_HINT = re.compile(rb"\\u[dD][89a-fA-F]")


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool):
        return "true/false"
    return "null" if value is None else "a number"


def _sentence_case(text: str) -> str:
    return text[:1].lower() + text[1:]


# A comma right before a closing bracket: DuckDB's reader accepts `["a", "b",]` without a word,
# Python's does not. Bytes matching this are checked line by line (most are inside strings).
_TRAILING_COMMA = re.compile(rb",[ \t\r]*[\]}]")


def _json_problem(exc: json.JSONDecodeError, text: str) -> str:
    """A JSON syntax error in words, naming a trailing comma as such."""
    before = text[: exc.pos].rstrip()
    if before.endswith(",") and text[exc.pos : exc.pos + 1] in ("]", "}"):
        return f"a trailing comma before '{text[exc.pos]}' at column {exc.colno}"
    return f"{_sentence_case(exc.msg)} at column {exc.colno}"


def _top_level_duplicate_key(text: str) -> str | None:
    """The first key that an object line holds twice, or None. Python keeps the last value and
    DuckDB refuses the line: neither is what the file's author can have meant."""
    seen: list[list[tuple[str, Any]]] = []

    def keep(pairs: list[tuple[str, Any]]) -> dict:
        seen.append(pairs)  # the outermost object is the last one decoded
        return dict(pairs)

    try:
        json.loads(text, object_pairs_hook=keep)
    except (json.JSONDecodeError, RecursionError):
        return None
    keys = [key for key, _ in seen[-1]] if seen else []
    return next((key for i, key in enumerate(keys) if key in keys[:i]), None)


def jsonl_line_problem(number: int, line: bytes) -> str | None:
    """What is wrong with one line of a JSONL file, as "line N: ...", or None if it is one JSON object."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"line {number}: invalid UTF-8 (byte 0x{line[exc.start]:02x})"
    text = text.rstrip("\r\n")
    if not text.strip():
        return f"line {number}: empty line"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"line {number}: not valid JSON ({_json_problem(exc, text)})"
    except RecursionError:
        return f"line {number}: not valid JSON (nested too deeply)"
    if not isinstance(value, dict):
        return f"line {number}: expected a JSON object, got {_json_kind(value)}"
    if "" in value:
        return f'line {number}: the JSON object has an empty key ""; every key must be a field name'
    if (duplicate := _top_level_duplicate_key(text)) is not None:
        return f"line {number}: field {duplicate!r}: given twice in the same object"
    if _LONE_SURROGATE_HINT.search(line):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return f"line {number}: not valid text (a \\u escape is half of a surrogate pair)"
    return None


def _first_bad_jsonl_line(path: Path) -> BadLineError | None:
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if problem := jsonl_line_problem(number, line):
                return BadLineError(f"{path}: {problem}")
    return None


@contextmanager
def jsonl_good_lines(path: Path) -> Iterator[GoodLines]:
    """A private temporary copy of `path` with only its good lines; removed on exit."""
    fd, name = tempfile.mkstemp(prefix="rlhf-tui-import-", suffix=".jsonl")  # mode 0600
    copy = Path(name)
    try:
        kept: list[int] = []
        skipped: list[tuple[int, str]] = []
        with os.fdopen(fd, "wb", buffering=1 << 20) as out, path.open("rb") as src:
            for number, line in enumerate(src, start=1):
                if problem := jsonl_line_problem(number, line):
                    skipped.append((number, problem))
                    continue
                out.write(line if line.endswith(b"\n") else line + b"\n")
                kept.append(number)
        yield GoodLines(copy, tuple(kept), tuple(skipped))
    finally:
        copy.unlink(missing_ok=True)


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


def _csv_reader(fh: Any) -> Any:
    return csv.reader(fh, delimiter=",", quotechar='"', doublequote=True, strict=True)


def _csv_header(path: Path) -> list[str]:
    """The column names of a CSV file's header, as DuckDB names them, or a located error."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        try:
            header: list[str] = next(_csv_reader(fh), [])
        except csv.Error as exc:
            raise InvalidInputError(f"{path}: line 1: not valid CSV ({exc})") from None
    if not header or header == [""]:
        raise InvalidInputError(f"{path}: line 1: no header (the first line names the columns)")
    if len(header) == 1 and (sep := next((c for c in ";\t|" if c in header[0]), None)):
        raise InvalidInputError(
            f"{path}: line 1: the header is one column {header[0][:60]!r}; CSV files must be comma-separated, "
            f"not {sep!r}-separated"
        )
    names: list[str] = []
    for i, name in enumerate(header):
        if "\x00" in name:
            raise InvalidInputError(f"{path}: the column name {name!r} contains a NUL character")
        name = name or f"column{i}"
        base, n = name, 0
        while name in names:
            n += 1
            name = f"{base}_{n}"
        names.append(name)
    return names


def _csv_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(the line it starts on, the fields) of each data record; blank lines are skipped as DuckDB does."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = _csv_reader(fh)
        next(reader, None)
        while True:
            start = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise _CsvProblem(start, reader.line_num, str(exc)) from None
            if record:
                yield start, record


class _CsvProblem(Exception):
    def __init__(self, start: int, line: int, reason: str) -> None:
        super().__init__(reason)
        self.start, self.line, self.reason = start, line, reason

    def describe(self) -> str:
        if "unexpected end of data" in self.reason or "EOF" in self.reason:
            return f"line {self.start}: a quoted value that starts here is never closed"
        if "expected after" in self.reason:
            return f'line {self.line}: text after a closing quote (quote the whole value, doubling any " inside)'
        return f"line {self.line}: not valid CSV ({self.reason})"


def _csv_file_problem(path: Path) -> str | None:
    """Where Python's csv module finds a CSV file bad: "line N: ...", or None."""
    try:
        width = len(_csv_header(path))
        for start, record in _csv_records(path):
            if len(record) != width:
                return f"line {start}: expected {width} fields as in the header, found {len(record)}"
    except _CsvProblem as problem:
        return problem.describe()
    except (InvalidInputError, UnicodeDecodeError, OSError):
        return None
    return None


def with_csv_lines(raw: RawInput, rows: int) -> RawInput:
    """`raw` with each row's line in the file, when a CSV has values over several lines (so a
    row's line is not row + 1); for naming the rows of problems, not on the clean path."""
    if raw.file_type != "csv" or raw.line_numbers is not None:
        return raw
    try:
        lines = tuple(start for start, _ in _csv_records(raw.path))
    except (_CsvProblem, UnicodeDecodeError, OSError):
        return raw
    if len(lines) != rows or lines == tuple(range(2, rows + 2)):
        return raw
    return dataclasses.replace(raw, line_numbers=lines)


def _has_trailing_comma(path: Path) -> bool:
    """Whether a comma closes a list or an object outside a string on some line."""
    import mmap

    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        start = 0
        while match := _TRAILING_COMMA.search(data, start):
            line_start = data.rfind(b"\n", 0, match.start()) + 1
            line_end = data.find(b"\n", match.end())
            line_end = len(data) if line_end < 0 else line_end
            try:
                json.loads(data[line_start:line_end])
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                return True
            start = line_end
    return False


def _might_have_trailing_comma(path: Path) -> bool:
    """Whether a comma stands right before a closing bracket anywhere (perhaps inside a string)."""
    import mmap

    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return _TRAILING_COMMA.search(data) is not None


def _check_jsonl_text(path: Path) -> None:
    """Valid UTF-8, no blank line and no trailing comma, else the first bad line (which may come
    before any of these)."""
    try:
        check_utf8(path)
        clean = not _jsonl_has_blank_lines(path) and not _has_trailing_comma(path)
    except InvalidInputError:
        clean = False
    if not clean:
        raise _first_bad_jsonl_line(path) or InvalidInputError(f"{path}: cannot be read as JSON Lines")


def raw_relation_sql(
    con: duckdb.DuckDBPyConnection, path: Path, good_lines: GoodLines | None = None
) -> tuple[RawInput, str]:
    """(what was read, a SQL query over the file yielding row_no + JSON columns).
    With `good_lines` (JSONL only) the query reads that filtered copy instead of `path`."""
    if not path.exists():
        raise InvalidInputError(f"{path}: no such file")
    if path.is_dir():
        raise InvalidInputError(f"{path}: is a folder, not a file")
    kind = file_type_of(path)
    if path.stat().st_size == 0:
        raise InvalidInputError(f"{path}: the file is empty")
    if good_lines is not None:
        if not good_lines.line_numbers:
            skipped = good_lines.skipped
            raise InvalidInputError(
                f"{path}: no line is a JSON object ({len(skipped)} skipped; the first: {skipped[0][1]})"
            )
        source_path = good_lines.path
    elif kind == "jsonl":
        _check_jsonl_text(path)
        source_path = path
    else:
        if kind in ("json", "csv"):
            check_utf8(path)
        if kind == "json" and _might_have_trailing_comma(path) and (problem := _json_file_problem(path)):
            raise InvalidInputError(f"{path}: {problem}")  # DuckDB would read past the comma without a word
        source_path = path
    p = quote_literal(str(source_path))
    try:
        if kind in ("jsonl", "json"):
            fmt = "newline_delimited" if kind == "jsonl" else "array"
            columns = _describe(con, path, f"read_json({p}, format='{fmt}')")
            if len(columns) == 1 and columns[0][0] == "json" and columns[0][1].startswith("MAP("):
                # DuckDB reads objects as one MAP when a key cannot be a column; the empty key is the one seen.
                if kind == "jsonl" and good_lines is None and (bad := _first_bad_jsonl_line(path)):
                    raise bad
                raise InvalidInputError(f'{path}: a JSON object has an empty key ""; every key must be a field name')
            spec = "{" + ", ".join(f"{quote_literal(c)}: 'JSON'" for c, _ in columns) + "}"
            select = ", ".join(quote_identifier(c) for c, _ in columns)
            source = f"read_json({p}, format='{fmt}', columns={spec})"
        elif kind == "parquet":
            columns = _describe(con, path, f"read_parquet({p})")
            select = ", ".join(f"to_json({q}) AS {q}" for q in (quote_identifier(c) for c, _ in columns))
            source = f"read_parquet({p})"
        else:
            columns = [(name, "VARCHAR") for name in _csv_header(path)]
            spec = "{" + ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c, _ in columns) + "}"
            select = ", ".join(_csv_cell_as_json(quote_identifier(c)) for c, _ in columns)
            source = f"read_csv({p}, columns={spec}, {CSV_DIALECT})"
    except InvalidInputError:
        raise
    except duckdb.Error as exc:
        raise read_error(path, kind, exc, good_lines) from None
    names = tuple(c for c, _ in columns)
    # DuckDB matches names case-insensitively, so "ROW_NO" would stand in for our row_no.
    if any(n.lower() == "row_no" for n in names):
        raise InvalidInputError(f"{path}: a column named 'row_no' is reserved")
    line_numbers = good_lines.line_numbers if good_lines is not None else None
    return RawInput(path, kind, names, line_numbers), f"SELECT row_number() OVER () AS row_no, {select} FROM {source}"


def _duckdb_reason(exc: Exception, *paths: Path) -> str:
    """DuckDB's message without its error class and the file's path, for inside parentheses."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = re.sub(r"^[A-Za-z ]*Error: ", "", text)
    for path in paths:
        for quoted in (f'"{path}"', f"'{path}'"):
            text = text.replace(f" in file {quoted},", "").replace(f" {quoted}", "").replace(quoted, "")
    return _sentence_case(text.strip().rstrip(".").strip())


def _json_file_problem(path: Path) -> str | None:
    """Where Python's parser finds a JSON file bad: "line L, column C: ..." or a shape problem."""
    try:  # an item at a time: a huge malformed file must not be held in memory whole
        return json_array_problem(path, _json_kind, _sentence_case)
    except (RecursionError, MemoryError, UnicodeDecodeError):
        return None


def read_error(path: Path, kind: str, exc: Exception, good_lines: GoodLines | None = None) -> InvalidInputError:
    """A DuckDB read failure as one line naming the file and, where Python can find it, the line."""
    if kind == "jsonl" and good_lines is None and (bad := _first_bad_jsonl_line(path)):
        return bad
    if kind == "json" and (problem := _json_file_problem(path)):
        return InvalidInputError(f"{path}: {problem}")
    if kind == "csv" and (problem := _csv_file_problem(path)):
        return InvalidInputError(f"{path}: {problem}")
    paths = (path,) if good_lines is None else (path, good_lines.path)
    return InvalidInputError(f"{path}: cannot be read as {KIND_NAMES[kind]} ({_duckdb_reason(exc, *paths)})")
