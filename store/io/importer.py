"""`rlhf-tui import`: read a file, normalise its format, validate every row, and
bulk-insert the new records and candidates in one transaction (all or nothing)."""

from __future__ import annotations

import heapq
import json
import re
from pathlib import Path

import duckdb
import pyarrow as pa

from store.answer_checks import MAX_ANNOTATOR_CHARS
from store.clock import utcnow
from store.dataset_names import check_dataset_name
from store.dataset_settings import check_settings
from store.db.connection import first_row
from store.db.dataset_rows import insert_dataset
from store.db.transactions import transaction
from store.errors import InvalidInputError
from store.io.formats import (
    FORMAT_AXES,
    IMPORTED_LABELLER_PREFIX,
    RATING_FORMATS,
    RESPONSE_FIELD,
    RESPONSES_FIELD,
    detect_format,
    imported_labeller,
    normalise_python,
    normalise_sfb_axis,
    normalise_sql,
)
from store.io.readers import (
    BadLineError,
    GoodLines,
    RawInput,
    jsonl_good_lines,
    raw_relation_sql,
    read_error,
    with_csv_lines,
)
from store.names import IMPORT_FORMATS, TASK_KINDS
from store.types import MAX_CANDIDATES, MAX_TEXT_BYTES, MIN_CANDIDATES, ImportReport

MAX_LISTED_REJECTIONS = 1000
# `--keep-labels gold`: the file's chosen/rejected become gold reviews by this reviewer, not an answer.
GOLD = "gold"
GOLD_REVIEWER = "import"


# An empty reply is a real candidate in chosen/rejected data (the model said nothing); a
# list of responses with an empty one is a broken row.
EMPTY_RESPONSE_ALLOWED = frozenset({"trl", "hh"})


def _validation_sql(source: str, min_n: int, max_n: int, empty_allowed: bool) -> str:
    """Adds the checks every format shares to the normalised rows of `source`."""
    empty = "r.text IS NULL" if empty_allowed else "r.text IS NULL OR trim(r.text) = ''"
    empty_at = f"list_position(list_transform(n.responses, lambda r: {empty}), true)"
    too_long_at = f"list_position(list_transform(n.responses, lambda r: strlen(r.text) > {MAX_TEXT_BYTES}), true)"
    message_too_long = (
        f"list_bool_or(list_transform(n.prompt_messages, lambda m: strlen(m.content) > {MAX_TEXT_BYTES}))"
    )
    return f"""
    SELECT n.*,
        coalesce(n.error, CASE
            WHEN n.prompt_text IS NOT NULL AND trim(n.prompt_text) = '' THEN 'field ''prompt'': empty'
            WHEN n.prompt_messages IS NOT NULL AND len(n.prompt_messages) = 0 THEN 'field ''prompt'': empty message list'
            WHEN n.prompt_text IS NULL AND n.prompt_messages IS NULL THEN 'field ''prompt'': missing'
            WHEN strlen(n.prompt_text) > {MAX_TEXT_BYTES}
                THEN 'field ''prompt'': text over 1 MB (' || strlen(n.prompt_text) || ' bytes)'
            WHEN coalesce({message_too_long}, false)
                THEN 'field ''prompt'': a message over 1 MB'
            WHEN n.responses IS NULL THEN 'field ''@list'': missing'
            WHEN len(n.responses) < {min_n} OR len(n.responses) > {max_n}
                THEN 'field ''@list'': expected '
                     || CASE WHEN {min_n} = {max_n} THEN '{min_n}' ELSE '{min_n} to {max_n}' END
                     || ' responses, got ' || len(n.responses)
            WHEN {empty_at} > 0 THEN 'field ''@item' || ({empty_at} - 1) || ''': empty text'
            WHEN {too_long_at} > 0 THEN 'field ''@item' || ({too_long_at} - 1) || ''': text over 1 MB'
            WHEN n.ext_id IS NOT NULL AND first_row <> n.row_no
                THEN 'field ''id'': duplicate id ' || to_json(n.ext_id) || ' (first at @row' || first_row || ')'
        END) AS problem
    FROM (
        SELECT *, min(row_no) OVER (PARTITION BY ext_id) AS first_row FROM {source}
    ) n
    """


_PLACEHOLDER = re.compile(r"@(item|row)(\d+)")


def _describe_problem(raw: RawInput, row_no: int, problem: str, fmt: str) -> str:
    """The SQL checks leave @list, @itemN and @rowN for the format's own field names and locations."""
    problem = problem.replace("@list", RESPONSES_FIELD[fmt])
    problem = _PLACEHOLDER.sub(
        lambda m: RESPONSE_FIELD[fmt](int(m[2])) if m[1] == "item" else raw.location(int(m[2])), problem
    )
    return f"{raw.path}: {raw.location(row_no)}: {problem}"


def import_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    dataset: str,
    task: str | None,
    fmt: str,
    guidelines: str | None,
    annotators_per_record: int | None,
    skip_invalid: bool,
    keep_labels: str | None,
    settings: dict | None = None,
) -> ImportReport:
    check_dataset_name(dataset)
    if fmt not in ("auto", *IMPORT_FORMATS):
        raise InvalidInputError(f"unknown format {fmt!r}; use auto, {', '.join(IMPORT_FORMATS)}")
    if task is not None and task not in TASK_KINDS:
        raise InvalidInputError(f"unknown task {task!r}; use {', '.join(TASK_KINDS)}")
    if annotators_per_record is not None and annotators_per_record < 1:
        raise InvalidInputError("--annotators-per-record must be at least 1")
    given = check_settings(dict(settings)) if settings else {}
    existing = first_row(con.execute("SELECT id, task, settings FROM datasets WHERE name = ?", [dataset]))
    if existing is None:
        check_dataset_name(dataset)
    if existing and task and existing[1] != task:
        raise InvalidInputError(
            f"dataset {dataset!r} is a {existing[1]} dataset; it cannot take --task {task} (to start it again as "
            f"a {task} dataset: `rlhf-tui datasets delete {dataset}`, or `datasets rename` it out of the way)"
        )
    existing_task = existing[1] if existing else None
    existing_settings = json.loads(existing[2] or "{}") if existing else {}
    task = task or existing_task
    keep_labels = keep_labels or None

    def read(good: GoodLines | None) -> tuple[RawInput, pa.Table, str, str, int, int]:
        return _read_and_check(con, path, good, fmt, task, keep_labels, dataset, existing_task)

    try:
        raw, checked, fmt, task, rows_read, common_prefix_rows = read(None)
        skipped: tuple[tuple[int, str], ...] = ()
    except BadLineError as exc:
        if not skip_invalid:
            raise InvalidInputError(f"{exc}; nothing was imported (--skip-invalid leaves such lines out)") from None
        # Only now is the file copied line by line: the clean path stays in DuckDB.
        with jsonl_good_lines(path) as good:
            raw, checked, fmt, task, rows_read, common_prefix_rows = read(good)
        skipped = good.skipped
    axes = _dataset_axes(dataset, fmt, task, keep_labels, existing_settings)
    if task == "rate" and not (axes or given.get("axes") or existing_settings.get("axes")):
        # Without axes the app has nothing to rate on: every card would read "rated" and nothing submits.
        raise InvalidInputError(
            f"a rate dataset needs its rating axes: give --axes AXES.toml ([[axis]] tables of name, low, high); "
            f"{dataset!r} has none, so nothing was imported"
        )

    con.register("checked", checked)
    try:
        problems = con.execute(
            "SELECT row_no, problem FROM checked WHERE problem IS NOT NULL ORDER BY row_no"
        ).fetchall()
        if problems:
            raw = with_csv_lines(raw, rows_read)  # rows named by their line, after any multi-line values
        rows = [(raw.line_of(r), _describe_problem(raw, r, p, fmt)) for r, p in problems]
        if rows and not skip_invalid:
            more = f" (and {len(rows) - 1} more problem rows; --skip-invalid imports the rest)" if len(rows) > 1 else ""
            raise InvalidInputError(rows[0][1] + more + "; nothing was imported")
        lines = [(number, f"{raw.path}: {why}") for number, why in skipped]
        rejected = tuple(text for _, text in heapq.merge(lines, rows, key=lambda item: item[0]))
        return _insert(
            con,
            raw,
            fmt,
            dataset,
            task,
            guidelines,
            annotators_per_record,
            keep_labels,
            {**({"axes": axes} if axes else {}), **given},
            rejected,
            rows_read + len(skipped),
            len(checked) - len(problems),
            common_prefix_rows,
        )
    finally:
        _unregister(con, "checked")


def _check_labels(fmt: str, keep_labels: str | None) -> None:
    """--keep-labels fits the format: a chosen/rejected pair (trl, hh; NAME or gold) or ratings (NAME)."""
    if keep_labels is None:
        return
    if fmt in RATING_FORMATS and keep_labels == GOLD:
        raise InvalidInputError(
            "--keep-labels gold records chosen/rejected as gold reviews (trl or hh data); "
            f"{fmt} ratings are kept as a source's answers: name the source instead (--keep-labels NAME)"
        )
    if fmt not in ("trl", "hh", *RATING_FORMATS):
        raise InvalidInputError(
            "--keep-labels needs data that carries labels: chosen/rejected (trl, hh) or ratings "
            f"(ultrafeedback, sfb-axis), not {fmt}"
        )


def _read_and_check(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    good_lines: GoodLines | None,
    fmt: str,
    task: str | None,
    keep_labels: str | None,
    dataset: str,
    existing_task: str | None,
) -> tuple[RawInput, pa.Table, str, str, int, int]:
    """(what was read, the normalised rows with a `problem` column each, the format, the task,
    how many rows were read, how many hh rows were read by their common prefix). `task` is the one
    asked for or the existing dataset's; None picks it from the format (and from whether ratings are kept)."""
    raw, raw_sql = raw_relation_sql(con, path, good_lines)
    try:
        fmt = detect_format(raw, con, raw_sql) if fmt == "auto" else fmt
        _check_labels(fmt, keep_labels)
        rated_by = imported_labeller(keep_labels) if keep_labels and fmt in RATING_FORMATS else None
        if rated_by is not None and task not in (None, "rate"):
            if task == existing_task:
                raise InvalidInputError(
                    f"dataset {dataset!r} is a {task} dataset; {fmt} ratings (--keep-labels) need a rate dataset"
                )
            raise InvalidInputError(f"--keep-labels on {fmt} data keeps ratings; the task must be rate, not {task}")
        if keep_labels is not None and rated_by is None and task in ("rate", "thumbs"):
            raise InvalidInputError(
                f"--keep-labels on {fmt} data keeps which answer was chosen; the task must be pair or rank, not {task}"
            )
        if task is None:
            task = "pair" if fmt in ("trl", "hh") else "rate" if fmt == "sfb-axis" or rated_by else "rank"
        min_n, max_n = (2, 2) if task == "pair" else (MIN_CANDIDATES, MAX_CANDIDATES)
        rows = None
        common_prefix_rows = 0
        if fmt in ("trl", "hh"):
            table, common_prefix_rows = normalise_python(con, raw, raw_sql, fmt)
            con.register("norm", table)
            source = "norm"
        elif fmt == "sfb-axis":
            worker_chars = MAX_ANNOTATOR_CHARS - len(IMPORTED_LABELLER_PREFIX)
            table, rows = normalise_sfb_axis(con, raw, raw_sql, rated_by, min_n, max_n, worker_chars)
            con.register("norm", table)
            source = "norm"
        else:
            source = f"({normalise_sql(raw, raw_sql, fmt, rated_by)})"
        # One materialisation: the file is parsed, normalised and checked in a single pass.
        checked = con.sql(_validation_sql(source, min_n, max_n, fmt in EMPTY_RESPONSE_ALLOWED)).to_arrow_table()
    except InvalidInputError:
        raise
    except duckdb.Error as exc:
        raise read_error(path, raw.file_type, exc, good_lines) from None
    finally:
        _unregister(con, "norm")
    return raw, checked, fmt, task, len(checked) if rows is None else rows, common_prefix_rows


def _dataset_axes(dataset: str, fmt: str, task: str, keep_labels: str | None, settings: dict) -> list[dict] | None:
    """The axes to give the dataset (a rate dataset from a format with ratings, without axes yet),
    after checking that a rate dataset with axes of its own can hold the ratings kept."""
    ours = FORMAT_AXES.get(fmt) if task == "rate" else None
    if ours is None:
        return None
    theirs = settings.get("axes")
    if not theirs:
        return ours
    if keep_labels is not None:
        scales = {a["name"]: (a["low"], a["high"]) for a in theirs}
        if any(scales.get(a["name"]) != (a["low"], a["high"]) for a in ours):
            raise InvalidInputError(
                f"dataset {dataset!r} rates on {', '.join(scales)}; {fmt} ratings are on "
                f"{', '.join(a['name'] for a in ours)} ({ours[0]['low']} to {ours[0]['high']})"
            )
    return None


def _unregister(con: duckdb.DuckDBPyConnection, name: str) -> None:
    try:
        con.unregister(name)
    except duckdb.Error:
        pass


def _insert(
    con: duckdb.DuckDBPyConnection,
    raw: RawInput,
    fmt: str,
    dataset: str,
    task: str,
    guidelines: str | None,
    k: int | None,
    keep_labels: str | None,
    settings: dict,
    rejected: tuple[str, ...],
    rows_read: int,
    valid: int,
    common_prefix_rows: int = 0,
) -> ImportReport:
    now = utcnow()
    with transaction(con):
        row = first_row(con.execute("SELECT id, settings FROM datasets WHERE name = ?", [dataset]))
        if row is None:
            dataset_id = insert_dataset(con, dataset, task, guidelines or "", k or 1, settings or None, now)
        else:
            dataset_id = row[0]
            if settings:
                merged = {**json.loads(row[1] or "{}"), **settings}
                con.execute("UPDATE datasets SET settings = ? WHERE id = ?", [json.dumps(merged), dataset_id])
            if guidelines is not None:
                con.execute("UPDATE datasets SET guidelines = ? WHERE id = ?", [guidelines, dataset_id])
            if k is not None:
                con.execute("UPDATE datasets SET annotators_per_record = ? WHERE id = ?", [k, dataset_id])
        base = con.execute("SELECT coalesce(max(id), 0) FROM records").fetchall()[0][0]
        auto_base = con.execute(
            "SELECT count(*) FROM records WHERE dataset_id = ? AND content_key IS NOT NULL", [dataset_id]
        ).fetchall()[0][0]
        # Records without an id are keyed by a hash of their content, so a re-import adds nothing.
        # Only (row_no, id) is materialised; the texts stay in `checked` and are joined in.
        new_ids = con.sql(
            """
            WITH keyed AS (
                SELECT row_no, ext_id,
                       CASE WHEN ext_id IS NULL THEN 'sha256:' || left(sha256(to_json(struct_pack(
                           p := prompt_text, m := prompt_messages, r := list_transform(responses, lambda x: x.text)))), 32)
                       END AS content_key
                FROM checked WHERE problem IS NULL
            ),
            fresh AS (
                SELECT * FROM keyed
                WHERE NOT EXISTS (
                    SELECT 1 FROM records r WHERE r.dataset_id = $d
                    AND (r.external_id = keyed.ext_id OR r.content_key = keyed.content_key)
                )
                QUALIFY row_number() OVER (PARTITION BY coalesce(ext_id, content_key) ORDER BY row_no) = 1
            ),
            numbered AS (
                -- Records without an id of their own get a short readable one: #1, #2, ... per dataset.
                SELECT *, CASE WHEN ext_id IS NULL THEN '#' || ($auto_base + row_number() OVER (
                              PARTITION BY ext_id IS NULL ORDER BY row_no)) END AS auto_id
                FROM fresh
            )
            SELECT row_no, $base + row_number() OVER (ORDER BY row_no) AS id,
                   CASE WHEN ext_id IS NOT NULL THEN ext_id
                        -- a file's own id that looks like ours wins; ours falls back to the content key
                        WHEN auto_id IN (SELECT ext_id FROM fresh WHERE ext_id IS NOT NULL)
                          OR EXISTS (SELECT 1 FROM records r WHERE r.dataset_id = $d AND r.external_id = auto_id)
                        THEN content_key
                        ELSE auto_id END AS record_key,
                   content_key
            FROM numbered
            """,
            params={"d": dataset_id, "base": base, "auto_base": auto_base},
        ).to_arrow_table()
        con.register("new_ids", new_ids)
        try:
            con.execute(
                """
                INSERT INTO records
                SELECT n.id, $d, n.record_key, c.prompt_text, c.prompt_messages, c.metadata::JSON, len(c.responses),
                       $now, n.content_key
                FROM new_ids n JOIN checked c USING (row_no) ORDER BY n.id
                """,
                {"d": dataset_id, "now": now},
            ).fetchall()
            con.execute(
                """
                INSERT INTO candidates
                SELECT id, idx::SMALLINT, response.text, response.source
                FROM (SELECT n.id, unnest(c.responses) AS response, generate_subscripts(c.responses, 1) - 1 AS idx
                      FROM new_ids n JOIN checked c USING (row_no))
                ORDER BY id, idx
                """
            ).fetchall()
            labels = 0
            if keep_labels == GOLD:
                # The file's choice as a gold review: the reference each annotator's accuracy is scored on.
                labels = con.execute(
                    """
                    INSERT INTO reviews (record_id, dataset_id, reviewer, ranks, both_bad, accepted_from, note, gold,
                                         created_at, updated_at)
                    SELECT n.id, $d, $who, CASE c.label_chosen WHEN 0 THEN [1, 2] ELSE [2, 1] END, false, NULL,
                           'the imported file''s chosen answer', true, $now, $now
                    FROM new_ids n JOIN checked c USING (row_no) WHERE c.label_chosen IS NOT NULL
                    """,
                    {"d": dataset_id, "who": GOLD_REVIEWER, "now": now},
                ).fetchall()[0][0]
            elif keep_labels and fmt in RATING_FORMATS:
                # Each source annotator's ratings as their submitted answer (no ranks: a rate answer).
                labels = con.execute(
                    """
                    INSERT INTO annotations (record_id, dataset_id, annotator, status, ranks, shown_order,
                                             created_at, updated_at, ratings)
                    SELECT n.id, $d, u.l.annotator, 'submitted',
                           list_transform(range(len(c.responses)), lambda i: 0)::SMALLINT[],
                           range(len(c.responses))::SMALLINT[], $now, $now, u.l.ratings
                    FROM new_ids n JOIN checked c USING (row_no) CROSS JOIN unnest(c.labels) AS u(l)
                    WHERE len(u.l.ratings) > 0
                    ORDER BY n.id, u.l.annotator
                    """,
                    {"d": dataset_id, "now": now},
                ).fetchall()[0][0]
            elif keep_labels:
                labels = con.execute(
                    """
                    INSERT INTO annotations (record_id, dataset_id, annotator, status, ranks, shown_order,
                                             created_at, updated_at)
                    SELECT n.id, $d, $who, 'submitted',
                           CASE c.label_chosen WHEN 0 THEN [1, 2] ELSE [2, 1] END, [0, 1], $now, $now
                    FROM new_ids n JOIN checked c USING (row_no) WHERE c.label_chosen IS NOT NULL
                    """,
                    {"d": dataset_id, "who": imported_labeller(keep_labels), "now": now},
                ).fetchall()[0][0]
        finally:
            _unregister(con, "new_ids")
    added = len(new_ids)
    return ImportReport(
        dataset=dataset,
        file=str(raw.path),
        format=fmt,
        rows_read=rows_read,
        added=added,
        already_present=valid - added,
        rejected=rejected[:MAX_LISTED_REJECTIONS],
        labels_recorded=int(labels),
        hh_common_prefix_rows=common_prefix_rows,
    )
