"""Synthetic rankings for trying the loop without a person: NOT human preference data.

The bundled sample has no ground-truth ranking. To run train → eval → generate end to end on a
machine with nobody at the keyboard, this script submits one ranking per record under the annotator
name `synthetic-longest`, by a fixed rule anyone can check: the longer answer (in characters) ranks
better; equal lengths tie. A reward model trained on these labels learns that rule, not quality.

    python scripts/synthetic_rankings.py --dataset demo-chat [--import-chat sample_data/rank.jsonl]

--import-chat first imports a native-format file with every plain-text prompt turned into a one-turn
chat ([{"role": "user", ...}]), so that training (TRL applies the chat template to chat prompts) and
`rlhf-tui generate`/`eval` (which apply it for chat models) see the prompts the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ANNOTATOR = "synthetic-longest"


def chat_copy(src: Path, dst: Path) -> None:
    with src.open(encoding="utf-8") as fin, dst.open("w", encoding="utf-8") as fout:
        for line in fin:
            if line.strip():
                row = json.loads(line)
                if isinstance(row["prompt"], str):
                    row["prompt"] = [{"role": "user", "content": row["prompt"]}]
                fout.write(json.dumps(row, ensure_ascii=False) + "\n")


def length_ranks(texts: list[str]) -> tuple[int, ...]:
    """Rank 1 = longest; equal lengths share a rank, and ranks stay dense (1, 2, 2, 3) as the store wants."""
    lengths = [len(t) for t in texts]
    distinct = sorted(set(lengths), reverse=True)
    return tuple(1 + distinct.index(n) for n in lengths)


def main(argv: list[str] | None = None) -> int:
    from store import AnnotationInput
    from store.connect import open_store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--store", default=None, help="the DuckDB store (default: $RLHF_TUI_STORE or ./rlhf.duckdb)")
    parser.add_argument("--import-chat", type=Path, default=None, help="native JSONL to import with chat prompts first")
    parser.add_argument("--guidelines", type=Path, default=Path("sample_data/guidelines.md"))
    args = parser.parse_args(argv)
    store = open_store(args.store)
    try:
        if args.import_chat:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "chat.jsonl"
                chat_copy(args.import_chat, path)
                guidelines = args.guidelines.read_text() if args.guidelines.is_file() else None
                report = store.import_file(path, dataset=args.dataset, fmt="native", guidelines=guidelines)
            print(f"imported {report.added} records into {args.dataset!r} ({report.already_present} already there)")
        records = store.get_records(store.record_ids(args.dataset))
        for record in records:
            ranks = length_ranks([c.text for c in record.candidates])
            store.save_annotation(
                AnnotationInput(
                    record_id=record.id,
                    annotator=ANNOTATOR,
                    status="submitted",
                    ranks=ranks,
                    shown_order=tuple(range(len(ranks))),
                    comment="synthetic: longer answer ranks better",
                )
            )
        print(f"{len(records)} synthetic rankings submitted as {ANNOTATOR!r} in {args.dataset!r}")
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
