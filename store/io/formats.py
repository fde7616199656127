"""Input formats: detection from the columns, and normalisation of each format into
one shape (`NORMALISED_SCHEMA`) that validation and insertion share.

native and ultrafeedback are normalised in SQL (they are the bulk paths); trl and hh
need prefix matching and transcript parsing, done in Python on the fetched rows, and so
does sfb-axis (summarize-from-feedback's `axis` rows: one summary rated by one worker per
row, grouped here into one record per post).

Labels a file carries, kept with --keep-labels: `label_chosen` (trl, hh: which answer was
chosen) and `labels` (ratings: each source annotator's ratings per candidate and axis)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from store.db.connection import first_row
from store.errors import InvalidInputError
from store.io.readers import RawInput
from store.io.sql_names import quote_identifier, quote_literal

MESSAGE_TYPE = pa.struct([("role", pa.string()), ("content", pa.string())])
RESPONSE_TYPE = pa.struct([("text", pa.string()), ("source", pa.string())])
RATING_TYPE = pa.struct([("idx", pa.int16()), ("axis", pa.string()), ("value", pa.float64())])
LABEL_TYPE = pa.struct([("annotator", pa.string()), ("ratings", pa.list_(RATING_TYPE))])
LABELS_SQL_TYPE = "STRUCT(annotator VARCHAR, ratings STRUCT(idx SMALLINT, axis VARCHAR, value DOUBLE)[])[]"
NORMALISED_SCHEMA = pa.schema(
    [
        ("row_no", pa.int64()),
        ("ext_id", pa.string()),
        ("prompt_text", pa.string()),
        ("prompt_messages", pa.list_(MESSAGE_TYPE)),
        ("responses", pa.list_(RESPONSE_TYPE)),
        ("metadata", pa.string()),
        ("label_chosen", pa.int16()),
        ("labels", pa.list_(LABEL_TYPE)),
        ("error", pa.string()),
    ]
)
# Which input field a candidate came from, for error messages.
RESPONSE_FIELD = {
    "native": lambda i: f"responses[{i}]",
    "ultrafeedback": lambda i: f"completions[{i}]",
    "trl": lambda i: ("chosen", "rejected")[i] if i < 2 else f"responses[{i}]",
    "hh": lambda i: ("chosen", "rejected")[i] if i < 2 else f"responses[{i}]",
    "sfb-axis": lambda i: "summary",
}
RESPONSES_FIELD = {
    "native": "responses",
    "ultrafeedback": "completions",
    "trl": "chosen",
    "hh": "chosen",
    "sfb-axis": "summary",
}


def _axis(name: str, low: int, high: int, guidance: str, overall: bool = False, required: bool = True) -> dict:
    return {"name": name, "low": low, "high": high, "guidance": guidance, "overall": overall, "required": required}


# The rating axes of the formats that carry ratings: the dataset's axes when they make a rate dataset.
# Summarize from feedback (Stiennon et al. 2020) rates on 1-7 and leaves some axes empty on some rows;
# UltraFeedback rates on 1-5 with "N/A" where an axis does not apply.
FORMAT_AXES: dict[str, list[dict]] = {
    "sfb-axis": [
        _axis("overall", 1, 7, "How good is the summary overall as a summary of the post?", overall=True),
        _axis("accuracy", 1, 7, "Does everything the summary states match the post?", required=False),
        _axis("coverage", 1, 7, "Does the summary cover the post's important information?", required=False),
        _axis("coherence", 1, 7, "Is the summary clear and coherent when read on its own?", required=False),
    ],
    "ultrafeedback": [
        _axis("instruction_following", 1, 5, "Does the answer do what was asked, within its limits?", required=False),
        _axis("honesty", 1, 5, "Is the answer candid about its uncertainty, never falsely confident?", required=False),
        _axis("truthfulness", 1, 5, "Is the answer free of made-up or wrong facts?", required=False),
        _axis("helpfulness", 1, 5, "Is the answer correct, informative and useful?", required=False),
    ],
}
# Formats whose labels are ratings (a rate dataset's answers) rather than a chosen/rejected pair.
RATING_FORMATS = frozenset(FORMAT_AXES)

# Labellers named by a file (--keep-labels NAME, sfb-axis `worker`) live in a namespace of their own:
# no Unix user name holds a colon, so a file can never make answers that an annotator then owns.
IMPORTED_LABELLER_PREFIX = "import:"


def imported_labeller(name: str) -> str:
    """The annotator name under which a labeller named by an imported file is recorded."""
    return IMPORTED_LABELLER_PREFIX + name


def detect_format(raw: RawInput, con: duckdb.DuckDBPyConnection, raw_sql: str) -> str:
    cols = set(raw.columns)
    if "responses" in cols:
        return "native"
    if "completions" in cols and "instruction" in cols:
        return "ultrafeedback"
    if {"info", "summary"} <= cols:
        return "sfb-axis"
    if {"chosen", "rejected"} <= cols:
        if "prompt" in cols:
            return "trl"
        first = first_row(con.execute(f"SELECT chosen FROM ({raw_sql}) WHERE chosen IS NOT NULL LIMIT 1"))
        if first and isinstance(value := json.loads(first[0]), str) and "\n\nAssistant:" in value:
            return "hh"
        return "trl"
    raise InvalidInputError(
        f"{raw.path}: cannot tell the format from the columns ({', '.join(sorted(cols)) or 'none'}): expected "
        "prompt+responses (native), prompt/chosen/rejected (trl), chosen/rejected transcripts (hh), "
        "instruction+completions (ultrafeedback) or info+summary (sfb-axis); name it with --format"
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


def _ultrafeedback_element(x: str, with_ratings: bool) -> str:
    # The four ratings come out of the completion in one pass; `_uf_ratings_sql` reads them.
    paths = ", ".join(f"'$.annotations.{a['name']}.Rating'" for a in FORMAT_AXES["ultrafeedback"])
    ratings = f",\n        'rv': json_extract({x}, [{paths}])" if with_ratings else ""
    return f"""{{'text': CASE WHEN json_type({x}, '$.response') = 'VARCHAR' THEN {x}->>'response' END,
        'source': CASE WHEN json_type({x}, '$.model') = 'VARCHAR' THEN {x}->>'model' END,
        'ok': coalesce(json_type({x}, '$.response') = 'VARCHAR', false){ratings}}}"""


def _uf_ratings_sql(e: str) -> str:
    """Element `e`'s ratings: {ratings: [{axis, value}] (value NULL when not rated), error: the first
    bad one or NULL}. A rating is "1".."5" (or that number); "N/A", null or missing is no rating."""
    axes = "[" + ", ".join(f"'{a['name']}'" for a in FORMAT_AXES["ultrafeedback"]) + "]"
    t, text = "json_type(v)", "(v->>'$')"
    value = (
        f"CASE WHEN {t} = 'VARCHAR' AND {text} IN ('1', '2', '3', '4', '5') THEN {text}::DOUBLE "
        f"WHEN {t} IN ('BIGINT', 'UBIGINT', 'DOUBLE') AND {text}::DOUBLE IN (1, 2, 3, 4, 5) THEN {text}::DOUBLE END"
    )
    quoted = f"'''' || replace(replace(left({text}, 40), chr(10), '\\n'), chr(13), '\\r') || ''''"
    shown = (
        f"CASE {t} WHEN 'VARCHAR' THEN {quoted} WHEN 'BOOLEAN' THEN 'true/false' "
        f"WHEN 'OBJECT' THEN 'an object' WHEN 'ARRAY' THEN 'a list' ELSE {text} END"
    )
    error = (
        f"CASE WHEN {t} IS NULL OR {t} = 'NULL' OR ({value}) IS NOT NULL OR ({t} = 'VARCHAR' AND {text} = 'N/A') "
        f"THEN NULL ELSE 'annotations.' || {axes}[k] || '.Rating'': expected 1 to 5, got ' || {shown} END"
    )
    return f"""{{'ratings': list_transform({e}.rv, lambda v, k: {{'axis': {axes}[k], 'value': {value}}}),
        'error': list_filter(list_transform({e}.rv, lambda v, k: {error}), lambda m: m IS NOT NULL)[1]}}"""


def normalise_sql(raw: RawInput, raw_sql: str, fmt: str, rated_by: str | None = None) -> str:
    """SQL over the raw rows giving NORMALISED_SCHEMA, for the SQL-normalised formats.
    Each JSON value is parsed once (in `src` and `parsed`); the checks reuse the results.
    `rated_by` (ultrafeedback): also read the fine-grained ratings, as that annotator's labels."""
    if fmt == "native":
        prompt_col, list_col, prompt_field, list_field = "prompt", "responses", "prompt", "responses"
        element, element_hint = _native_element("x"), 'text or {\\"text\\", \\"source\\"}'
    elif fmt == "ultrafeedback":
        prompt_col, list_col, prompt_field, list_field = "instruction", "completions", "instruction", "completions"
        element = _ultrafeedback_element("x", rated_by is not None)
        element_hint = 'an object with text field \\"response\\"'
    else:
        raise ValueError(fmt)
    labels, rating_check, rated = "NULL", "", "NULL"
    if rated_by is not None:
        rated = f"list_transform(elems, lambda e: {_uf_ratings_sql('e')})"
        labels = f"""CASE WHEN elems IS NOT NULL THEN [{{'annotator': {quote_literal(rated_by)},
            'ratings': list_filter(flatten(list_transform(rated, lambda e, i: list_transform(e.ratings,
                lambda r: {{'idx': (i - 1)::SMALLINT, 'axis': r.axis, 'value': r.value}}))),
                lambda r: r.value IS NOT NULL)}}] END"""
        at = "list_position(list_transform(rated, lambda e: e.error IS NOT NULL), true)"
        rating_check = f"""WHEN {at} > 0
                   THEN 'field ''{list_field}[' || ({at} - 1)::VARCHAR || '].' || rated[{at}].error"""
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
    ),
    with_ratings AS (
        SELECT *, {rated} AS rated FROM parsed
    )
    SELECT row_no,
           {id_value} AS ext_id,
           {prompt_text} AS prompt_text,
           {prompt_messages if chat_allowed else "NULL::STRUCT(role VARCHAR, content VARCHAR)[]"} AS prompt_messages,
           list_transform(elems, lambda e: struct_pack(text := e.text, source := e.source)) AS responses,
           CASE WHEN json_type(metadata) = 'OBJECT' THEN metadata::VARCHAR END AS metadata,
           NULL::SMALLINT AS label_chosen,
           ({labels})::{LABELS_SQL_TYPE} AS labels,
           CASE
               {_text_value_checks("prompt", prompt_field)}
               {"" if chat_allowed else text_only_check}
               WHEN items_json IS NULL OR items_type = 'NULL' THEN 'field ''{list_field}'': missing'
               WHEN items_type <> 'ARRAY' THEN 'field ''{list_field}'': expected a list, got ' || {_kind("items_json")}
               WHEN list_position(list_transform(elems, lambda e: e.ok), false) > 0
                   THEN 'field ''{list_field}[' || (list_position(list_transform(elems, lambda e: e.ok), false) - 1)::VARCHAR
                        || ']'': expected {element_hint}'
               {rating_check}
               {id_check}
               WHEN metadata IS NOT NULL AND json_type(metadata) NOT IN ('OBJECT', 'NULL')
                   THEN 'field ''metadata'': expected an object, got ' || {_kind("metadata")}
           END AS error
    FROM with_ratings
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


_HH_REPLY_START = "\n\nAssistant: "


def _hh_common_prefix_row(chosen: str, rejected: str) -> dict:
    """TRL's reading of an HH row whose two transcripts differ before the final reply: the text
    they share, up to its last "\n\nAssistant: ", is the prompt; the rest of each is its reply."""
    shared = chosen[: _common_prefix_len(chosen, rejected)]
    cut = shared.rfind(_HH_REPLY_START)
    prompt = _hh_turns(shared[:cut], "chosen") if cut > 0 else []
    if not prompt or prompt[-1]["role"] != "user":
        raise RowError("field 'rejected': the conversation before the final reply differs from 'chosen'")
    start = cut + len(_HH_REPLY_START)
    return {"prompt": prompt, "responses": [chosen[start:].strip(), rejected[start:].strip()], "common_prefix": True}


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
        return _hh_common_prefix_row(row["chosen"], row["rejected"])
    if not prompt:
        raise RowError("field 'chosen': no Human turn before the final reply")
    return {"prompt": prompt, "responses": [turns["chosen"][-1]["content"], turns["rejected"][-1]["content"]]}


PYTHON_NORMALISERS: dict[str, Callable[[dict], dict]] = {"trl": _trl_row, "hh": _hh_row}


def normalise_python(con: duckdb.DuckDBPyConnection, raw: RawInput, raw_sql: str, fmt: str) -> tuple[pa.Table, int]:
    """The normalised rows of a trl or hh file, and how many hh rows were read by their common prefix."""
    wanted = [c for c in ("id", "prompt", "chosen", "rejected", "metadata") if c in raw.columns]
    select = ", ".join(quote_identifier(c) for c in wanted)
    rows = con.execute(f"SELECT row_no, {select} FROM ({raw_sql}) ORDER BY row_no").fetchall()
    normalise = PYTHON_NORMALISERS[fmt]
    common_prefix_rows = 0
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
            common_prefix_rows += bool(parsed.get("common_prefix"))
        except RowError as exc:
            error = str(exc)
        out["ext_id"].append(ext_id)
        out["metadata"].append(metadata)
        out["error"].append(error)
        out["prompt_text"].append(prompt if isinstance(prompt, str) else None)
        out["prompt_messages"].append(prompt if isinstance(prompt, list) else None)
        out["responses"].append([{"text": t, "source": None} for t in responses] if responses is not None else None)
        out["labels"].append(None)
    return pa.Table.from_pydict(out, schema=NORMALISED_SCHEMA), common_prefix_rows


# -- summarize from feedback, axis: one summary rated by one worker per row -------------


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return "text" if isinstance(value, str) else "null"


def _optional_text(value: Any, field: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise RowError(f"field '{field}': expected text, got {_json_kind(value)}")
    return value or None


def _object(value: Any, field: str) -> dict:
    if value is None:
        raise RowError(f"field '{field}': missing")
    if not isinstance(value, dict):
        raise RowError(f"field '{field}': expected an object, got {_json_kind(value)}")
    return value


def _sfb_rating(value: Any, axis: dict, field: str) -> float | None:
    """An axis value: a whole number on the axis's scale, or null (not rated)."""
    if value is None:
        return None
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and math.isfinite(value) and value == int(value) and axis["low"] <= value <= axis["high"]:
        return float(value)
    shown = repr(value[:40]) if isinstance(value, str) else str(value) if number else _json_kind(value)
    raise RowError(f"field '{field}': expected {axis['low']} to {axis['high']}, got {shown}")


def _sfb_axis_row(row: dict, max_annotator: int) -> dict:
    """One axis row checked: the post and one rated summary, every problem named by its field."""
    info = _object(row.get("info"), "info")
    ident = info.get("id")
    if ident is None:
        raise RowError("field 'info.id': missing")
    if isinstance(ident, bool) or not isinstance(ident, (str, int)):
        raise RowError(f"field 'info.id': expected text or an integer, got {_json_kind(ident)}")
    post = _optional_text(info.get("post"), "info.post") or _optional_text(info.get("article"), "info.article")
    if post is None or not post.strip():
        raise RowError("field 'info.post': missing (or 'info.article')")
    title = _optional_text(info.get("title"), "info.title")
    summary = _object(row.get("summary"), "summary")
    text = summary.get("text")
    if text is None:
        raise RowError("field 'summary.text': missing")
    if not isinstance(text, str):
        raise RowError(f"field 'summary.text': expected text, got {_json_kind(text)}")
    if not text.strip():
        raise RowError("field 'summary.text': empty text")
    axes = summary.get("axes")
    if axes is not None and not isinstance(axes, dict):
        raise RowError(f"field 'summary.axes': expected an object, got {_json_kind(axes)}")
    ratings = {
        axis["name"]: _sfb_rating((axes or {}).get(axis["name"]), axis, f"summary.axes.{axis['name']}")
        for axis in FORMAT_AXES["sfb-axis"]
    }
    worker = _optional_text(row.get("worker"), "worker")
    if worker is not None and len(worker) > max_annotator:
        raise RowError(f"field 'worker': longer than {max_annotator} characters")
    meta = {
        "subreddit": _optional_text(info.get("subreddit"), "info.subreddit"),
        "site": _optional_text(info.get("site"), "info.site"),
        "split": _optional_text(row.get("split"), "split"),
    }
    return {
        "id": str(ident),
        "prompt": f"{title.strip()}\n\n{post}" if title and title.strip() else post,
        "text": text,
        "policy": _optional_text(summary.get("policy"), "summary.policy"),
        "ratings": {k: v for k, v in ratings.items() if v is not None},
        "worker": worker,
        "metadata": {k: v for k, v in meta.items() if v is not None},
    }


def normalise_sfb_axis(
    con: duckdb.DuckDBPyConnection,
    raw: RawInput,
    raw_sql: str,
    rated_by: str | None,
    min_n: int,
    max_n: int,
    max_annotator: int,
) -> tuple[pa.Table, int]:
    """(one normalised row per post, plus one per bad row; how many rows were read).

    A post's row_no is its first good row. Identical summary texts are one candidate (its
    source lists each policy). With `rated_by`, each worker's ratings are that worker's labels
    (`rated_by` names rows without a worker); a second rating of one candidate keeps the first."""
    wanted = [c for c in ("info", "summary", "worker", "split") if c in raw.columns]
    select = ", ".join(quote_identifier(c) for c in wanted)
    rows = con.execute(f"SELECT row_no, {select} FROM ({raw_sql}) ORDER BY row_no").fetchall()
    out: dict[str, list[Any]] = {name: [] for name in NORMALISED_SCHEMA.names}

    def emit(row_no: int, error: str | None, post: dict | None = None) -> None:
        out["row_no"].append(row_no)
        out["error"].append(error)
        out["ext_id"].append(post["id"] if post else None)
        out["prompt_text"].append(post["prompt"] if post else None)
        out["prompt_messages"].append(None)
        out["metadata"].append(json.dumps(post["metadata"]) if post and post["metadata"] else None)
        out["label_chosen"].append(None)
        if post is None:
            out["responses"].append(None)
            out["labels"].append(None)
            return
        out["responses"].append(
            [{"text": t, "source": ", ".join(p) or None} for t, p in zip(post["texts"], post["policies"])]
        )
        labels = [
            {"annotator": who, "ratings": [{"idx": i, "axis": a, "value": v} for (i, a), v in rated.items()]}
            for who, rated in post["labels"].items()
        ]
        out["labels"].append(labels if rated_by is not None else None)

    posts: dict[str, dict] = {}
    for row_no, *values in rows:
        try:
            parsed = _sfb_axis_row(
                {k: (json.loads(v) if v is not None else None) for k, v in zip(wanted, values)}, max_annotator
            )
        except RowError as exc:
            emit(row_no, str(exc))
            continue
        post = posts.setdefault(
            parsed["id"],
            {**parsed, "row_no": row_no, "texts": [], "policies": [], "labels": {}},
        )
        if parsed["text"] not in post["texts"]:
            post["texts"].append(parsed["text"])
            post["policies"].append([])
        idx = post["texts"].index(parsed["text"])
        if parsed["policy"] and parsed["policy"] not in post["policies"][idx]:
            post["policies"][idx].append(parsed["policy"])
        labeller = imported_labeller(parsed["worker"]) if parsed["worker"] else rated_by
        rated = post["labels"].setdefault(labeller, {})
        for axis, value in parsed["ratings"].items():
            rated.setdefault((idx, axis), value)
    for ident, post in posts.items():
        n = len(post["texts"])
        if not min_n <= n <= max_n:
            wanted_n = f"{min_n}" if min_n == max_n else f"{min_n} to {max_n}"
            emit(post["row_no"], f"post {ident!r}: expected {wanted_n} different summaries, got {n}")
        else:
            emit(post["row_no"], None, post)
    table = pa.Table.from_pydict(out, schema=NORMALISED_SCHEMA)
    return table.sort_by("row_no"), len(rows)
