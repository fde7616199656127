"""Import of files whose column names are crafted as SQL: every reader quotes them, so a
name is only ever a name, and nothing from another table or file reaches a record."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from store import AnnotationInput, InvalidInputError

SECRET = "SECRET-COMMENT"
HOSTNAME = Path("/etc/hostname")
# Each closes the quoted column name, selects something else "AS prompt", and reopens a quote.
HOSTILE_NAMES = {
    "annotations": """x" AS "r0", (SELECT string_agg(comment, ',') FROM annotations) AS "prompt""",
    "annotations-as-json": """x" AS "r0", to_json((SELECT string_agg(comment, ',') FROM annotations)) AS "prompt""",
    "read_text": """x" AS "r0", to_json((SELECT content FROM read_text('/etc/hostname'))) AS "prompt""",
    "parquet-style": """x") AS "x", to_json((SELECT string_agg(comment, ',') FROM annotations)) AS "prompt", to_json("x""",
    "literal-style": """x': 'JSON', 'prompt': 'VARCHAR'}) --""",
}
FILE_TYPES = ["jsonl", "json", "parquet", "csv"]


@pytest.fixture
def seeded(store, jsonl):
    """A store holding an annotation whose comment no import may ever copy."""
    store.import_file(
        jsonl([{"id": "s", "prompt": "seed", "responses": ["a", "b"]}], name="seed.jsonl"), dataset="seed"
    )
    (record_id,) = store.record_ids("seed")
    store.save_annotation(AnnotationInput(record_id, "ann", "submitted", (1, 2), comment=SECRET))
    return store


def write_rows(path: Path, rows: list[dict]) -> Path:
    kind = path.suffix[1:]
    if kind == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif kind == "json":
        path.write_text(json.dumps(rows), encoding="utf-8")
    elif kind == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(list(rows[0]))
            for r in rows:
                writer.writerow([json.dumps(v) if isinstance(v, list) else v for v in r.values()])
    return path


def secrets() -> list[str]:
    found = [SECRET]
    if HOSTNAME.exists() and (name := HOSTNAME.read_text().strip()):
        found.append(name)
    return found


def assert_nothing_leaked(store, dataset: str) -> None:
    for record in store.get_records(store.record_ids(dataset)):
        texts = [str(record.prompt), *(c.text for c in record.candidates), json.dumps(record.metadata)]
        for secret in secrets():
            assert not any(secret in t for t in texts), (secret, record)


@pytest.mark.parametrize("kind", FILE_TYPES)
@pytest.mark.parametrize("attack", sorted(HOSTILE_NAMES))
def test_a_hostile_column_name_is_only_a_name(seeded, tmp_path, kind, attack):
    # "x" exists too, so an unquoted name would bind; the real prompt and responses are ordinary.
    rows = [
        {"id": f"h{i}", "x": "x", HOSTILE_NAMES[attack]: "v", "prompt": f"question {i}", "responses": ["a", "b"]}
        for i in range(2)
    ]
    path = write_rows(tmp_path / f"hostile.{kind}", rows)
    report = seeded.import_file(path, dataset="hostile")
    assert (report.format, report.added, report.rejected) == ("native", 2, ())
    records = seeded.get_records(seeded.record_ids("hostile"))
    assert [r.prompt for r in records] == ["question 0", "question 1"]
    assert [[c.text for c in r.candidates] for r in records] == [["a", "b"], ["a", "b"]]
    assert_nothing_leaked(seeded, "hostile")


@pytest.mark.parametrize("kind", FILE_TYPES)
@pytest.mark.parametrize("attack", sorted(HOSTILE_NAMES))
def test_a_hostile_name_that_is_the_only_prompt_is_refused_by_name(seeded, tmp_path, kind, attack):
    # Without a real "prompt" the injected one would be the prompt; quoted, the format is simply unknown.
    rows = [{"id": "h", "x": "x", HOSTILE_NAMES[attack]: "v", "responses_": ["a", "b"]}]
    path = write_rows(tmp_path / f"hostile.{kind}", rows)
    with pytest.raises(InvalidInputError) as caught:
        seeded.import_file(path, dataset="hostile")
    message = str(caught.value)
    assert "cannot tell the format from the columns" in message
    assert HOSTILE_NAMES[attack] in message  # named as it is, not parsed
    assert not any(secret in message for secret in secrets())
    assert "hostile" not in [d.name for d in seeded.list_datasets()]


@pytest.mark.parametrize("kind", FILE_TYPES)
def test_a_hostile_name_with_prompt_and_responses_missing_says_which_field(seeded, tmp_path, kind):
    rows = [{"id": "h", "x": "x", HOSTILE_NAMES["annotations-as-json"]: "v", "responses": ["a", "b"]}]
    path = write_rows(tmp_path / f"hostile.{kind}", rows)
    with pytest.raises(InvalidInputError, match="field 'prompt': missing") as caught:
        seeded.import_file(path, dataset="hostile")
    assert SECRET not in str(caught.value)


# -- odd but harmless column names -------------------------------------------------------

ODD_NAMES = ["x" * 5000, 'a"b', "a'b", "a\\b", "ünï☃ 名前", "a.b", "$.prompt", "--", "/*", "a b"]


@pytest.mark.parametrize("kind", FILE_TYPES)
def test_odd_column_names_are_carried_and_ignored(store, tmp_path, kind):
    rows = [{"id": "o", "prompt": "question", "responses": ["a", "b"], **dict.fromkeys(ODD_NAMES, "v")}]
    path = write_rows(tmp_path / f"odd.{kind}", rows)
    assert store.import_file(path, dataset="odd").added == 1
    (record,) = store.get_records(store.record_ids("odd"))
    assert record.prompt == "question" and [c.text for c in record.candidates] == ["a", "b"]


@pytest.mark.parametrize("kind", FILE_TYPES)
def test_odd_column_names_appear_as_they_are_in_the_format_message(store, tmp_path, kind):
    rows = [{"id": "o", **dict.fromkeys(ODD_NAMES[1:], "v")}]
    path = write_rows(tmp_path / f"odd.{kind}", rows)
    with pytest.raises(InvalidInputError, match="cannot tell the format") as caught:
        store.import_file(path, dataset="odd")
    for name in ODD_NAMES[1:]:
        assert name in str(caught.value)


@pytest.mark.parametrize("kind", ["jsonl", "json"])
def test_an_empty_json_key_is_refused_clearly(store, tmp_path, kind):
    # DuckDB cannot make a column of an empty key and would read the whole object as one "json" value.
    path = write_rows(tmp_path / f"empty.{kind}", [{"": "v", "prompt": "q", "responses": ["a", "b"]}])
    with pytest.raises(InvalidInputError, match="empty key"):
        store.import_file(path, dataset="d")


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_an_empty_column_name_gets_a_placeholder_and_is_ignored(store, tmp_path, kind):
    path = write_rows(tmp_path / f"empty.{kind}", [{"": "v", "prompt": "q", "responses": ["a", "b"]}])
    assert store.import_file(path, dataset="d").added == 1


@pytest.mark.parametrize("kind", ["jsonl", "json", "parquet"])
def test_a_newline_in_a_column_name_is_only_a_name(store, tmp_path, kind):
    name = 'x"\n) AS "prompt" --\n'
    path = write_rows(tmp_path / f"nl.{kind}", [{name: "v", "prompt": "q", "responses": ["a", "b"]}])
    assert store.import_file(path, dataset="d").added == 1
    (record,) = store.get_records(store.record_ids("d"))
    assert record.prompt == "q"


@pytest.mark.parametrize("kind", ["jsonl", "json", "parquet"])
def test_a_nul_in_a_column_name_is_refused(store, tmp_path, kind):
    path = write_rows(tmp_path / f"nul.{kind}", [{"a\x00b": "v", "prompt": "q", "responses": ["a", "b"]}])
    with pytest.raises(InvalidInputError, match="NUL character"):
        store.import_file(path, dataset="d")
    assert store.list_datasets() == []


def test_row_no_is_reserved_whatever_its_case(store, jsonl):
    path = jsonl([{"ROW_NO": 1, "prompt": "q", "responses": ["a", "b"]}])
    with pytest.raises(InvalidInputError, match="reserved"):
        store.import_file(path, dataset="d")


def test_a_file_path_with_quotes_is_read(store, tmp_path):
    folder = tmp_path / 'it\'s "here"'
    folder.mkdir()
    path = write_rows(folder / "d.jsonl", [{"prompt": "q", "responses": ["a", "b"]}])
    assert store.import_file(path, dataset="d").added == 1
