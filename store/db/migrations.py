"""Ordered schema migrations, applied when a store opens. The only DDL the store runs.

Append new functions to MIGRATIONS; never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import duckdb

from store.db.transactions import transaction
from store.errors import SchemaTooNewError


def _v1_initial_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        CREATE SEQUENCE dataset_ids START 1;
        CREATE TABLE datasets (
            id INTEGER PRIMARY KEY DEFAULT nextval('dataset_ids'),
            name VARCHAR NOT NULL UNIQUE,
            task VARCHAR NOT NULL CHECK (task IN ('rank', 'pair')),
            guidelines VARCHAR NOT NULL DEFAULT '',
            annotators_per_record INTEGER NOT NULL DEFAULT 1 CHECK (annotators_per_record >= 1),
            settings JSON NOT NULL DEFAULT '{}',
            created_at TIMESTAMP NOT NULL
        );
        -- Record ids are assigned in bulk by the importer (max + row number), in import order.
        CREATE TABLE records (
            id BIGINT PRIMARY KEY,
            dataset_id INTEGER NOT NULL,
            external_id VARCHAR NOT NULL,
            prompt_text VARCHAR,
            prompt_messages STRUCT(role VARCHAR, content VARCHAR)[],
            metadata JSON,
            n_candidates SMALLINT NOT NULL,
            imported_at TIMESTAMP NOT NULL
        );
        -- No index: rows arrive sorted by record_id, so DuckDB's zone maps find them.
        CREATE TABLE candidates (
            record_id BIGINT NOT NULL,
            idx SMALLINT NOT NULL,
            text VARCHAR NOT NULL,
            source VARCHAR
        );
        CREATE SEQUENCE annotation_ids START 1;
        CREATE TABLE annotations (
            id BIGINT PRIMARY KEY DEFAULT nextval('annotation_ids'),
            record_id BIGINT NOT NULL,
            dataset_id INTEGER NOT NULL,
            annotator VARCHAR NOT NULL,
            status VARCHAR NOT NULL CHECK (status IN ('submitted', 'discarded', 'draft')),
            ranks SMALLINT[] NOT NULL,
            shown_order SMALLINT[] NOT NULL,
            comment VARCHAR NOT NULL DEFAULT '',
            discard_reason VARCHAR NOT NULL DEFAULT '',
            both_bad BOOLEAN NOT NULL DEFAULT false,
            seconds_spent DOUBLE NOT NULL DEFAULT 0,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            revision INTEGER NOT NULL DEFAULT 1,
            client_id VARCHAR,
            UNIQUE (record_id, annotator)
        );
        -- Every earlier revision of an amended annotation, as it was.
        CREATE TABLE annotation_history (
            annotation_id BIGINT NOT NULL,
            record_id BIGINT NOT NULL,
            dataset_id INTEGER NOT NULL,
            annotator VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            ranks SMALLINT[] NOT NULL,
            shown_order SMALLINT[] NOT NULL,
            comment VARCHAR NOT NULL,
            discard_reason VARCHAR NOT NULL,
            both_bad BOOLEAN NOT NULL,
            seconds_spent DOUBLE NOT NULL,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            revision INTEGER NOT NULL,
            client_id VARCHAR,
            replaced_at TIMESTAMP NOT NULL
        );
        -- Appended to on every hand-out, so no index (an upsert costs milliseconds): the latest
        -- expiry per (record, annotator) counts, and a lease on a record the annotator has
        -- answered is void. Expired rows are removed when the store opens.
        CREATE TABLE leases (
            record_id BIGINT NOT NULL,
            annotator VARCHAR NOT NULL,
            expires_at TIMESTAMP NOT NULL
        );
        """
    )


def _v2_candidate_scores(con: duckdb.DuckDBPyConnection) -> None:
    # Reward-model scores, kept apart from candidates so annotators never see them.
    con.execute(
        """
        CREATE TABLE candidate_scores (
            record_id BIGINT NOT NULL,
            idx SMALLINT NOT NULL,
            scorer VARCHAR NOT NULL,
            score DOUBLE NOT NULL,
            scored_at TIMESTAMP NOT NULL
        );
        """
    )


def _v3_skips_reviews_content_keys(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        -- What makes a re-import idempotent for records without an id of their own: a hash of
        -- their content. Their external_id is then a short readable one.
        ALTER TABLE records ADD COLUMN content_key VARCHAR;
        UPDATE records SET content_key = external_id WHERE external_id LIKE 'sha256:%';
        -- A skipped record comes back to that annotator after the others, also after a restart.
        CREATE TABLE skips (
            record_id BIGINT NOT NULL,
            dataset_id INTEGER NOT NULL,
            annotator VARCHAR NOT NULL,
            skipped_at TIMESTAMP NOT NULL
        );
        -- A reviewer's final answer for a record (adjudication); amendments keep the history.
        CREATE SEQUENCE review_ids START 1;
        CREATE TABLE reviews (
            id BIGINT PRIMARY KEY DEFAULT nextval('review_ids'),
            record_id BIGINT NOT NULL UNIQUE,
            dataset_id INTEGER NOT NULL,
            reviewer VARCHAR NOT NULL,
            ranks SMALLINT[] NOT NULL,
            both_bad BOOLEAN NOT NULL DEFAULT false,
            accepted_from VARCHAR,
            note VARCHAR NOT NULL DEFAULT '',
            gold BOOLEAN NOT NULL DEFAULT false,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            revision INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE review_history (
            review_id BIGINT NOT NULL,
            record_id BIGINT NOT NULL,
            dataset_id INTEGER NOT NULL,
            reviewer VARCHAR NOT NULL,
            ranks SMALLINT[] NOT NULL,
            both_bad BOOLEAN NOT NULL,
            accepted_from VARCHAR,
            note VARCHAR NOT NULL,
            gold BOOLEAN NOT NULL,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            revision INTEGER NOT NULL,
            replaced_at TIMESTAMP NOT NULL
        );
        """
    )


def _v4_ratings_thumbs_written(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        -- New task kinds: the CHECK of v1 cannot be altered in place, so the small table is rebuilt.
        CREATE TABLE datasets_v3 AS SELECT * FROM datasets;
        DROP TABLE datasets;
        CREATE TABLE datasets (
            id INTEGER PRIMARY KEY DEFAULT nextval('dataset_ids'),
            name VARCHAR NOT NULL UNIQUE,
            task VARCHAR NOT NULL CHECK (task IN ('rank', 'pair', 'rate', 'thumbs')),
            guidelines VARCHAR NOT NULL DEFAULT '',
            annotators_per_record INTEGER NOT NULL DEFAULT 1 CHECK (annotators_per_record >= 1),
            settings JSON NOT NULL DEFAULT '{}',
            created_at TIMESTAMP NOT NULL
        );
        INSERT INTO datasets SELECT * FROM datasets_v3;
        DROP TABLE datasets_v3;
        -- A rating per (candidate, axis); thumbs are the axis 'good' with 1 or 0.
        ALTER TABLE annotations ADD COLUMN ratings STRUCT(idx SMALLINT, axis VARCHAR, value DOUBLE)[];
        -- An answer the annotator wrote, and its rank among the candidates (1 = best).
        ALTER TABLE annotations ADD COLUMN written VARCHAR;
        ALTER TABLE annotations ADD COLUMN written_rank SMALLINT;
        ALTER TABLE annotation_history ADD COLUMN ratings STRUCT(idx SMALLINT, axis VARCHAR, value DOUBLE)[];
        ALTER TABLE annotation_history ADD COLUMN written VARCHAR;
        ALTER TABLE annotation_history ADD COLUMN written_rank SMALLINT;
        """
    )


MIGRATIONS: list[Callable[[duckdb.DuckDBPyConnection], None]] = [
    _v1_initial_schema,
    _v2_candidate_scores,
    _v3_skips_reviews_content_keys,
    _v4_ratings_thumbs_written,
]
SCHEMA_VERSION = len(MIGRATIONS)


def apply_migrations(con: duckdb.DuckDBPyConnection, store_path: str) -> int:
    """Bring the schema up to date; return how many migrations ran."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    current = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()[0][0]
    if current > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"{store_path} was written by a newer rlhf-tui (schema version {current}, this one knows "
            f"up to {SCHEMA_VERSION}); upgrade rlhf-tui to open it."
        )
    applied = 0
    for version, migration in enumerate(MIGRATIONS, start=1):
        if version <= current:
            continue
        with transaction(con):
            migration(con)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [version, migration.__name__.lstrip("_"), datetime.now(UTC).replace(tzinfo=None)],
            )
        applied += 1
    if applied:
        con.execute("CHECKPOINT")
    return applied
