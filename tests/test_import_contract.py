"""The core stays light at run time: importing the store or running `--help` loads neither
the TUI nor a training library. The static rules (layers, forbidden imports, no cycles in
store/) are import-linter contracts in pyproject.toml, run by `make check`; these check what
a fresh interpreter actually loads, which the static contracts cannot see."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_importing_store_loads_no_heavy_module():
    code = (
        "import sys, store, store.connect, store.embedded, store.io.export, store.io.importer, store.service.server, store.stats.agreement\n"
        "heavy = {'textual', 'torch', 'transformers', 'trl', 'peft'} & {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_help_loads_neither_textual_nor_torch():
    code = (
        "import sys\n"
        "from rlhf_tui.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = {'textual', 'torch', 'transformers', 'trl'} & {m.split('.')[0] for m in sys.modules}\n"
        "print('HEAVY', sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout


# What `--help` must not pay for: the database and its file formats, the TUI, a training library, and
# pydantic (which some typer versions pull in to coerce options).
SLOW_TO_IMPORT = {"duckdb", "pyarrow", "textual", "torch", "transformers", "trl", "peft", "datasets", "pydantic"}
LOADED_BY = """
import json, sys
from rlhf_tui.cli import main
code = main(sys.argv[1:])
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def loaded_by(*argv: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", LOADED_BY, *argv], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.splitlines()[-1]))


HELP_COMMANDS = [
    ("--help",),
    ("--version",),
    *((name, "--help") for name in ("demo", "import", "annotate", "datasets", "stats", "review", "export")),
    *((name, "--help") for name in ("settings", "promote-written", "serve", "train", "generate", "score", "eval")),
    *(("train", kind, "--help") for kind in ("sft", "reward", "dpo", "kto", "rloo")),
]


@pytest.mark.parametrize("argv", HELP_COMMANDS, ids=" ".join)
def test_help_of_every_command_loads_no_database_tui_or_training_library(argv):
    assert loaded_by(*argv) & SLOW_TO_IMPORT == set()


def test_help_loads_only_the_module_of_the_command_asked_about():
    loaded = loaded_by("export", "--help")
    assert "rlhf_tui" in loaded and "trainers" not in loaded  # train's module (and its configs) stay unread


def test_an_annotator_on_the_team_socket_loads_no_database_library():
    # The client speaks JSON over the socket: duckdb and pyarrow are for the service and for admins' files.
    code = (
        "import json, sys, store.connect, store.service.client\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert set(json.loads(out.stdout)) & {"duckdb", "pyarrow", "textual"} == set()


def test_listing_the_datasets_of_a_store_file_loads_no_file_format_library(tmp_path):
    from store.connect import open_store

    open_store(tmp_path / "s.duckdb").close()
    loaded = loaded_by("datasets", "--store", str(tmp_path / "s.duckdb"))
    assert "duckdb" in loaded and "pyarrow" not in loaded  # pyarrow is for imports and exports


@pytest.mark.parametrize(
    "module",
    [
        "rlhf_tui.app.widgets",
        "rlhf_tui.app.review",
        "rlhf_tui.app.annotate.screen",
        "rlhf_tui.app.admin",
        "rlhf_tui.app.screens",
    ],
)
def test_each_part_of_the_app_imports_first_in_a_fresh_interpreter(module):
    # No import circle between the features and the widgets they share, whichever is imported first.
    out = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
