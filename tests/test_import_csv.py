"""CSV is read with one fixed dialect (comma, double quote, doubled quotes inside quoted
values, a header line), strictly: a malformed file is a located error, never rows that
DuckDB's sniffer guessed into another shape."""

from __future__ import annotations

import pytest

from store import InvalidInputError

GOOD = 'prompt,responses\nq1,"[""a"",""b""]"\n'


@pytest.fixture
def csv_file(tmp_path):
    def make(text: str, name: str = "data.csv", newline: str = "\n", encoding: str = "utf-8"):
        path = tmp_path / name
        with path.open("w", encoding=encoding, newline="") as fh:
            fh.write(text.replace("\n", newline))
        return path

    return make


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        # The sniffer read no row at all from this one.
        (GOOD + 'q2,"[""c"",""d""]",extra\n', "line 3: expected 2 fields as in the header, found 3"),
        # ... and this one as a single column.
        (GOOD + "q2\n", "line 3: expected 2 fields as in the header, found 1"),
        (GOOD + 'q2,"[""c"",""d""]" trailing\n', "line 3: text after a closing quote (quote the whole value"),
        (GOOD + 'q2,"[""c"",""d""]\nq3,x\n', "line 3: a quoted value that starts here is never closed"),
    ],
)
def test_a_malformed_csv_is_a_located_error(store, csv_file, text, problem):
    path = csv_file(text)
    with pytest.raises(InvalidInputError) as info:
        store.import_file(path, dataset="d")
    assert str(info.value).startswith(f"{path}: {problem}")
    assert "\n" not in str(info.value)
    assert store.list_datasets() == []


def test_a_csv_with_another_delimiter_is_named(store, csv_file):
    path = csv_file('prompt;responses\nq1;"[""a"",""b""]"\n')
    with pytest.raises(InvalidInputError, match=r"line 1: the header is one column .*comma-separated"):
        store.import_file(path, dataset="d")


def test_a_row_problem_after_a_multi_line_value_names_the_physical_line(store, csv_file):
    path = csv_file(GOOD + '"q2 spans\ntwo lines","[""c"",""d""]"\nq3,"[""only one""]"\n')
    with pytest.raises(InvalidInputError) as info:
        store.import_file(path, dataset="d")
    assert str(info.value).startswith(f"{path}: line 5: field 'responses': expected 2 to 9 responses, got 1")


@pytest.mark.parametrize(
    ("newline", "encoding"), [("\n", "utf-8"), ("\r\n", "utf-8"), ("\n", "utf-8-sig"), ("\r\n", "utf-8-sig")]
)
def test_crlf_and_a_byte_order_mark_are_fine(store, csv_file, newline, encoding):
    path = csv_file(GOOD + '"q2\nmore","[""c"",""d""]"\n\n', newline=newline, encoding=encoding)
    report = store.import_file(path, dataset="d")
    assert (report.rows_read, report.added, report.rejected) == (2, 2, ())
    prompts = [r.prompt for r in store.get_records(store.record_ids("d"))]
    assert prompts == ["q1", f"q2{newline}more"]


def test_quoted_header_names_empty_and_repeated_names(store, csv_file):
    path = csv_file(',"prompt","responses",responses\nv,q,"[""a"",""b""]",x\n')
    report = store.import_file(path, dataset="d")
    assert report.added == 1
    (record,) = store.get_records(store.record_ids("d"))
    assert [c.text for c in record.candidates] == ["a", "b"]


def test_a_header_only_csv_reads_no_rows(store, csv_file):
    path = csv_file("prompt,responses\n")
    report = store.import_file(path, dataset="d")
    assert (report.rows_read, report.added) == (0, 0)
