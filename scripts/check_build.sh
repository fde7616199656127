#!/usr/bin/env bash
# The build check: build the wheel, install it (not editable) into a fresh venv, and run what a
# new user runs first, from a folder outside the source tree, so that nothing is found by accident.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! "$repo/.venv/bin/python" -m build --wheel --outdir "$work/dist" "$repo" >"$work/build.log" 2>&1; then
    cat "$work/build.log"
    exit 1
fi
rm -rf "$repo/build"
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$work"/dist/*.whl 2> >(grep -v "^WARNING: Location" >&2)
cd "$work"
"$work/venv/bin/rlhf-tui" demo --help >/dev/null
"$work/venv/bin/rlhf-tui" import "$repo/sample_data/rank.jsonl" --dataset check --store "$work/check.duckdb"
listing=$("$work/venv/bin/rlhf-tui" demo --no-app --store "$work/demo.duckdb")
grep -q sample-rank <<<"$listing" || { echo "build check: demo imported no sample data: $listing"; exit 1; }
# Every command's --help, every module of the app and the store imported, and the app started headless
# until the first record is on screen (its stylesheet read from the wheel): a subpackage or a data file
# missing from the wheel fails here.
for command in $("$work/venv/bin/python" -c "from rlhf_tui.cli_app import COMMANDS; print(*(c.name for c in COMMANDS))"); do
    "$work/venv/bin/rlhf-tui" "$command" --help >/dev/null
done
"$work/venv/bin/python" - "$work/demo.duckdb" <<'PY'
import asyncio, importlib, pkgutil, sys
import rlhf_tui, store
for package in (rlhf_tui, store):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
from rlhf_tui.app.app import AnnotationApp
from rlhf_tui.app.config import AppConfig
from store.connect import open_store

async def first_record() -> None:
    shown = asyncio.Event()
    with open_store(sys.argv[1]) as opened:
        app = AnnotationApp(opened, "check", "sample-rank", AppConfig())
        app.on_record_rendered = lambda record_id: shown.set()
        async with app.run_test(size=(100, 30)):
            await asyncio.wait_for(shown.wait(), 60)

asyncio.run(first_record())
PY
echo "build check: the wheel installs and runs from $work/venv"
