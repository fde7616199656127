"""The command line: what a user types and sees, errors as one line with a non-zero exit."""

from __future__ import annotations

import subprocess
import sys

import pyarrow.parquet as pq
from conftest import SAMPLE_DATA, rank_rows

from rlhf_tui.cli import main
from store.connect import open_store


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_import_datasets_export_round_trip(capsys, jsonl, tmp_path, store_path):
    data = jsonl(rank_rows(3))
    code, out, _ = run(capsys, "import", str(data), "--dataset", "d", "--store", str(store_path), "-k", "2")
    assert code == 0 and "3 new records in 'd'" in out
    code, out, _ = run(capsys, "import", str(data), "--dataset", "d", "--store", str(store_path))
    assert code == 0 and "0 new records" in out and "3 already present" in out
    code, out, _ = run(capsys, "datasets", "--store", str(store_path))
    assert code == 0 and "d" in out and "rank" in out and "0.0%" in out
    code, out, _ = run(
        capsys,
        "export",
        "--dataset",
        "d",
        "--format",
        "annotations",
        "--out",
        str(tmp_path / "a.parquet"),
        "--store",
        str(store_path),
    )
    assert code == 0 and pq.read_table(tmp_path / "a.parquet").num_rows == 0


def test_store_location_from_environment(capsys, jsonl, tmp_path, monkeypatch):
    monkeypatch.setenv("RLHF_TUI_STORE", str(tmp_path / "from-env.duckdb"))
    assert run(capsys, "import", str(jsonl(rank_rows(1))), "--dataset", "d")[0] == 0
    assert (tmp_path / "from-env.duckdb").exists()


def test_user_mistakes_are_one_line_errors(capsys, jsonl, tmp_path, store_path):
    bad = jsonl([{"prompt": "q", "responses": ["only one"]}], "bad.jsonl")
    code, _out, err = run(capsys, "import", str(bad), "--dataset", "d", "--store", str(store_path))
    assert code == 1 and err.strip().count("\n") == 0
    assert err.startswith("error: ") and "bad.jsonl: line 1: field 'responses'" in err
    code, _, err = run(
        capsys, "export", "--dataset", "missing", "--out", str(tmp_path / "x.parquet"), "--store", str(store_path)
    )
    assert code == 1 and "no dataset named 'missing'" in err
    code, _, err = run(capsys, "import", str(tmp_path / "nope.jsonl"), "--dataset", "d", "--store", str(store_path))
    assert code == 1 and "nope.jsonl: no such file" in err


def test_skip_invalid_lists_rejected_rows(capsys, jsonl, store_path):
    data = jsonl([*rank_rows(2), {"prompt": "", "responses": ["a", "b"]}])
    code, out, err = run(capsys, "import", str(data), "--dataset", "d", "--skip-invalid", "--store", str(store_path))
    assert code == 0 and "2 new records" in out and "1 rejected" in out
    assert "skipped" in err and "line 3: field 'prompt': empty" in err


def test_stats_counts_by_annotator_and_status(capsys, jsonl, store_path):
    from store import AnnotationInput

    with open_store(store_path) as s:
        s.import_file(jsonl(rank_rows(2, k=2)), dataset="d")
        r0, r1 = s.get_records(s.record_ids("d"))
        s.save_annotation(AnnotationInput(r0.id, "ann", "submitted", (1, 2)))
        s.save_annotation(AnnotationInput(r1.id, "ann", "draft", (1, 0)))
    code, out, _ = run(capsys, "stats", "--dataset", "d", "--store", str(store_path))
    assert code == 0
    ann_line = next(line for line in out.splitlines() if line.startswith("│ ann"))
    assert [cell.strip() for cell in ann_line.split("│")[1:5]] == ["ann", "1", "1", "0"]  # submitted, draft, discarded


def test_demo_imports_the_sample_data_once(capsys, store_path):
    code, out, _ = run(capsys, "demo", "--no-app", "--store", str(store_path))
    assert code == 0 and "imported the sample datasets" in out
    with open_store(store_path) as s:
        summaries = {d.name: d for d in s.list_datasets()}
        guidelines = s.get_dataset("sample-rank").guidelines
    assert summaries["sample-rank"].records >= 40 and summaries["sample-pairs"].records >= 20
    assert guidelines == (SAMPLE_DATA / "guidelines.md").read_text()
    code, out, _ = run(capsys, "demo", "--no-app", "--store", str(store_path))
    assert code == 0 and "imported" not in out


HELP_THEN_HEAVY_IMPORTS = """
import sys
from rlhf_tui.cli import main
code = main(["-h"])
print("heavy imports:", *sorted({name.split(".")[0] for name in sys.modules} & {HEAVY}))
sys.exit(code)
"""


def test_console_script_help_is_instant_and_clean():
    # Instant: --help loads no UI or training library. Clean: nothing on stderr, even with every warning shown.
    heavy = {"textual", "torch", "transformers", "trl", "peft", "datasets"}
    script = HELP_THEN_HEAVY_IMPORTS.replace("{HEAVY}", repr(heavy))
    out = subprocess.run([sys.executable, "-W", "default", "-c", script], capture_output=True, text=True)
    assert out.returncode == 0 and "import" in out.stdout and "export" in out.stdout
    assert out.stdout.rstrip().splitlines()[-1] == "heavy imports:"
    assert out.stderr == ""


def test_stats_agreement_figures(capsys, jsonl, store_path):
    from store import AnnotationInput

    with open_store(store_path) as s:
        s.import_file(jsonl(rank_rows(3, k=3)), dataset="d", annotators_per_record=2)
        for record in s.get_records(s.record_ids("d")):
            s.save_annotation(AnnotationInput(record.id, "ann", "submitted", (1, 2, 3)))
            s.save_annotation(
                AnnotationInput(record.id, "bob", "submitted", (1, 2, 3) if record.external_id != "r2" else (3, 2, 1))
            )
    code, out, _ = run(capsys, "stats", "--dataset", "d", "--agreement", "--store", str(store_path))
    assert code == 0
    assert "mean Kendall's W" in out and "Krippendorff's alpha (ordinal)" in out
    disputed = out[out.index("Most disputed records") :]
    rows = [line for line in disputed.splitlines() if line.startswith("│")]
    assert len(rows) == 1 and rows[0].split("│")[1].strip() == "r2"  # named by its id in the file; bob reversed it
    assert "ann 1,2,3; bob 3,2,1" in rows[0]
    # the numbers are the file's, not what each annotator saw: the table says so
    assert "candidates numbered in the file's order" in " ".join(disputed.split())


def test_demo_with_a_broken_config_is_one_line(capsys, store_path, tmp_path, monkeypatch):
    bad = tmp_path / "config.toml"
    bad.write_text("[keymap]\nno.such.binding = 'z'\n")
    monkeypatch.setenv("RLHF_TUI_CONFIG", str(bad))
    code, _, err = run(capsys, "demo", "--store", str(store_path))
    assert code == 1 and err.startswith("error: ") and err.strip().count("\n") == 0


def test_every_command_is_listed_with_its_own_short_help():
    # `rlhf-tui --help` lists commands from a registry without importing them: it must match the commands.
    import importlib

    import typer

    from rlhf_tui.cli_app import COMMANDS, CommandList, app

    for entry in COMMANDS:
        importlib.import_module(f"rlhf_tui.commands.{entry.module}")
    group = typer.main.get_command(app)
    assert isinstance(group, CommandList)
    commands = group.commands
    assert sorted(commands) == sorted(c.name for c in COMMANDS)
    for entry in COMMANDS:
        assert commands[entry.name].get_short_help_str(limit=1000) == entry.summary, entry.name


def test_version_prints_the_installed_version(capsys):
    from importlib.metadata import version

    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"rlhf-tui {version('rlhf-tui')}"


def test_a_mistyped_command_is_told_the_nearest_one(capsys):
    code, _, err = run(capsys, "imprt")
    assert code == 2 and "Did you mean 'import'?" in err
