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
echo "build check: the wheel installs and runs from $work/venv"
