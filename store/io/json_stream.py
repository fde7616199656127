"""Finding what is wrong with a JSON array of objects one item at a time, so that a huge or
malformed `.json` costs memory for its largest item only (`json.load` would hold the whole
file as Python objects: a 76 MB file took the service to 1.85 GB)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

CHUNK_CHARS = 1 << 20
MAX_ITEM_CHARS = 64 << 20  # an item (a record) this long is refused rather than buffered
WHITESPACE = " \t\r\n"
FIRST_CHAR_KINDS = {"{": "an object", '"': "text"}


class _Stream:
    """A window on the file's text that remembers the line and column where it starts."""

    def __init__(self, fh: IO[str]):
        self.fh = fh
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.line = 1  # of buf[0]
        self.column = 1  # of buf[0]

    def more(self) -> bool:
        """Read on (twice what is buffered, at least a chunk: a long item is re-parsed a few times only)."""
        if self.eof:
            return False
        data = self.fh.read(max(CHUNK_CHARS, len(self.buf)))
        if not data:
            self.eof = True
            return False  # the window stays as it is: positions in it still hold
        self._drop_consumed()
        self.buf += data
        return True

    def _drop_consumed(self) -> None:
        done = self.buf[: self.pos]
        newlines = done.count("\n")
        if newlines:
            self.line += newlines
            self.column = len(done) - done.rfind("\n")
        else:
            self.column += len(done)
        self.buf = self.buf[self.pos :]
        self.pos = 0

    def where(self, pos: int) -> str:
        text = self.buf[:pos]
        newlines = text.count("\n")
        if newlines:
            column = pos - text.rfind("\n")
            return f"line {self.line + newlines}, column {column}"
        return f"line {self.line}, column {self.column + pos}"

    def next_char(self) -> str:
        """The next character that is not whitespace ("" at the end of the file), not consumed."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in WHITESPACE:
                self.pos += 1
            if self.pos < len(self.buf) or not self.more():
                return self.buf[self.pos] if self.pos < len(self.buf) else ""


def json_array_problem(path: Path, kind_of: Callable[[Any], str], message: Callable[[str], str]) -> str | None:
    """Where `path` is not a JSON array of objects: "line L, column C: not valid JSON (...)",
    "expected a JSON array of objects, got ...", "item N: ...", or None when it is one.
    `kind_of` names a parsed value's kind; `message` words the parser's message."""
    decoder = json.JSONDecoder()
    with path.open(encoding="utf-8") as fh:
        stream = _Stream(fh)

        def invalid(at: int, why: str) -> str:
            closing = stream.buf[at : at + 1]
            if closing in ("]", "}") and stream.buf[:at].rstrip().endswith(","):  # Python words it obscurely
                why = f"a trailing comma before '{closing}'"
            return f"{stream.where(at)}: not valid JSON ({message(why)})"

        first = stream.next_char()
        if first != "[":
            if first in FIRST_CHAR_KINDS:  # an object or text may be long: named by its first character
                return f"expected a JSON array of objects, got {FIRST_CHAR_KINDS[first]}"
            try:  # true, false, null or a number: short
                value, _ = decoder.raw_decode(stream.buf, stream.pos)
            except json.JSONDecodeError as exc:
                return invalid(exc.pos, exc.msg)
            return f"expected a JSON array of objects, got {kind_of(value)}"
        stream.pos += 1
        number = 0
        if stream.next_char() == "]":
            stream.pos += 1
        else:
            while True:
                number += 1
                while True:
                    try:
                        item, end = decoder.raw_decode(stream.buf, stream.pos)
                    except json.JSONDecodeError as exc:
                        # It may only be cut short by the window: read on (up to a bound), then it is real.
                        if len(stream.buf) - stream.pos < MAX_ITEM_CHARS and stream.more():
                            continue
                        if not stream.eof:
                            return f"item {number} is over {MAX_ITEM_CHARS >> 20} million characters"
                        return invalid(exc.pos, exc.msg)
                    if end == len(stream.buf) and stream.more():  # a number may go on
                        continue
                    break
                stream.pos = end
                if not isinstance(item, dict):
                    return f"item {number}: expected a JSON object, got {kind_of(item)}"
                after = stream.next_char()
                if after == "]":
                    stream.pos += 1
                    break
                if after != ",":
                    return invalid(stream.pos, "Expecting ',' delimiter")
                stream.pos += 1
                if stream.next_char() == "]":
                    return invalid(stream.pos, "Illegal trailing comma before end of array")
        if stream.next_char():
            return invalid(stream.pos, "Extra data")
    return None
