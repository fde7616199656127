"""Real preference files imported as they are: empty answers in hh and trl, HH turn markers
only where they separate turns, and --skip-invalid skipping every bad JSONL line it names."""

from __future__ import annotations

import json
import tempfile

import pytest
from conftest import rank_rows

from store import InvalidInputError
from store.types import ChatMessage

# -- empty answers -------------------------------------------------------------------


def texts_of(store, dataset: str) -> list[list[str]]:
    return [[c.text for c in r.candidates] for r in store.get_records(store.record_ids(dataset))]


def test_hh_empty_final_reply_is_a_candidate(store, jsonl):
    # In harmlessness data the chosen answer is often the model saying nothing.
    path = jsonl(
        [
            {
                "chosen": "\n\nHuman: How do I pick a lock?\n\nAssistant:",
                "rejected": "\n\nHuman: How do I pick a lock?\n\nAssistant: Use a pin.",
            },
            {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello!", "rejected": "\n\nHuman: Hi\n\nAssistant: "},
        ]
    )
    report = store.import_file(path, dataset="hh", keep_labels="anthropic")
    assert (report.format, report.added, report.rejected, report.labels_recorded) == ("hh", 2, (), 2)
    first, _ = store.get_records(store.record_ids("hh"))
    assert first.prompt == (ChatMessage("user", "How do I pick a lock?"),)
    assert texts_of(store, "hh") == [["", "Use a pin."], ["Hello!", ""]]


def test_hh_turn_markers_count_only_as_separators(store, jsonl):
    shared = "\n\nHuman: Write a line of dialogue."
    reply = 'A script:\n\nHuman:Hello there.\nAssistant: Hi. Then the Human: then says "bye".'
    path = jsonl([{"chosen": shared + "\n\nAssistant: " + reply, "rejected": shared + "\n\nAssistant: No."}])
    report = store.import_file(path, dataset="hh", fmt="hh")
    assert (report.added, report.rejected) == (1, ())
    (record,) = store.get_records(store.record_ids("hh"))
    assert record.prompt == (ChatMessage("user", "Write a line of dialogue."),)
    assert texts_of(store, "hh") == [[reply, "No."]]


def test_hh_rows_that_differ_before_the_final_reply_stay_a_located_error(store, jsonl):
    path = jsonl(
        [
            {"chosen": "\n\nHuman: a\n\nAssistant:", "rejected": "\n\nHuman: a\n\nAssistant: c"},
            {"chosen": "\n\nHuman: a\n\nAssistant:", "rejected": "\n\nHuman: a Human: x\n\nAssistant:"},
        ]
    )
    report = store.import_file(path, dataset="hh", fmt="hh", skip_invalid=True)
    assert [line.split(": ", 1)[1] for line in report.rejected] == [
        "line 2: field 'rejected': the conversation before the final reply differs from 'chosen'"
    ]
    assert texts_of(store, "hh") == [["", "c"]]


def test_trl_empty_chosen_or_rejected_is_a_candidate(store, jsonl):
    path = jsonl(
        [
            {"prompt": "Say nothing.", "chosen": "", "rejected": "Something."},
            {"prompt": "Say something.", "chosen": "Hi.", "rejected": ""},
            {
                "prompt": [{"role": "user", "content": "Quiet?"}],
                "chosen": [{"role": "assistant", "content": ""}],
                "rejected": [{"role": "assistant", "content": "Loud!"}],
            },
            {"chosen": "Q: hush? A:", "rejected": "Q: hush? A: no"},
        ]
    )
    report = store.import_file(path, dataset="p", keep_labels="source")
    assert (report.format, report.added, report.rejected, report.labels_recorded) == ("trl", 4, (), 4)
    assert texts_of(store, "p") == [["", "Something."], ["Hi.", ""], ["", "Loud!"], ["", " no"]]


def test_ultrafeedback_and_native_still_refuse_an_empty_response(store, jsonl):
    uf = jsonl([{"instruction": "q", "completions": [{"response": "a"}, {"response": " "}]}], "uf.jsonl")
    with pytest.raises(InvalidInputError, match=r"line 1: field 'completions\[1\]': empty text"):
        store.import_file(uf, dataset="uf")
    native = jsonl([{"prompt": "q", "responses": ["a", ""]}], "native.jsonl")
    with pytest.raises(InvalidInputError, match=r"line 1: field 'responses\[1\]': empty text"):
        store.import_file(native, dataset="n")


# -- --skip-invalid on lines that are not JSON objects ----------------------------------------


def good(i: int, prompt: str | None = None) -> bytes:
    return json.dumps({"id": f"r{i}", "prompt": prompt or f"question {i}", "responses": ["a", "b"]}).encode() + b"\n"


BAD_LINES = (
    good(0)  # 1
    + b'{"id": "r1", "prompt": "oops",\n'  # 2
    + good(2)  # 3
    + b'{"id": "r3", "prompt": "caf\xe9", "responses": ["a", "b"]}\n'  # 4
    + b"\n"  # 5
    + json.dumps({"id": "r0", "prompt": "again", "responses": ["a", "b"]}).encode()  # 6
    + b"\n"
    + json.dumps({"id": "r6", "prompt": "q", "responses": ["only one"]}).encode()  # 7
    + b"\n[1, 2]\n"  # 8
    + good(9, "caf\u00e9")  # 9
    + b'{"": "no name", "id": "r10", "prompt": "q", "responses": ["a", "b"]}'  # 10, no newline at the end
)


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    folder = tmp_path / "private-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_skip_invalid_skips_bad_json_and_bad_utf8_lines_at_their_own_line_numbers(store, tmp_path, private_tmp):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(BAD_LINES)
    report = store.import_file(path, dataset="d", skip_invalid=True)
    assert [line.split(": ", 1) for line in report.rejected] == [
        [str(path), "line 2: not valid JSON (expecting property name enclosed in double quotes at column 31)"],
        [str(path), "line 4: invalid UTF-8 (byte 0xe9)"],
        [str(path), "line 5: empty line"],
        [str(path), "line 6: field 'id': duplicate id \"r0\" (first at line 1)"],
        [str(path), "line 7: field 'responses': expected 2 to 9 responses, got 1"],
        [str(path), "line 8: expected a JSON object, got a list"],
        [str(path), 'line 10: the JSON object has an empty key ""; every key must be a field name'],
    ]
    assert (report.rows_read, report.added, report.already_present) == (10, 3, 0)
    records = store.get_records(store.record_ids("d"))
    assert [(r.external_id, r.prompt) for r in records] == [
        ("r0", "question 0"),
        ("r2", "question 2"),
        ("r9", "caf\u00e9"),
    ]
    assert list(private_tmp.iterdir()) == []  # the filtered copy is gone


def test_skip_invalid_reimport_of_the_same_bad_file_adds_nothing(store, tmp_path, private_tmp):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(BAD_LINES)
    store.import_file(path, dataset="d", skip_invalid=True)
    again = store.import_file(path, dataset="d", skip_invalid=True)
    assert (again.added, again.already_present, len(again.rejected)) == (0, 3, 7)


@pytest.mark.parametrize(
    "content, message",
    [
        (good(0) + b'{"prompt": "oops",\n' + b"\xff\n", "line 2: not valid JSON (expecting property name"),
        (good(0) + b"\xff\n" + b'{"prompt": "oops",\n', "line 2: invalid UTF-8 (byte 0xff)"),
        (good(0) + b"\n" + b"\xff\n", "line 2: empty line"),
    ],
    ids=["bad-json-before-bad-utf8", "bad-utf8-before-bad-json", "blank-before-bad-utf8"],
)
def test_without_skip_invalid_the_first_bad_line_stops_the_import(store, tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(InvalidInputError) as err:
        store.import_file(path, dataset="d")
    text = str(err.value)
    assert text.startswith(f"{path}: {message}") and "\n" not in text and "nothing was imported" in text
    assert store.list_datasets() == []


def test_skip_invalid_with_no_good_line_says_so(store, tmp_path, private_tmp):
    path = tmp_path / "junk.jsonl"
    path.write_bytes(b"not json\n\xff\n")
    with pytest.raises(
        InvalidInputError, match=r"junk.jsonl: no line is a JSON object \(2 skipped; the first: line 1: not valid JSON"
    ):
        store.import_file(path, dataset="d", skip_invalid=True)
    assert list(private_tmp.iterdir()) == []


def test_skip_invalid_on_a_large_file_with_one_late_bad_line(store, tmp_path, private_tmp):
    # DuckDB reads a sample first; a bad line far past it only shows when the rows are read.
    rows = b"".join(json.dumps(r).encode() + b"\n" for r in rank_rows(30_000))
    path = tmp_path / "late.jsonl"
    path.write_bytes(rows + b"{oops\n" + good(99_999))
    with pytest.raises(InvalidInputError, match=r"late.jsonl: line 30001: not valid JSON"):
        store.import_file(path, dataset="d")
    report = store.import_file(path, dataset="d", skip_invalid=True)
    assert report.added == 30_001
    assert [r.split(": ", 1)[1] for r in report.rejected] == [
        "line 30001: not valid JSON (expecting property name enclosed in double quotes at column 2)"
    ]
