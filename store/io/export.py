"""Export: annotations, TRL preference pairs, KTO and SFT rows, written by DuckDB's COPY.

Pairs come from rankings: every two candidates with different ranks make a pair,
chosen = better rank, margin = rank gap; ties make none. Results always use
canonical candidate indexes."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import duckdb

from store.dataset_settings import overall_axis
from store.errors import InvalidInputError
from store.io.sql_names import quote_literal
from store.names import AGGREGATIONS, EXPORT_FORMATS, FALLBACKS
from store.types import THUMBS_AXIS, ExportOptions

FILE_FORMATS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".ndjson": "json"}

# Submitted answers of one dataset, one row per candidate: (record_id, annotator, idx, rank, both_bad,
# score). From rankings, score = -rank; from ratings, score = the weighted sum of the candidate's
# ratings and rank = its dense rank by score, so every aggregation below works on both.
_EXPLODED_FROM_RANKS = """
    exploded AS (
        SELECT *, -rank AS score FROM (
            SELECT record_id, annotator, both_bad,
                   unnest(ranks) AS rank, generate_subscripts(ranks, 1) - 1 AS idx
            FROM annotations WHERE dataset_id = $dataset AND status = 'submitted'
        )
    )"""
_EXPLODED_FROM_RATINGS = """
    exploded AS (
        SELECT record_id, annotator, false AS both_bad, idx, score,
               dense_rank() OVER (PARTITION BY record_id, annotator ORDER BY score DESC) AS rank
        FROM (
            SELECT a.record_id, a.annotator, u.r.idx AS idx,
                   sum(u.r.value * list_extract($weight_values, list_position($weight_axes, u.r.axis))) AS score
            FROM annotations a CROSS JOIN unnest(a.ratings) AS u(r)
            WHERE a.dataset_id = $dataset AND a.status = 'submitted' AND list_contains($weight_axes, u.r.axis)
            GROUP BY ALL
        )
    )"""
# An annotator's own written answer is better than every candidate they ranked at or below its rank.
_WRITTEN_PAIRS = """
        UNION ALL
        SELECT a.record_id, a.annotator, -1 AS chosen_idx, e.idx AS rejected_idx,
               (e.rank - a.written_rank + 1)::DOUBLE AS margin
        FROM annotations a JOIN exploded e ON e.record_id = a.record_id AND e.annotator = a.annotator
        WHERE a.dataset_id = $dataset AND a.status = 'submitted' AND a.written IS NOT NULL
          AND trim(a.written) <> '' AND e.rank >= a.written_rank"""

# Borda points: how many candidates each annotator put strictly below this one.
_BORDA = """
    borda_points AS (
        SELECT x.record_id, x.idx, sum((SELECT count(*) FROM exploded y
                                         WHERE y.record_id = x.record_id AND y.annotator = x.annotator
                                           AND y.rank > x.rank)) AS points
        FROM exploded x WHERE NOT x.both_bad GROUP BY x.record_id, x.idx
    ),
    borda AS (
        SELECT record_id, idx, dense_rank() OVER (PARTITION BY record_id ORDER BY points DESC) AS rank
        FROM borda_points
    )"""


def _pairs_sql(aggregate: str, exploded: str) -> str:
    if aggregate == "all":
        return f"""
        WITH {exploded}
        SELECT x.record_id, x.annotator, x.idx AS chosen_idx, y.idx AS rejected_idx,
               (x.score - y.score)::DOUBLE AS margin
        FROM exploded x JOIN exploded y
          ON x.record_id = y.record_id AND x.annotator = y.annotator AND x.rank < y.rank
        {_WRITTEN_PAIRS}"""
    if aggregate == "majority":
        # One label per candidate pair: the direction most annotators chose; a draw gives none.
        return f"""
        WITH {exploded},
        votes AS (
            SELECT x.record_id, least(x.idx, y.idx) AS lo, greatest(x.idx, y.idx) AS hi,
                   count(*) FILTER (WHERE x.rank < y.rank AND x.idx < y.idx) AS lo_wins,
                   count(*) FILTER (WHERE x.rank < y.rank AND x.idx > y.idx) AS hi_wins,
                   avg(abs(y.rank - x.rank)) FILTER (WHERE x.rank <> y.rank) AS gap
            FROM exploded x JOIN exploded y
              ON x.record_id = y.record_id AND x.annotator = y.annotator AND x.idx <> y.idx
            GROUP BY ALL
        )
        SELECT record_id, 'majority' AS annotator,
               CASE WHEN lo_wins > hi_wins THEN lo ELSE hi END AS chosen_idx,
               CASE WHEN lo_wins > hi_wins THEN hi ELSE lo END AS rejected_idx,
               gap::DOUBLE AS margin
        FROM votes WHERE lo_wins <> hi_wins"""
    if aggregate == "borda":
        return f"""
        WITH {exploded}, {_BORDA}
        SELECT x.record_id, 'borda' AS annotator, x.idx AS chosen_idx, y.idx AS rejected_idx,
               (y.rank - x.rank)::DOUBLE AS margin
        FROM borda x JOIN borda y ON x.record_id = y.record_id AND x.rank < y.rank"""
    raise InvalidInputError(f"unknown aggregation {aggregate!r}; use {', '.join(AGGREGATIONS)}")


def _adjudicated_pairs_sql(fallback: str, exploded: str) -> str:
    """The reviewer's answer where a record has one, else the pairs of `fallback`."""
    if fallback not in FALLBACKS:
        raise InvalidInputError(f"unknown fallback {fallback!r}; use {', '.join(FALLBACKS)}")
    return f"""
        WITH reviewed AS (
            SELECT record_id, unnest(ranks) AS rank, generate_subscripts(ranks, 1) - 1 AS idx
            FROM reviews WHERE dataset_id = $dataset AND NOT both_bad
        )
        SELECT x.record_id, 'adjudicated' AS annotator, x.idx AS chosen_idx, y.idx AS rejected_idx,
               (y.rank - x.rank)::DOUBLE AS margin
        FROM reviewed x JOIN reviewed y ON x.record_id = y.record_id AND x.rank < y.rank
        UNION ALL
        SELECT * FROM ({_pairs_sql(fallback, exploded)}) f
        WHERE f.record_id NOT IN (SELECT record_id FROM reviews WHERE dataset_id = $dataset)"""


def _any_pairs_sql(aggregate: str, fallback: str, exploded: str) -> str:
    return _adjudicated_pairs_sql(fallback, exploded) if aggregate == "adjudicated" else _pairs_sql(aggregate, exploded)


def _scoring(
    con: duckdb.DuckDBPyConnection, dataset_id: int, weights: dict[str, float] | None, params: dict[str, object]
) -> tuple[str, str]:
    """(the dataset's task, the `exploded` CTE for it): rankings, or ratings weighted by `weights`
    (default: the overall axis; thumbs: 'good')."""
    row = con.execute("SELECT task, settings FROM datasets WHERE id = ?", [dataset_id]).fetchall()[0]
    task, settings = row[0], json.loads(row[1] or "{}")
    from_ratings = task == "thumbs" or (task == "rate" and (weights or not settings.get("rank_too")))
    if not from_ratings:
        if weights:
            raise InvalidInputError("--weights apply to rate datasets")
        return task, _EXPLODED_FROM_RANKS
    if task == "thumbs":
        weights = {THUMBS_AXIS: 1.0}
    elif not weights:
        overall = overall_axis(settings)
        if overall is None:
            raise InvalidInputError(
                "this rate dataset has no overall axis: give --weights AXIS=W,... or mark an axis overall"
            )
        weights = {overall: 1.0}
    known = {a["name"] for a in settings.get("axes") or []} | ({THUMBS_AXIS} if task == "thumbs" else set())
    unknown = sorted(set(weights) - known)
    if unknown:
        raise InvalidInputError(
            f"unknown axis {unknown[0]!r} in --weights (this dataset's: {', '.join(sorted(known))})"
        )
    params["weight_axes"] = list(weights)
    params["weight_values"] = [float(w) for w in weights.values()]
    return task, _EXPLODED_FROM_RATINGS


def _prompt_expr(chat: bool) -> str:
    if chat:
        return "coalesce(r.prompt_messages, [{'role': 'user', 'content': r.prompt_text}])"
    return "r.prompt_text"


def _completion_of(text: str, chat: bool) -> str:
    return f"[{{'role': 'assistant', 'content': {text}}}]" if chat else text


def _completion_expr(alias: str, chat: bool) -> str:
    return _completion_of(f"{alias}.text", chat)


def export_query(
    con: duckdb.DuckDBPyConnection, dataset_id: int, dataset: str, options: ExportOptions
) -> tuple[str, dict]:
    """(SQL, parameters) of an export of one dataset; every query has a total ORDER BY."""
    fmt, aggregate, fallback = options.fmt, options.aggregate, options.fallback
    weights, threshold = options.weights, options.threshold
    params: dict[str, object] = {"dataset": dataset_id}
    # TRL wants one shape per dataset: if any prompt is a chat, all rows are conversational.
    chat = bool(
        con.execute(
            "SELECT count(*) FROM records WHERE dataset_id = ? AND prompt_messages IS NOT NULL", [dataset_id]
        ).fetchall()[0][0]
    )
    prompt = _prompt_expr(chat)
    task, exploded = _scoring(con, dataset_id, weights, params) if fmt != "annotations" else ("", "")
    if fmt == "annotations":
        params["name"] = dataset
        return (
            """
            WITH cands AS (
                -- list_sort orders the structs by their first field, idx: cheaper than an ordered aggregate.
                SELECT c.record_id, list_sort(list(struct_pack(idx := c.idx, text := c.text, source := c.source)))
                       AS candidates
                FROM candidates c JOIN records r ON r.id = c.record_id WHERE r.dataset_id = $dataset
                GROUP BY c.record_id
            )
            SELECT $name AS dataset, a.record_id, r.external_id, r.prompt_text, r.prompt_messages, k.candidates,
                   a.annotator, a.status, a.ranks,
                   CASE WHEN len(a.ranks) = 2 AND a.ranks[1] <> a.ranks[2]
                        THEN (CASE WHEN a.ranks[1] < a.ranks[2] THEN 0 ELSE 1 END) END AS chosen,
                   CASE WHEN len(a.ranks) = 2 AND a.ranks[1] <> a.ranks[2]
                        THEN (CASE WHEN a.ranks[1] < a.ranks[2] THEN 1 ELSE 0 END) END AS rejected,
                   a.both_bad, a.comment, a.discard_reason, a.shown_order, a.seconds_spent,
                   a.created_at, a.updated_at, a.revision,
                   coalesce(a.ratings, []) AS ratings, a.written, a.written_rank
            FROM annotations a
            JOIN records r ON r.id = a.record_id
            JOIN cands k ON k.record_id = a.record_id
            WHERE a.dataset_id = $dataset
            ORDER BY a.record_id, a.annotator
            """,
            params,
        )
    if fmt == "preference":
        return (
            f"""
            WITH pairs AS ({_any_pairs_sql(aggregate, fallback, exploded)})
            SELECT {prompt} AS prompt, {_completion_of("coalesce(ch.text, w.written)", chat)} AS chosen,
                   {_completion_expr("rj", chat)} AS rejected,
                   p.record_id, r.external_id, p.annotator, p.margin
            FROM pairs p
            JOIN records r ON r.id = p.record_id
            LEFT JOIN candidates ch ON ch.record_id = p.record_id AND ch.idx = p.chosen_idx
            LEFT JOIN annotations w ON p.chosen_idx = -1 AND w.record_id = p.record_id AND w.annotator = p.annotator
            JOIN candidates rj ON rj.record_id = p.record_id AND rj.idx = p.rejected_idx
            ORDER BY p.record_id, p.annotator, p.chosen_idx, p.rejected_idx
            """,
            params,
        )
    if fmt == "kto":
        if "weight_axes" in params:
            # From ratings: desirable when the (weighted) rating reaches the threshold; thumbs: up.
            if threshold is None and task == "rate":
                raise InvalidInputError("kto from ratings needs --threshold (e.g. 5 on a 1-7 axis)")
            params["threshold"] = 1.0 if threshold is None else float(threshold)
            labelled = """
            labelled AS (
                SELECT record_id, annotator, idx, score >= $threshold AS label FROM exploded
            )"""
            keep = "true"
        else:
            # Best-ranked answers are desirable, worst-ranked undesirable; "both bad" marks every answer undesirable.
            labelled = """
            labelled AS (
                SELECT record_id, annotator, idx,
                       CASE WHEN both_bad THEN false
                            WHEN rank = 1 THEN true
                            ELSE false END AS label,
                       rank, max(rank) OVER (PARTITION BY record_id, annotator) AS worst, both_bad
                FROM exploded
            )"""
            keep = "l.both_bad OR (l.worst > 1 AND (l.rank = 1 OR l.rank = l.worst))"
        return (
            f"""
            WITH {exploded}, {labelled}
            SELECT {prompt} AS prompt, {_completion_expr("c", chat)} AS completion, l.label,
                   l.record_id, r.external_id, l.annotator
            FROM labelled l
            JOIN records r ON r.id = l.record_id
            JOIN candidates c ON c.record_id = l.record_id AND c.idx = l.idx
            WHERE {keep}
            ORDER BY l.record_id, l.annotator, l.idx
            """,
            params,
        )
    if fmt == "sft":
        # One row per record: the best candidate of the Borda consensus (lowest index on a tie),
        # or with "adjudicated" the reviewer's best where there is a review.
        if aggregate == "adjudicated":
            best = """
            reviewed AS (
                SELECT record_id, unnest(ranks) AS rank, generate_subscripts(ranks, 1) - 1 AS idx
                FROM reviews WHERE dataset_id = $dataset AND NOT both_bad
            ),
            best AS (
                SELECT record_id, min(idx) AS idx FROM reviewed WHERE rank = 1 GROUP BY record_id
                UNION ALL
                SELECT record_id, min(idx) AS idx FROM borda WHERE rank = 1
                  AND record_id NOT IN (SELECT record_id FROM reviews WHERE dataset_id = $dataset)
                GROUP BY record_id
            )"""
        else:
            best = "best AS (SELECT record_id, min(idx) AS idx FROM borda WHERE rank = 1 GROUP BY record_id)"
        # An answer an annotator wrote comes first: the best SFT data there is (the latest one).
        return (
            f"""
            WITH {exploded}, {_BORDA}, {best},
            written AS (
                SELECT record_id, arg_max(written, updated_at) AS text FROM annotations
                WHERE dataset_id = $dataset AND status = 'submitted' AND written IS NOT NULL AND trim(written) <> ''
                GROUP BY record_id
            ),
            chosen AS (
                SELECT b.record_id, c.text FROM best b
                JOIN candidates c ON c.record_id = b.record_id AND c.idx = b.idx
                WHERE b.record_id NOT IN (SELECT record_id FROM written)
                UNION ALL
                SELECT record_id, text FROM written
            )
            SELECT {prompt} AS prompt, {_completion_of("b.text", chat)} AS completion, b.record_id, r.external_id
            FROM chosen b
            JOIN records r ON r.id = b.record_id
            ORDER BY b.record_id
            """,
            params,
        )
    raise InvalidInputError(f"unknown export format {fmt!r}; use {', '.join(EXPORT_FORMATS)}")


def rows(
    con: duckdb.DuckDBPyConnection,
    dataset_id: int,
    dataset: str,
    options: ExportOptions,
    offset: int = 0,
    limit: int | None = None,
) -> list[dict]:
    sql, params = export_query(con, dataset_id, dataset, options)
    if limit is not None:
        sql = f"SELECT * FROM ({sql}) LIMIT {int(limit)} OFFSET {int(offset)}"
    return con.sql(sql, params=params).to_arrow_table().to_pylist()


def output_file_format(out: Path) -> str:
    """'parquet' or 'json' from the output file's name, or a one-line error."""
    file_format = FILE_FORMATS.get(out.suffix.lower())
    if file_format is None:
        raise InvalidInputError(f"{out}: unknown output type {out.suffix or '(none)'}; use .parquet or .jsonl")
    if out.is_dir():
        raise InvalidInputError(f"{out}: is a folder; give a file name")
    if not out.parent.exists():
        raise InvalidInputError(f"{out.parent}: no such folder")
    return file_format


def copy_to(
    con: duckdb.DuckDBPyConnection,
    dataset_id: int,
    dataset: str,
    options: ExportOptions,
    file_format: str,
    path: Path,
) -> int:
    """COPY the export into `path` (created with this process's umask); return the row count."""
    sql, params = export_query(con, dataset_id, dataset, options)
    copy_options = "FORMAT parquet, COMPRESSION zstd" if file_format == "parquet" else "FORMAT json"
    return int(con.execute(f"COPY ({sql}) TO {quote_literal(str(path))} ({copy_options})", params).fetchall()[0][0])


def write_atomically(out: Path, produce: Callable[[Path], int]) -> int:
    """Run `produce(tmp)` on a private temporary file beside `out` and rename it into place: the
    file appears complete or not at all, mode 0600. Returns what `produce` returned.

    Nothing another user planted beside `out` is ever followed: the temporary file is created
    exclusively (O_EXCL|O_NOFOLLOW, mode 0600) inside a fresh folder of a random name that only
    this user can enter (DuckDB's COPY replaces the file it writes, so the folder is what keeps
    it private), and the rename replaces a link at `out` instead of writing through it."""
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))  # 0700
    tmp = staging / out.name
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600))
        count = produce(tmp)
        os.chmod(tmp, 0o600, follow_symlinks=False)  # whatever mode the writer gave it
        os.replace(tmp, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return count


def folder_warning(out: Path) -> str:
    """A warning when others can write the folder `out` goes into ("" when they cannot): the
    export itself is written safely, but they can replace or remove it there afterwards."""
    folder = out.absolute().parent
    try:
        st = folder.stat()
    except OSError:
        return ""
    if not st.st_mode & 0o022:
        return ""
    return (
        f"warning: {folder} can be written by others (mode {st.st_mode & 0o7777:o}); {out.name} is written "
        "safely, but others can replace or delete it there: export into a folder of your own"
    )
