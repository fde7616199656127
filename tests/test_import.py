"""Import: every file type and format, every bad-input case, idempotence."""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import rank_rows

from store import InvalidInputError
from store.connect import open_store
from store.types import ChatMessage


def candidates_of(record):
    return [(c.index, c.text, c.source) for c in record.candidates]


# -- native ----------------------------------------------------------------------


def test_native_text_and_chat_prompts_with_sources(store, jsonl):
    path = jsonl(
        [
            {
                "id": "a",
                "prompt": "Explain DNS.",
                "responses": ["short", {"text": "long", "source": "policy-v2"}],
                "metadata": {"category": "networking"},
            },
            {
                "id": 7,
                "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
                "responses": ["x", "y", "z"],
            },
        ]
    )
    report = store.import_file(path, dataset="d")
    assert (report.format, report.added, report.already_present, report.rejected) == ("native", 2, 0, ())
    first, second = store.get_records(store.record_ids("d"))
    assert first.external_id == "a" and first.prompt == "Explain DNS."
    assert candidates_of(first) == [(0, "short", None), (1, "long", "policy-v2")]
    assert first.metadata == {"category": "networking"}
    assert second.external_id == "7"
    assert second.prompt == (ChatMessage("system", "Be brief."), ChatMessage("user", "Hi"))
    assert store.get_dataset("d").task == "rank"


@pytest.mark.parametrize("suffix", ["json", "parquet", "csv"])
def test_other_file_types_give_the_same_records(store, tmp_path, suffix):
    rows = rank_rows(3, k=3)
    rows[1]["prompt"] = [{"role": "user", "content": "chat question"}]
    path = tmp_path / f"data.{suffix}"
    if suffix == "json":
        path.write_text(json.dumps(rows))
    elif suffix == "parquet":
        pq.write_table(
            pa.Table.from_pylist(
                [{**r, "prompt": json.dumps(r["prompt"])} if isinstance(r["prompt"], list) else r for r in rows]
            ),
            path,
        )
        # Parquet needs one type per column, so a chat prompt travels as a list-of-struct file of its own.
        chat = tmp_path / "chat.parquet"
        pq.write_table(pa.Table.from_pylist([rows[1]]), chat)
    else:
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["id", "prompt", "responses"])
            for r in rows:
                prompt = json.dumps(r["prompt"]) if isinstance(r["prompt"], list) else r["prompt"]
                writer.writerow([r["id"], prompt, json.dumps(r["responses"])])
    report = store.import_file(path, dataset="d")
    assert report.added == 3, report
    records = store.get_records(store.record_ids("d"))
    assert [r.external_id for r in records] == ["r0", "r1", "r2"]
    assert candidates_of(records[2]) == [(0, "answer 2.0", None), (1, "answer 2.1", None), (2, "answer 2.2", None)]
    if suffix == "parquet":
        store.import_file(chat, dataset="chat")
        (record,) = store.get_records(store.record_ids("chat"))
        assert record.prompt == (ChatMessage("user", "chat question"),)
    else:
        assert records[1].prompt == (ChatMessage("user", "chat question"),)


def test_reimport_adds_nothing_with_or_without_ids(store, jsonl):
    with_ids = jsonl(rank_rows(5), "ids.jsonl")
    without_ids = jsonl([{k: v for k, v in r.items() if k != "id"} for r in rank_rows(4, prefix="n")], "noids.jsonl")
    assert store.import_file(with_ids, dataset="d").added == 5
    assert store.import_file(without_ids, dataset="d").added == 4
    again = store.import_file(with_ids, dataset="d")
    assert (again.added, again.already_present) == (0, 5)
    assert store.import_file(without_ids, dataset="d").added == 0
    assert len(store.record_ids("d")) == 9


def test_records_keep_import_order_across_files(store, jsonl):
    store.import_file(jsonl(rank_rows(2, prefix="a"), "a.jsonl"), dataset="d")
    store.import_file(jsonl(rank_rows(2, prefix="b"), "b.jsonl"), dataset="d")
    assert [r.external_id for r in store.get_records(store.record_ids("d"))] == ["a0", "a1", "b0", "b1"]


def test_guidelines_and_overlap_are_set_at_import(store, jsonl):
    store.import_file(jsonl(rank_rows(1)), dataset="d", guidelines="# Be kind", annotators_per_record=3)
    dataset = store.get_dataset("d")
    assert (dataset.guidelines, dataset.annotators_per_record) == ("# Be kind", 3)


# -- trl -----------------------------------------------------------------------------


def test_trl_standard_explicit_prompt(store, jsonl):
    path = jsonl([{"prompt": "2+2?", "chosen": "4", "rejected": "5"}])
    report = store.import_file(path, dataset="p")
    assert (report.format, report.added) == ("trl", 1)
    (record,) = store.get_records(store.record_ids("p"))
    assert record.prompt == "2+2?" and candidates_of(record) == [(0, "4", None), (1, "5", None)]
    assert store.get_dataset("p").task == "pair"


def test_trl_conversational_with_keep_labels(store, jsonl):
    path = jsonl(
        [
            {
                "prompt": [{"role": "user", "content": "Capital of France?"}],
                "chosen": [{"role": "assistant", "content": "Paris."}],
                "rejected": [{"role": "assistant", "content": "Lyon."}],
            }
        ]
    )
    report = store.import_file(path, dataset="p", keep_labels="ultrafeedback")
    assert report.labels_recorded == 1
    (record,) = store.get_records(store.record_ids("p"))
    assert record.prompt == (ChatMessage("user", "Capital of France?"),)
    assert candidates_of(record) == [(0, "Paris.", None), (1, "Lyon.", None)]
    assert store.get_annotation(record.id, "ultrafeedback") is None  # a file's labeller is not a user
    answer = store.get_annotation(record.id, "import:ultrafeedback")
    assert (answer.status, answer.ranks) == ("submitted", (1, 2))


def test_trl_implicit_prompt_string_and_conversational(store, jsonl):
    path = jsonl(
        [
            {"chosen": "Q: sky colour? A: blue", "rejected": "Q: sky colour? A: green"},
            {
                "chosen": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello!"}],
                "rejected": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "go away"}],
            },
        ]
    )
    assert store.import_file(path, dataset="p").format == "trl"
    text, chat = store.get_records(store.record_ids("p"))
    assert text.prompt == "Q: sky colour? A:"
    assert candidates_of(text) == [(0, " blue", None), (1, " green", None)]
    assert chat.prompt == (ChatMessage("user", "hi"),)
    assert candidates_of(chat) == [(0, "hello!", None), (1, "go away", None)]


# -- hh ------------------------------------------------------------------------------


def test_hh_transcripts_become_chat_prompt_and_two_replies(store, jsonl):
    shared = (
        "\n\nHuman: I need a pasta recipe.\n\nAssistant: What ingredients do you have?\n\nHuman: Tomatoes and garlic."
    )
    path = jsonl(
        [
            {
                "chosen": shared + "\n\nAssistant: Make a simple tomato-garlic sauce.",
                "rejected": shared + "\n\nAssistant: I can't help with that.",
            }
        ]
    )
    report = store.import_file(path, dataset="hh", keep_labels="anthropic")
    assert (report.format, report.added, report.labels_recorded) == ("hh", 1, 1)
    (record,) = store.get_records(store.record_ids("hh"))
    assert record.prompt == (
        ChatMessage("user", "I need a pasta recipe."),
        ChatMessage("assistant", "What ingredients do you have?"),
        ChatMessage("user", "Tomatoes and garlic."),
    )
    assert [c.text for c in record.candidates] == ["Make a simple tomato-garlic sauce.", "I can't help with that."]


def test_hh_with_different_histories_is_rejected(store, jsonl):
    path = jsonl([{"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: c\n\nAssistant: d"}])
    with pytest.raises(InvalidInputError, match=r"line 1: field 'rejected': the conversation before"):
        store.import_file(path, dataset="hh", fmt="hh")


# -- ultrafeedback ---------------------------------------------------------------------


def test_ultrafeedback_completions_keep_their_model(store, jsonl):
    path = jsonl(
        [
            {
                "source": "evol",
                "instruction": "Write a haiku.",
                "completions": [
                    {"model": "gpt-4", "response": "Leaves fall", "overall_score": 8},
                    {"model": "llama-2", "response": "A poem", "overall_score": 5},
                    {"model": "falcon", "response": "Haiku!", "overall_score": 2},
                ],
            }
        ]
    )
    report = store.import_file(path, dataset="uf")
    assert report.format == "ultrafeedback"
    (record,) = store.get_records(store.record_ids("uf"))
    assert record.prompt == "Write a haiku."
    assert candidates_of(record) == [(0, "Leaves fall", "gpt-4"), (1, "A poem", "llama-2"), (2, "Haiku!", "falcon")]


# -- bad input: one clear line, nothing written ----------------------------------------

BAD_ROWS = [
    ({"id": "x", "responses": ["a", "b"]}, "line 2: field 'prompt': missing"),
    ({"id": "x", "prompt": 42, "responses": ["a", "b"]}, "line 2: field 'prompt': expected text or a list"),
    ({"id": "x", "prompt": [{"role": "user"}], "responses": ["a", "b"]}, "line 2: field 'prompt': each message needs"),
    ({"id": "x", "prompt": "", "responses": ["a", "b"]}, "line 2: field 'prompt': empty"),
    ({"id": "x", "prompt": "q", "responses": ["a"]}, "line 2: field 'responses': expected 2 to 9 responses, got 1"),
    ({"id": "x", "prompt": "q", "responses": [str(i) for i in range(10)]}, "got 10"),
    ({"id": "x", "prompt": "q", "responses": "a, b"}, "line 2: field 'responses': expected a list, got text"),
    ({"id": "x", "prompt": "q", "responses": ["a", 3]}, "line 2: field 'responses[1]': expected text or"),
    ({"id": "x", "prompt": "q", "responses": ["a", "  "]}, "line 2: field 'responses[1]': empty text"),
    ({"id": "x", "prompt": "q", "responses": ["a", "b" * 1_000_001]}, "line 2: field 'responses[1]': text over 1 MB"),
    ({"id": "x", "prompt": "q" * 1_000_001, "responses": ["a", "b"]}, "line 2: field 'prompt': text over 1 MB"),
    ({"id": {"no": 1}, "prompt": "q", "responses": ["a", "b"]}, "line 2: field 'id': expected text or an integer"),
    ({"id": "r0", "prompt": "q", "responses": ["a", "b"]}, "line 2: field 'id': duplicate id \"r0\" (first at line 1)"),
    (
        {"id": "x", "prompt": "q", "responses": ["a", "b"], "metadata": [1]},
        "line 2: field 'metadata': expected an object",
    ),
]


@pytest.mark.parametrize("bad_row, message", BAD_ROWS, ids=[m for _, m in BAD_ROWS])
def test_bad_row_is_named_and_nothing_is_written(store, jsonl, bad_row, message):
    rows = [*rank_rows(1), bad_row, *rank_rows(2, prefix="z")]
    path = jsonl(rows)
    with pytest.raises(InvalidInputError) as err:
        store.import_file(path, dataset="d")
    text = str(err.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text
    assert store.list_datasets() == []


def test_skip_invalid_imports_good_rows_and_lists_the_rest(store, jsonl):
    rows = [
        *rank_rows(2),
        {"prompt": "q", "responses": ["only one"]},
        {"id": "r0", "prompt": "dup", "responses": ["a", "b"]},
    ]
    report = store.import_file(jsonl(rows), dataset="d", skip_invalid=True)
    assert report.added == 2
    assert [line.split(": ", 1)[1] for line in report.rejected] == [
        "line 3: field 'responses': expected 2 to 9 responses, got 1",
        "line 4: field 'id': duplicate id \"r0\" (first at line 1)",
    ]


def test_pair_dataset_needs_exactly_two(store, jsonl):
    with pytest.raises(InvalidInputError, match="line 1: field 'responses': expected 2 responses, got 3"):
        store.import_file(jsonl(rank_rows(1, k=3)), dataset="p", task="pair")


def test_invalid_utf8_names_the_line(store, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"prompt": "ok", "responses": ["a", "b"]}\n{"prompt": "caf\xe9", "responses": ["a", "b"]}\n')
    with pytest.raises(InvalidInputError, match=r"bad.jsonl: line 2: invalid UTF-8"):
        store.import_file(path, dataset="d")


def test_malformed_json_line_is_named(store, tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"prompt": "ok", "responses": ["a", "b"]}\n{"prompt": "oops", \n')
    with pytest.raises(InvalidInputError, match=r"broken.jsonl: line 2: not valid JSON"):
        store.import_file(path, dataset="d")


def test_unknown_columns_and_file_types_are_refused(store, jsonl, tmp_path):
    with pytest.raises(InvalidInputError, match="cannot tell the format from the columns"):
        store.import_file(jsonl([{"question": "q", "answers": ["a", "b"]}]), dataset="d")
    (tmp_path / "data.txt").write_text("hello")
    with pytest.raises(InvalidInputError, match=r"unknown file type \.txt"):
        store.import_file(tmp_path / "data.txt", dataset="d")
    with pytest.raises(InvalidInputError, match="no such file"):
        store.import_file(tmp_path / "missing.jsonl", dataset="d")


def test_task_mismatch_with_existing_dataset(store, jsonl):
    store.import_file(jsonl(rank_rows(1)), dataset="d")
    with pytest.raises(InvalidInputError, match="is a rank dataset"):
        store.import_file(jsonl(rank_rows(1, k=2)), dataset="d", task="pair")


def test_import_is_bulk_not_row_by_row(store_path, jsonl):
    # 20k rows through one transaction: a row-at-a-time path would take minutes here.
    s = open_store(store_path)
    try:
        report = s.import_file(jsonl(rank_rows(20_000)), dataset="big")
        assert report.added == 20_000
        assert s.list_datasets()[0].records == 20_000
    finally:
        s.close()
