"""Input formats: detection from the columns, and normalisation of each format into
one shape (`NORMALISED_COLUMNS`) that validation and insertion share.

native and ultrafeedback are normalised in SQL (they are the bulk paths); trl and hh
need prefix matching and transcript parsing, done in Python on the fetched rows."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from .connection import first_row
from .errors import InvalidInputError
from .import_readers import RawInput
from .sql_names import quote_identifier

MESSAGE_TYPE = pa.struct([("role", pa.string()), ("content", pa.string())])
RESPONSE_TYPE = pa.struct([("text", pa.string()), ("source", pa.string())])
NORMALISED_SCHEMA = pa.schema(
    [
        ("row_no", pa.int64()),
        ("ext_id", pa.string()),
        ("prompt_text", pa.string()),
        ("prompt_messages", pa.list_(MESSAGE_TYPE)),
        ("responses", pa.list_(RESPONSE_TYPE)),
        ("metadata", pa.string()),
        ("label_chosen", pa.int16()),
        ("error", pa.string()),
    ]
)
# Which input field a candidate came from, for error messages.
RESPONSE_FIELD = {
    "native": lambda i: f"responses[{i}]",
    "ultrafeedback": lambda i: f"completions[{i}]",
    "trl": lambda i: ("chosen", "rejected")[i] if i < 2 else f"responses[{i}]",
    "hh": lambda i: ("chosen", "rejected")[i] if i < 2 else f"responses[{i}]",
}
RESPONSES_FIELD = {"native": "responses", "ultrafeedback": "completions", "trl": "chosen", "hh": "chosen"}


def detect_format(raw: RawInput, con: duckdb.DuckDBPyConnection, raw_sql: str) -> str:
    cols = set(raw.columns)
    if "responses" in cols:
        return "native"
    if "completions" in cols and "instruction" in cols:
        return "ultrafeedback"
    if {"chosen", "rejected"} <= cols:
        if "prompt" in cols:
            return "trl"
        first = first_row(con.execute(f"SELECT chosen FROM ({raw_sql}) WHERE chosen IS NOT NULL LIMIT 1"))
        if first and isinstance(value := json.loads(first[0]), str) and "\n\nAssistant:" in value:
            return "hh"
        return "trl"
    raise InvalidInputError(
        f"{raw.path}: cannot tell the format from the columns ({', '.join(sorted(cols)) or 'none'}): expected "
        "prompt+responses (native), prompt/chosen/rejected (trl), chosen/rejected transcripts (hh) or "
        "instruction+completions (ultrafeedback); name it with --format"
    )


def _kind(col: str) -> str:
    """SQL naming a JSON value's type the way a person would."""
    return (
        f"CASE json_type({col}) WHEN 'VARCHAR' THEN 'text' WHEN 'BOOLEAN' THEN 'true/false' "
        f"WHEN 'OBJECT' THEN 'an object' WHEN 'ARRAY' THEN 'a list' ELSE 'a number' END"
    )


def _column(raw: RawInput, name: str) -> str:
    return quote_identifier(name) if name in raw.columns else "NULL::JSON"


def _id_sql_for(col: str) -> tuple[str, str]:
    """(ext_id expression, its error check) for an optional `id` column."""
    value = (
        f"CASE WHEN json_type({col}) = 'VARCHAR' THEN {col}->>'$' "
        f"WHEN json_type({col}) IN ('BIGINT', 'UBIGINT') THEN {col}::VARCHAR END"
    )
    check = (
        f"WHEN {col} IS NOT NULL AND json_type({col}) NOT IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'NULL') "
        f"THEN 'field ''id'': expected text or an integer, got ' || {_kind(col)}"
    )
    return value, check


def _text_value_checks(col: str, field: str) -> str:
    """SQL CASE arms: the column is present and holds text or a list of {role, content}."""
    return f"""
        WHEN {col} IS NULL OR json_type({col}) = 'NULL' THEN 'field ''{field}'': missing'
        WHEN json_type({col}) NOT IN ('VARCHAR', 'ARRAY')
            THEN 'field ''{field}'': expected text or a list of {{role, content}} messages, got ' || {_kind(col)}
        WHEN json_type({col}) = 'ARRAY' AND NOT coalesce(list_bool_and(list_transform(try_cast({col} AS JSON[]),
                lambda m: json_type(m) = 'OBJECT' AND coalesce(json_type(m, '$.role') = 'VARCHAR', false)
                          AND coalesce(json_type(m, '$.content') = 'VARCHAR', false))), true)
            THEN 'field ''{field}'': each message needs text fields \"role\" and \"content\"'"""


def _prompt_sql(col: str) -> tuple[str, str]:
    text = f"CASE WHEN json_type({col}) = 'VARCHAR' THEN {col}->>'$' END"
    messages = (
        f"CASE WHEN json_type({col}) = 'ARRAY' THEN list_transform(try_cast({col} AS JSON[]), "
        f"lambda m: {{'role': m->>'role', 'content': m->>'content'}}) END"
    )
    return text, messages


def _native_element(x: str) -> str:
    """One response of the native format, parsed once: {text, source, ok}."""
    return f"""CASE WHEN starts_with({x}, '"') THEN {{'text': {x}->>'$', 'source': NULL::VARCHAR, 'ok': true}}
        WHEN starts_with({x}, '{{') THEN {{
            'text': CASE WHEN json_type({x}, '$.text') = 'VARCHAR' THEN {x}->>'text' END,
            'source': CASE WHEN json_type({x}, '$.source') = 'VARCHAR' THEN {x}->>'source' END,
            'ok': coalesce(json_type({x}, '$.text') = 'VARCHAR', false)
                  AND coalesce(json_type({x}, '$.source') IN ('VARCHAR', 'NULL'), true)}}
        ELSE {{'text': NULL::VARCHAR, 'source': NULL::VARCHAR, 'ok': false}} END"""


def _ultrafeedback_element(x: str) -> str:
    return f"""{{'text': CASE WHEN json_type({x}, '$.response') = 'VARCHAR' THEN {x}->>'response' END,
        'source': CASE WHEN json_type({x}, '$.model') = 'VARCHAR' THEN {x}->>'model' END,
        'ok': coalesce(json_type({x}, '$.response') = 'VARCHAR', false)}}"""


def normalise_sql(raw: RawInput, raw_sql: str, fmt: str) -> str:
    """SQL over the raw rows giving NORMALISED_SCHEMA, for the SQL-normalised formats.
    Each JSON value is parsed once (in `src` and `parsed`); the checks reuse the results."""
    if fmt == "native":
        prompt_col, list_col, prompt_field, list_field = "prompt", "responses", "prompt", "responses"
        element, element_hint = _native_element("x"), 'text or {\\"text\\", \\"source\\"}'
    elif fmt == "ultrafeedback":
        prompt_col, list_col, prompt_field, list_field = "instruction", "completions", "instruction", "completions"
        element, element_hint = _ultrafeedback_element("x"), 'an object with text field \\"response\\"'
    else:
        raise ValueError(fmt)
    src = ", ".join(
        f"{_column(raw, name)} AS {alias}"
        for name, alias in (("id", "id"), (prompt_col, "prompt"), (list_col, "items_json"), ("metadata", "metadata"))
    )
    prompt_text, prompt_messages = _prompt_sql("prompt")
    id_value, id_check = _id_sql_for("id")
    chat_allowed = fmt == "native"
    text_only_check = (
        f"WHEN json_type(prompt) <> 'VARCHAR' THEN 'field ''{prompt_field}'': expected text, got ' || {_kind('prompt')}"
    )
    return f"""
    WITH src AS (
        SELECT row_no, {src} FROM ({raw_sql})
    ),
    parsed AS (
        SELECT *, json_type(items_json) AS items_type,
               list_transform(CASE WHEN json_type(items_json) = 'ARRAY' THEN try_cast(items_json AS JSON[]) END,
                              lambda x: {element}) AS elems
        FROM src
    )
    SELECT row_no,
           {id_value} AS ext_id,
           {prompt_text} AS prompt_text,
           {prompt_messages if chat_allowed else "NULL::STRUCT(role VARCHAR, content VARCHAR)[]"} AS prompt_messages,
           list_transform(elems, lambda e: struct_pack(text := e.text, source := e.source)) AS responses,
           CASE WHEN json_type(metadata) = 'OBJECT' THEN metadata::VARCHAR END AS metadata,
           NULL::SMALLINT AS label_chosen,
           CASE
               {_text_value_checks("prompt", prompt_field)}
               {"" if chat_allowed else text_only_check}
               WHEN items_json IS NULL OR items_type = 'NULL' THEN 'field ''{list_field}'': missing'
               WHEN items_type <> 'ARRAY' THEN 'field ''{list_field}'': expected a list, got ' || {_kind("items_json")}
               WHEN list_position(list_transform(elems, lambda e: e.ok), false) > 0
                   THEN 'field ''{list_field}[' || (list_position(list_transform(elems, lambda e: e.ok), false) - 1)::VARCHAR
                        || ']'': expected {element_hint}'
               {id_check}
               WHEN metadata IS NOT NULL AND json_type(metadata) NOT IN ('OBJECT', 'NULL')
                   THEN 'field ''metadata'': expected an object, got ' || {_kind("metadata")}
           END AS error
    FROM parsed
    """


# -- trl and hh, in Python -----------------------------------------------------------


class RowError(Exception):
    pass


Messages = list[dict[str, str]]  # chat messages, each {role, content}
TextOrMessages = str | Messages


def _messages(value: list[Any], field: str) -> Messages:
    if not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in value
    ):
        raise RowError(f'field \'{field}\': each message needs text fields "role" and "content"')
    return [{"role": m["role"], "content": m["content"]} for m in value]


def _text_or_messages(value: Any, field: str) -> TextOrMessages:
    if value is None:
        raise RowError(f"field '{field}': missing")
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return _messages(value, field)
    raise RowError(
        f"field '{field}': expected text or a list of {{role, content}} messages, got {type(value).__name__}"
    )


def _completion_text(value: TextOrMessages, field: str) -> str:
    """The candidate text of a TRL completion: a string, or the content of its message(s)."""
    if isinstance(value, str):
        return value
    if not value:
        raise RowError(f"field '{field}': empty message list")
    return "\n\n".join(m["content"] for m in value)


def _common_prefix_len(a: Sequence[Any], b: Sequence[Any]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _split_implicit(
    chosen: TextOrMessages, rejected: TextOrMessages
) -> tuple[TextOrMessages, TextOrMessages, TextOrMessages]:
    """TRL's implicit-prompt rows: the shared beginning is the prompt."""
    if isinstance(chosen, str):
        n = _common_prefix_len(chosen, rejected)
        if n and chosen[n - 1] == " ":
            n -= 1  # the space belongs to the answers, as TRL's extract_prompt does
        return chosen[:n], chosen[n:], rejected[n:]
    n = _common_prefix_len(chosen, rejected)
    if n == 0:
        raise RowError("field 'chosen': chosen and rejected share no prompt messages")
    return chosen[:n], chosen[n:], rejected[n:]


def _trl_row(row: dict) -> dict:
    chosen = _text_or_messages(row.get("chosen"), "chosen")
    rejected = _text_or_messages(row.get("rejected"), "rejected")
    if type(chosen) is not type(rejected):
        raise RowError("field 'rejected': chosen and rejected must both be text or both be message lists")
    if row.get("prompt") is not None:
        prompt = _text_or_messages(row["prompt"], "prompt")
    else:
        prompt, chosen, rejected = _split_implicit(chosen, rejected)
    return {
        "prompt": prompt,
        "responses": [_completion_text(chosen, "chosen"), _completion_text(rejected, "rejected")],
    }


# A turn starts at "\n\nHuman: " or "\n\nAssistant: " only; the space may be missing where
# the turn is empty (at the end, or right before the next turn). "Human:" elsewhere is text.
_HH_TURN = re.compile(r"\n\n(Human|Assistant):(?: |(?=\n\n(?:Human|Assistant):)|\s*$)")


def _hh_turns(transcript: str, field: str) -> list[dict]:
    parts = _HH_TURN.split(transcript)
    if len(parts) < 3 or parts[0].strip():
        raise RowError(f"field '{field}': expected a transcript of \"\\n\\nHuman: …\\n\\nAssistant: …\" turns")
    roles = {"Human": "user", "Assistant": "assistant"}
    return [{"role": roles[parts[i]], "content": parts[i + 1].strip()} for i in range(1, len(parts), 2)]


def _hh_row(row: dict) -> dict:
    turns = {}
    for field in ("chosen", "rejected"):
        value = row.get(field)
        if not isinstance(value, str):
            raise RowError(
                f"field '{field}': expected a transcript string" + ("" if value is not None else ", missing")
            )
        turns[field] = _hh_turns(value, field)
        if turns[field][-1]["role"] != "assistant":
            raise RowError(f"field '{field}': the transcript must end with an Assistant turn")
    prompt = turns["chosen"][:-1]
    if turns["rejected"][:-1] != prompt:
        raise RowError("field 'rejected': the conversation before the final reply differs from 'chosen'")
    if not prompt:
        raise RowError("field 'chosen': no Human turn before the final reply")
    return {"prompt": prompt, "responses": [turns["chosen"][-1]["content"], turns["rejected"][-1]["content"]]}


PYTHON_NORMALISERS: dict[str, Callable[[dict], dict]] = {"trl": _trl_row, "hh": _hh_row}


def normalise_python(con: duckdb.DuckDBPyConnection, raw: RawInput, raw_sql: str, fmt: str) -> pa.Table:
    wanted = [c for c in ("id", "prompt", "chosen", "rejected", "metadata") if c in raw.columns]
    select = ", ".join(quote_identifier(c) for c in wanted)
    rows = con.execute(f"SELECT row_no, {select} FROM ({raw_sql}) ORDER BY row_no").fetchall()
    normalise = PYTHON_NORMALISERS[fmt]
    out: dict[str, list[Any]] = {name: [] for name in NORMALISED_SCHEMA.names}
    for row_no, *values in rows:
        row = {k: (json.loads(v) if v is not None else None) for k, v in zip(wanted, values)}
        out["row_no"].append(row_no)
        out["label_chosen"].append(0)
        ext_id, error, prompt, responses, metadata = None, None, None, None, None
        try:
            ident = row.get("id")
            if ident is not None and (isinstance(ident, bool) or not isinstance(ident, (str, int))):
                raise RowError(f"field 'id': expected text or an integer, got {type(ident).__name__}")
            ext_id = None if ident is None else str(ident)
            meta = row.get("metadata")
            if meta is not None and not isinstance(meta, dict):
                raise RowError(f"field 'metadata': expected an object, got {type(meta).__name__}")
            metadata = json.dumps(meta) if meta is not None else None
            parsed = normalise(row)
            prompt, responses = parsed["prompt"], parsed["responses"]
        except RowError as exc:
            error = str(exc)
        out["ext_id"].append(ext_id)
        out["metadata"].append(metadata)
        out["error"].append(error)
        out["prompt_text"].append(prompt if isinstance(prompt, str) else None)
        out["prompt_messages"].append(prompt if isinstance(prompt, list) else None)
        out["responses"].append([{"text": t, "source": None} for t in responses] if responses is not None else None)
    return pa.Table.from_pydict(out, schema=NORMALISED_SCHEMA)
