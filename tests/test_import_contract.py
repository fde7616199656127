"""The core stays light: store/ and trainers/ never import textual; store/ never imports
a training library. Checked on the source (static) and in a fresh interpreter (dynamic)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def imports_of(path: Path) -> set[str]:
    """Top-level names of the absolute imports in one source file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def imported_modules(package: str) -> dict[str, set[str]]:
    return {str(path.relative_to(REPO)): imports_of(path) for path in (REPO / package).rglob("*.py")}


def test_store_and_trainers_never_import_textual():
    for package in ("store", "trainers"):
        for file, names in imported_modules(package).items():
            assert "textual" not in names, f"{file} imports textual"


def test_store_never_imports_training_libraries():
    for file, names in imported_modules("store").items():
        bad = names & {"torch", "transformers", "trl", "peft", "bitsandbytes", "accelerate", "datasets"}
        assert not bad, f"{file} imports {bad}"


def test_importing_store_loads_no_heavy_module():
    code = (
        "import sys, store, store.export, store.importer\n"
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
