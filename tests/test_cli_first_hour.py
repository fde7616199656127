"""A team's first hour at the command line (issue 20): an import says what it made and can be
undone, mistakes get one line saying what would be right, and nothing is created or read wrongly
without a word."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import REPO, SAMPLE_DATA, rank_rows

from rlhf_tui.cli import main
from store import AnnotationInput
from store.connect import open_store
from store.service import operations


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


# -- 4: the import line, and undoing a mistaken import ------------------------------------------


def test_the_import_line_names_the_task_k_and_assignment_it_chose(capsys, store_path):
    code, out, _ = run(
        capsys, "import", str(SAMPLE_DATA / "pairs.jsonl"), "-d", "support-pairs", "-k", "2", "--store", str(store_path)
    )
    assert code == 0
    assert (
        "'support-pairs': a rank task (chosen from the file; --task chooses another), 2 annotator(s) per record, "
        "assignment fill." in out
    )
    code, out, _ = run(
        capsys, "import", str(SAMPLE_DATA / "pairs.jsonl"), "-d", "p", "--task", "pair", "--store", str(store_path)
    )
    assert "'p': a pair task, 1 annotator(s) per record, assignment spread." in out
    again = ("import", str(SAMPLE_DATA / "pairs.jsonl"), "-d", "support-pairs", "--task", "pair")
    code, _, err = run(capsys, *again, "--store", str(store_path))
    assert code == 1 and "is a rank dataset; it cannot take --task pair" in err
    assert "`rlhf-tui datasets delete support-pairs`, or `datasets rename` it out of the way" in err


def imported(capsys, store_path: Path, jsonl, name: str = "wrong", answered: bool = False) -> None:
    assert run(capsys, "import", str(jsonl(rank_rows(3))), "-d", name, "--store", str(store_path))[0] == 0
    if answered:
        with open_store(store_path) as s:
            first = s.record_ids(name)[0]
            s.save_annotation(AnnotationInput(first, "ann", "submitted", (1, 2, 3, 4)))


def test_a_dataset_can_be_renamed_and_archived_out_of_the_pickers_and_restored(capsys, store_path, jsonl):
    imported(capsys, store_path, jsonl, answered=True)
    code, out, _ = run(capsys, "datasets", "rename", "wrong", "support", "--store", str(store_path))
    assert code == 0 and "renamed 'wrong' to 'support'" in out
    assert run(capsys, "datasets", "archive", "support", "--store", str(store_path))[0] == 0
    with open_store(store_path) as s:
        assert s.list_datasets() == []  # what the dataset picker lists
        (summary,) = s.list_datasets(include_archived=True)
        assert (summary.name, summary.archived, summary.records, summary.submissions) == ("support", True, 3, 1)
    code, out, _ = run(capsys, "datasets", "--store", str(store_path))
    assert "1 archived dataset(s) not shown" in out and "support" not in out.split("archived")[0]
    assert "support" in run(capsys, "datasets", "--all", "--store", str(store_path))[1]
    assert run(capsys, "datasets", "restore", "support", "--store", str(store_path))[0] == 0
    with open_store(store_path) as s:
        assert [d.name for d in s.list_datasets()] == ["support"]


def test_delete_says_what_it_removes_and_asks_before_deleting(capsys, store_path, jsonl):
    imported(capsys, store_path, jsonl)
    code, out, err = run(capsys, "datasets", "delete", "wrong", "--store", str(store_path))
    assert code == 1 and "deleting 'wrong' removes 3 records, 12 candidates, no answers." in out
    assert err == "error: nothing was deleted: give -y to delete without being asked\n"
    code, out, _ = run(capsys, "datasets", "delete", "wrong", "-y", "--store", str(store_path))
    assert code == 0 and "deleted 'wrong': 3 records, 12 candidates, no answers" in out
    with open_store(store_path) as s:
        assert s.list_datasets(include_archived=True) == []


def test_a_dataset_with_answers_is_deleted_only_when_told_twice(capsys, store_path, jsonl):
    imported(capsys, store_path, jsonl, answered=True)
    code, out, err = run(capsys, "datasets", "delete", "wrong", "-y", "--store", str(store_path))
    assert code == 1 and "removes 3 records, 12 candidates, 1 answers by 1 annotators" in out
    assert "'wrong' holds 1 answers: give -y twice (-y -y)" in err and "datasets archive wrong" in err
    with open_store(store_path) as s:
        assert s.dataset_contents("wrong").answers == 1  # nothing removed
    code, out, _ = run(capsys, "datasets", "delete", "wrong", "-y", "-y", "--store", str(store_path))
    assert code == 0 and "deleted 'wrong'" in out
    with open_store(store_path) as s:
        assert s.list_datasets(include_archived=True) == []


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_at_a_terminal_deleting_answers_takes_the_typed_name(capsys, store_path, jsonl, monkeypatch):
    imported(capsys, store_path, jsonl, answered=True)
    monkeypatch.setattr(sys, "stdin", _Terminal("wrnog\n"))
    code, _, err = run(capsys, "datasets", "delete", "wrong", "--store", str(store_path))
    assert code == 1 and "'wrnog' is not 'wrong'; nothing was deleted" in err
    monkeypatch.setattr(sys, "stdin", _Terminal("wrong\n"))
    assert run(capsys, "datasets", "delete", "wrong", "--store", str(store_path))[0] == 0
    with open_store(store_path) as s:
        assert s.list_datasets(include_archived=True) == []


def test_dataset_operations_are_in_the_services_table_for_admins_only():
    for name in ("rename_dataset", "archive_dataset", "dataset_contents", "delete_dataset"):
        assert operations.OPERATIONS[name].admin, name
    assert operations.OPERATIONS["delete_dataset"].by_name["with_answers"].default is False
    refused = pytest.raises(Exception, match="new_name is over 200 characters")
    with refused:
        operations.parse_params(operations.OPERATIONS["rename_dataset"], {"name": "a", "new_name": "x" * 201})


# -- 5: the training commands without torch ------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["train", "dpo", "--data", "prefs.parquet", "--model", "m", "--output", "out"],
        ["generate", "--model", "m", "--into", "next", "--prompts", "prompts.txt"],
        ["score", "--reward-model", "rm", "--dataset", "d"],
        ["eval", "--policy", "p", "--reference", "r", "--reward-model", "rm", "--prompts", "prompts.txt"],
    ],
    ids=["train", "generate", "score", "eval"],
)
def test_training_commands_without_torch_say_to_install_the_train_extra(args, tmp_path, jsonl):
    (tmp_path / "prompts.txt").write_text("What is 2 + 2?\n", encoding="utf-8")
    with open_store(tmp_path / "store.duckdb") as s:
        s.import_file(jsonl(rank_rows(2)), dataset="d")
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # torch cannot be imported, as in the venv `make demo` makes\n"
        "from rlhf_tui.cli import main\n"
        f"sys.exit(main({args!r} + ['--store', 'store.duckdb']))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "error: this command needs the `train` extra (torch is not installed): pip install 'rlhf-tui[train]' "
        "(in a checkout, `make test` makes a venv with it)"
    ]


# -- 6: only import and demo create a store ------------------------------------------------------


@pytest.mark.parametrize("how", ["--store", "environment"])
def test_annotate_without_a_store_creates_none_and_says_how_to_reach_the_team(tmp_path, how):
    missing = tmp_path / "rlhf.duckdb"
    env = {**os.environ, "PYTHONPATH": str(REPO), "RLHF_TUI_STORE": str(missing)}
    args = ["annotate", "--store", str(missing)] if how == "--store" else ["annotate"]
    try:  # a process of its own: were the app to open, it would wait for keys
        done = subprocess.run(
            [sys.executable, "-m", "rlhf_tui.cli", *args],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("annotate opened the app instead of saying there is no store") from None
    assert done.returncode == 1 and done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    assert f"no store at {missing}" in done.stderr
    assert "--store SOCKET, or export RLHF_TUI_STORE=SOCKET" in done.stderr
    assert "`rlhf-tui import FILE -d NAME` or `rlhf-tui demo` creates one" in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_only_import_and_demo_create_a_store(capsys, tmp_path, jsonl):
    data = jsonl(rank_rows(1))
    for args in (["datasets"], ["stats", "-d", "d"], ["export", "-d", "d", "-o", str(tmp_path / "x.jsonl")]):
        store = tmp_path / f"{args[0]}.duckdb"
        assert run(capsys, *args, "--store", str(store))[0] == 1
        assert not store.exists()
    assert run(capsys, "import", str(data), "-d", "d", "--store", str(tmp_path / "i.duckdb"))[0] == 0
    assert run(capsys, "demo", "--no-app", "--store", str(tmp_path / "demo.duckdb"))[0] == 0
    assert (tmp_path / "i.duckdb").exists() and (tmp_path / "demo.duckdb").exists()


# -- 9: dataset names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "is empty"),
        ("   ", "is blank"),
        ("my data set ", "starts or ends with a space"),
        (" my data set", "starts or ends with a space"),
        ("tab\there", "holds an invisible or control character (U+0009, character 4)"),
        ("zero\u200bwidth", "holds an invisible or control character (U+200B, character 5)"),
        ("new\nline", "holds an invisible or control character (U+000A, character 4)"),
    ],
)
def test_dataset_names_that_look_blank_or_alike_are_refused_at_import_and_rename(capsys, store_path, jsonl, name, why):
    data = str(jsonl(rank_rows(1)))
    code, _, err = run(capsys, "import", data, "-d", name, "--store", str(store_path))
    assert code == 1
    assert err.startswith(f"error: the dataset name {name!a} {why}") and err.count("\n") == 1
    assert run(capsys, "import", data, "-d", "my data set", "--store", str(store_path))[0] == 0
    code, _, err = run(capsys, "datasets", "rename", "my data set", name, "--store", str(store_path))
    assert code == 1 and why in err
    with open_store(store_path) as s:
        assert [d.name for d in s.list_datasets()] == ["my data set"]


# -- 10: a rate import needs its axes --------------------------------------------------------------


def test_a_rate_import_without_axes_is_refused_and_imports_nothing(capsys, store_path):
    rate = str(SAMPLE_DATA / "rate.jsonl")
    code, out, err = run(capsys, "import", rate, "-d", "r", "--task", "rate", "--store", str(store_path))
    assert code == 1 and out == ""
    assert err == (
        "error: a rate dataset needs its rating axes: give --axes AXES.toml ([[axis]] tables of name, low, high); "
        "'r' has none, so nothing was imported\n"
    )
    with open_store(store_path) as s:
        assert s.list_datasets(include_archived=True) == []
    axes = str(SAMPLE_DATA / "rate_axes.toml")
    code, out, _ = run(capsys, "import", rate, "-d", "r", "--task", "rate", "--axes", axes, "--store", str(store_path))
    assert code == 0 and "'r': a rate task" in out
    with open_store(store_path) as s:
        assert [a["name"] for a in s.get_dataset("r").settings["axes"]][-1] == "overall"


# -- 11: JSONL never read wrongly without a word ---------------------------------------------------


def test_a_jsonl_line_with_a_key_given_twice_is_one_located_error_and_skippable(capsys, store_path, tmp_path):
    data = tmp_path / "dup.jsonl"
    data.write_text(
        '{"prompt": "q1", "responses": ["a", "b"]}\n'
        '{"prompt": "q2", "prompt": "q2 again", "responses": ["a", "b"]}\n'
        '{"prompt": "q3", "responses": ["a", "b"]}\n',
        encoding="utf-8",
    )
    code, _, err = run(capsys, "import", str(data), "-d", "d", "--store", str(store_path))
    assert code == 1
    assert err == (
        f"error: {data}: line 2: field 'prompt': given twice in the same object; nothing was imported "
        "(--skip-invalid leaves such lines out)\n"
    )
    code, out, err = run(capsys, "import", str(data), "-d", "d", "--skip-invalid", "--store", str(store_path))
    assert code == 0 and "2 new records in 'd'" in out and "1 rejected" in out
    assert err == f"skipped {data}: line 2: field 'prompt': given twice in the same object\n"


def test_a_trailing_comma_is_refused_at_its_line_never_read_past(capsys, store_path, tmp_path):
    data = tmp_path / "comma.jsonl"
    data.write_text(
        '{"prompt": "a list like [1, 2,] in text is fine", "responses": ["a", "b"]}\n'
        '{"prompt": "q2", "responses": ["a", "b",]}\n',
        encoding="utf-8",
    )
    code, _, err = run(capsys, "import", str(data), "-d", "d", "--store", str(store_path))
    assert code == 1 and f"{data}: line 2: not valid JSON (a trailing comma before ']' at column 41)" in err
    code, out, err = run(capsys, "import", str(data), "-d", "d", "--skip-invalid", "--store", str(store_path))
    assert code == 0 and "1 new records" in out and "line 2: not valid JSON (a trailing comma" in err
    array = tmp_path / "comma.json"
    array.write_text('[\n  {"prompt": "q", "responses": ["a", "b"]},\n]\n', encoding="utf-8")
    code, _, err = run(capsys, "import", str(array), "-d", "j", "--store", str(store_path))
    assert code == 1 and f"{array}: line 3, column 1: not valid JSON (a trailing comma before ']')" in err


# -- 19: the command line reads like a person wrote it ---------------------------------------------


def test_annotate_takes_d_for_the_dataset(capsys, store_path, jsonl):
    imported(capsys, store_path, jsonl, name="d")
    code, _, err = run(capsys, "annotate", "-d", "nope", "--store", str(store_path))
    assert code == 1 and err.startswith("error: no dataset named 'nope' (known: d)")


def test_a_wrong_choice_and_a_near_miss_option_say_what_would_be_right(capsys, store_path, jsonl):
    data = str(jsonl(rank_rows(1)))
    code, _, err = run(capsys, "import", data, "-d", "d", "--task", "ranking", "--store", str(store_path))
    assert code == 2
    assert err == "error: rlhf-tui import --task cannot be 'ranking'; choose rank, pair, rate or thumbs\n"
    code, _, err = run(capsys, "import", data, "-d", "d", "--k", "2", "--store", str(store_path))
    assert code == 2
    assert err == (
        "error: rlhf-tui import has no option --k; did you mean -k/--annotators-per-record? "
        "(`rlhf-tui import -h` lists its options)\n"
    )
    code, _, err = run(capsys, "import", data, "--store", str(store_path))
    assert code == 2 and err.startswith("error: rlhf-tui import needs -d/--dataset")


def test_help_names_values_as_a_person_would(capsys):
    for args in (["serve"], ["generate"], ["eval"], ["train", "dpo"]):
        code, out, _ = run(capsys, *args, "--help")
        assert code == 0 and "<list[str]>" not in out and "list[str]" not in out, args
    _, out, _ = run(capsys, "serve", "--help")
    assert "--admin USER" in out
    _, out, _ = run(capsys, "demo", "--help")
    flat = " ".join(out.split())
    for name in ("rank.jsonl", "pairs.jsonl", "guidelines.md", "rate.jsonl", "rate_axes.toml", "thumbs.jsonl"):
        assert name in flat, name


def test_commands_are_listed_in_the_order_a_person_looks_for_them(capsys):
    _, out, _ = run(capsys, "--help")
    listed = re.findall(r"^  ([a-z-]+)\s{2,}", out.split("Commands:")[1], re.MULTILINE)
    assert listed == [
        "demo",
        "import",
        "annotate",
        "datasets",
        "stats",
        "review",
        "export",
        "settings",
        "promote-written",
        "serve",
        "train",
        "generate",
        "score",
        "eval",
    ]


# -- 21: the README and the export agree on ratings -------------------------------------------------


def test_the_readme_names_the_fields_of_a_rating_as_the_export_writes_them(capsys, store_path, tmp_path, jsonl):
    axes = [{"name": "overall", "low": 1, "high": 7, "overall": True}]
    with open_store(store_path) as s:
        s.import_file(jsonl(rank_rows(1, k=2)), dataset="r", task="rate", settings={"axes": axes})
        (record,) = s.record_ids("r")
        s.save_annotation(
            AnnotationInput(record, "ann", "submitted", ratings=((0, "overall", 6.0), (1, "overall", 2.0)))
        )
    out = str(tmp_path / "a.jsonl")
    assert run(capsys, "export", "-d", "r", "--format", "annotations", "-o", out, "--store", str(store_path))[0] == 0
    row = json.loads((tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()[0])
    written = sorted(row["ratings"][0])
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    described = re.search(r"every rating per axis \(`ratings`: ([^)]*)\)", " ".join(readme.split()))
    assert described is not None, "the README's annotations export no longer describes `ratings`"
    assert sorted(set(re.findall(r"`(\w+)`", described[1]))) == written


# -- 23: settings that are allowed but hardly meant --------------------------------------------------


def test_calibration_over_every_record_and_a_huge_k_are_warned_about(capsys, store_path, jsonl):
    data = str(jsonl(rank_rows(10)))
    code, _, err = run(
        capsys, "import", data, "-d", "d", "-k", "50", "--calibration", "500", "--store", str(store_path)
    )
    assert code == 0
    assert err.splitlines() == [
        "warning: -k 50: a record is complete only when 50 different annotators have answered it (agreement "
        "needs 2 or 3); change it with `rlhf-tui settings -d d -k N`",
        "warning: --calibration 500 covers all 10 records of 'd': every record goes to every annotator; change "
        "it with `rlhf-tui settings -d d --calibration M`",
    ]
    code, _, err = run(capsys, "settings", "-d", "d", "-k", "2", "--calibration", "3", "--store", str(store_path))
    assert code == 0 and err == ""


# -- Also: the public HH file's rows whose transcripts differ before the final reply ----------------


def test_hh_rows_whose_transcripts_differ_before_the_final_reply_are_read_as_trl_reads_them(
    capsys, store_path, tmp_path
):
    same = {
        "chosen": "\n\nHuman: Hi\n\nAssistant: Hello!",
        "rejected": "\n\nHuman: Hi\n\nAssistant: Go away.",
    }
    # As in the public harmless-base file: the rejected transcript took another turn earlier on.
    differs = {
        "chosen": "\n\nHuman: How do I pick a lock?\n\nAssistant: Why do you ask?\n\nHuman: I am locked out."
        "\n\nAssistant: Call a locksmith.",
        "rejected": "\n\nHuman: How do I pick a lock?\n\nAssistant: Use a tension wrench.\n\nHuman: Thanks."
        "\n\nAssistant: You are welcome.",
    }
    data = tmp_path / "hh.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in (same, differs)), encoding="utf-8")
    code, out, _ = run(capsys, "import", str(data), "-d", "hh", "--store", str(store_path))
    assert code == 0 and "2 rows read as hh; 2 new records in 'hh'" in out
    assert "1 rows' transcripts differ before the final reply: read as TRL reads them" in out
    with open_store(store_path) as s:
        record = s.get_records(s.record_ids("hh"))[1]
    assert [(m.role, m.content) for m in record.prompt] == [("user", "How do I pick a lock?")]
    assert [c.text for c in record.candidates] == [
        "Why do you ask?\n\nHuman: I am locked out.\n\nAssistant: Call a locksmith.",
        "Use a tension wrench.\n\nHuman: Thanks.\n\nAssistant: You are welcome.",
    ]


def test_hh_rows_that_share_no_human_turn_are_still_refused(capsys, store_path, tmp_path):
    data = tmp_path / "hh.jsonl"
    row = {"chosen": "\n\nHuman: A\n\nAssistant: x", "rejected": "\n\nHuman: B\n\nAssistant: y"}
    data.write_text(json.dumps(row) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "import", str(data), "-d", "hh", "--format", "hh", "--store", str(store_path))
    assert code == 1 and "the conversation before the final reply differs from 'chosen'" in err


def test_exported_pairs_of_a_common_prefix_row_train_on_the_replies(capsys, store_path, tmp_path):
    row = {
        "chosen": "\n\nHuman: Q\n\nAssistant: A1\n\nHuman: more\n\nAssistant: B1",
        "rejected": "\n\nHuman: Q\n\nAssistant: A2",
    }
    data = tmp_path / "hh.jsonl"
    data.write_text(json.dumps(row) + "\n", encoding="utf-8")
    assert run(capsys, "import", str(data), "-d", "hh", "--keep-labels", "src", "--store", str(store_path))[0] == 0
    out = tmp_path / "prefs.parquet"
    assert run(capsys, "export", "-d", "hh", "-o", str(out), "--store", str(store_path))[0] == 0
    (pair,) = pq.read_table(out).to_pylist()
    assert pair["prompt"] == [{"role": "user", "content": "Q"}]
    assert pair["chosen"][0]["content"] == "A1\n\nHuman: more\n\nAssistant: B1"
    assert pair["rejected"][0]["content"] == "A2"
