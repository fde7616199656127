"""`rlhf-tui demo` reads the sample data shipped as the package `rlhf_tui.sample_data`
(through importlib.resources, so a wheel or zipped install has it), or a folder given
with --sample-data."""

from __future__ import annotations

import sys
import zipfile

from conftest import rank_rows, write_jsonl

from rlhf_tui.cli import main
from rlhf_tui.commands import core
from store.connect import open_store


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_shows_the_bundled_default(capsys):
    code, out, _ = run(capsys, "demo", "--help")
    assert code == 0 and "--sample-data" in out and "(bundled)" in out


def test_demo_reads_the_sample_data_from_a_zipped_package(capsys, store_path, tmp_path, monkeypatch):
    # A package inside a zip has no folder on disk: each file must come out through as_file.
    archive = tmp_path / "samples.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped_samples/__init__.py", "")
        zf.writestr("zipped_samples/guidelines.md", "# zipped guidelines\n")
        for name, rows in (("rank.jsonl", rank_rows(3)), ("pairs.jsonl", rank_rows(2, k=2, prefix="p"))):
            zf.write(write_jsonl(tmp_path / name, rows), f"zipped_samples/{name}")
    monkeypatch.syspath_prepend(str(archive))
    monkeypatch.setattr(core, "SAMPLE_DATA_PACKAGE", "zipped_samples")
    monkeypatch.delitem(sys.modules, "zipped_samples", raising=False)
    code, out, _ = run(capsys, "demo", "--no-app", "--store", str(store_path))
    assert code == 0 and "imported the sample datasets sample-rank, sample-pairs" in out
    with open_store(store_path) as s:
        summaries = {d.name: d.records for d in s.list_datasets()}
        guidelines = s.get_dataset("sample-rank").guidelines
    assert summaries == {"sample-rank": 3, "sample-pairs": 2} and guidelines == "# zipped guidelines\n"


def test_sample_data_option_overrides_the_bundled_data(capsys, store_path, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    write_jsonl(folder / "rank.jsonl", rank_rows(1))
    write_jsonl(folder / "pairs.jsonl", rank_rows(1, k=2, prefix="p"))
    (folder / "guidelines.md").write_text("mine\n")
    code, out, _ = run(capsys, "demo", "--no-app", "--sample-data", str(folder), "--store", str(store_path))
    assert code == 0 and "imported" in out
    with open_store(store_path) as s:
        assert {d.name: d.records for d in s.list_datasets()} == {"sample-rank": 1, "sample-pairs": 1}
        assert s.get_dataset("sample-rank").guidelines == "mine\n"


def test_a_sample_data_folder_without_guidelines_is_a_one_line_error(capsys, store_path, tmp_path):
    code, _, err = run(capsys, "demo", "--no-app", "--sample-data", str(tmp_path / "none"), "--store", str(store_path))
    assert code == 1 and err.startswith("error: ") and "no such guidelines file" in err
    assert err.strip().count("\n") == 0


def make_demo_with_a_stub_app(tmp_path, exit_status: int):
    """`make demo` as written, with a venv whose rlhf-tui is a stub that exits with `exit_status`."""
    import os
    import shutil
    import subprocess

    from conftest import REPO

    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "activate").write_text("")
    app = venv / "bin" / "rlhf-tui"
    app.write_text(f'#!/bin/sh\necho app ran with "$@"\nexit {exit_status}\n')
    app.chmod(0o755)
    installed = venv / ".core-installed"
    installed.write_text("")
    later = (REPO / "pyproject.toml").stat().st_mtime + 10
    for path in (venv / "bin" / "activate", installed):
        os.utime(path, (later, later))  # up to date: nothing is installed
    return subprocess.run(
        [shutil.which("make") or "make", "-s", "-C", str(REPO), "demo", f"VENV={venv}", "STORE=team.duckdb"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_after_make_demo_quits_it_says_how_to_open_the_app_again(tmp_path):
    done = make_demo_with_a_stub_app(tmp_path, 0)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "app ran with demo --store team.duckdb"
    assert lines[-1] == (
        f"To open the app again: make demo, or {tmp_path}/venv/bin/rlhf-tui annotate --store team.duckdb "
        "(your answers are kept in team.duckdb)."
    )


def test_make_demo_keeps_the_apps_failure_status_after_saying_how_to_open_it_again(tmp_path):
    done = make_demo_with_a_stub_app(tmp_path, 3)
    assert done.returncode != 0 and "To open the app again" in done.stdout
