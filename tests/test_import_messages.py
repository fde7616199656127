"""Error texts are for people: a file that cannot be read is one sentence naming the file and
where in it, without DuckDB's own prefixes; a store held elsewhere names PID, user and program."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys

import pytest

from store import InvalidInputError, StoreLockedError
from store.connect import open_store


def refusal(store, path) -> str:
    with pytest.raises(InvalidInputError) as err:
        store.import_file(path, dataset="d")
    text = str(err.value)
    assert text.startswith(f"{path}: ") and text.count(str(path)) == 1 and "\n" not in text
    assert "Error:" not in text  # DuckDB's "Invalid Input Error:" is not for people
    return text.removeprefix(f"{path}: ")


def test_a_json_array_with_a_syntax_error_names_line_and_column(store, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[{"prompt": "ok", "responses": ["a", "b"]},\n {"prompt": "x" "responses": ["a", "b"]}]')
    assert refusal(store, path) == "line 2, column 17: not valid JSON (expecting ',' delimiter)"


def test_a_jsonl_line_duckdb_cannot_take_is_named(store, tmp_path):
    # Python's json accepts a lone surrogate escape; DuckDB does not, and the line is still named.
    path = tmp_path / "surrogate.jsonl"
    path.write_text('{"prompt": "ok", "responses": ["a", "b"]}\n{"prompt": "\\ud800", "responses": ["a", "b"]}\n')
    assert refusal(store, path) == (
        "line 2: not valid text (a \\u escape is half of a surrogate pair); "
        "nothing was imported (--skip-invalid leaves such lines out)"
    )


def test_a_file_that_is_not_parquet_says_so_plainly(store, tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1 not really")
    assert refusal(store, path) == "cannot be read as Parquet (no magic bytes found at end of file)"


def test_a_store_in_use_names_pid_user_and_program(store_path):
    open_store(store_path).close()
    code = f"import duckdb, time; c = duckdb.connect({str(store_path)!r}); print('ready', flush=True); time.sleep(30)"
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLockedError) as err:
            open_store(store_path)
        user = pwd.getpwuid(os.getuid()).pw_name
        assert f"in use by PID {holder.pid} (user {user}, " in str(err.value)
    finally:
        holder.kill()
        holder.wait()
