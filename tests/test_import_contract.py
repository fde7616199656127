"""The core stays light at run time: importing the store or running `--help` loads neither
the TUI nor a training library. The static rules (layers, forbidden imports, no cycles in
store/) are import-linter contracts in pyproject.toml, run by `make check`; these check what
a fresh interpreter actually loads, which the static contracts cannot see."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
