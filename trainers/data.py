"""Preference pairs in: a Parquet/JSONL file or a store dataset; out: train and eval splits by prompt."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import DataArgs
from .errors import TrainerError

REQUIRED = ("prompt", "chosen", "rejected")
# The columns each data format needs, and how they are described in errors
FORMAT_COLUMNS = {
    "preference": (("prompt", "chosen", "rejected"), "prompt, chosen, rejected"),
    "sft": (("prompt", "completion"), "prompt and completion, or messages"),
    "kto": (("prompt", "completion", "label"), "prompt, completion, label (TRL's unpaired format)"),
    "prompts": (("prompt",), "prompt (text or chat messages)"),
}


def source_name(args: DataArgs) -> str:
    """Where the rows come from, as errors and notes name it."""
    return f"dataset '{args.dataset}'" if args.dataset else str(args.data)


def load_rows(args: DataArgs, data_format: str, threshold: float | None = None) -> list[dict[str, Any]]:
    """The rows of a file or a store dataset in `data_format` (see FORMAT_COLUMNS), checked."""
    if data_format == "preference":
        return load_preference_rows(args)
    if args.dataset:
        from store.connect import connect_store
        from store.types import ExportOptions

        store = connect_store(args.store)
        try:
            if data_format == "prompts":
                records = store.get_records(store.record_ids(args.dataset))
                rows = [{"prompt": r.prompt, "record_id": r.id} for r in records]
            else:
                rows = store.export_rows(
                    args.dataset, ExportOptions(data_format, aggregate=args.aggregate, threshold=threshold)
                )
        finally:
            store.close()
    elif args.data:
        rows = _read_file(Path(args.data), plain_lines=data_format == "prompts")
    else:
        raise TrainerError("give exactly one of --data FILE or --dataset NAME")
    source = source_name(args)
    if data_format == "sft":
        rows = [
            _from_messages(r, source, n) if "messages" in r and "completion" not in r else r
            for n, r in enumerate(rows, 1)
        ]
    if not rows:
        raise TrainerError(f"no rows in {source} (annotate some records first, or check the file)")
    needed, described = FORMAT_COLUMNS[data_format]
    missing = [c for c in needed if c not in rows[0]]
    if missing:
        raise TrainerError(f"{source} lacks column(s) {', '.join(missing)}; expected {described}")
    if data_format == "prompts":
        rows = [{**r, "prompt": _plain_messages(r["prompt"])} for r in rows]
    return rows


def _plain_messages(prompt: Any) -> Any:
    """A chat prompt as plain {role, content} dicts (a store record's messages are objects)."""
    if isinstance(prompt, str):
        return prompt
    return [
        {"role": str(m["role"]), "content": str(m["content"])}
        if isinstance(m, dict)
        else {"role": str(m.role), "content": str(m.content)}
        for m in prompt
    ]


def _from_messages(row: dict[str, Any], source: str, n: int) -> dict[str, Any]:
    """TRL's conversational SFT row (`messages`): the last assistant turn is the completion, the rest the prompt."""
    messages = row["messages"]
    if not isinstance(messages, list) or not messages or messages[-1].get("role") != "assistant":
        raise TrainerError(f"{source} row {n}: 'messages' must end with an assistant turn (the answer to learn)")
    return {**row, "prompt": messages[:-1], "completion": [messages[-1]]}


def shuffled(rows: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """The rows in a seeded random order (the export writes them sorted by record)."""
    out = list(rows)
    random.Random(seed).shuffle(out)
    return out


def load_preference_rows(args: DataArgs) -> list[dict[str, Any]]:
    """The TRL preference rows of a file or a store dataset, checked."""
    if args.dataset:
        from store.connect import connect_store

        store = connect_store(args.store)  # through `rlhf-tui serve` when it runs
        try:
            rows = store.preference_rows(args.dataset, aggregate=args.aggregate)
        finally:
            store.close()
    elif args.data:
        rows = _read_file(Path(args.data))
    else:
        raise TrainerError("give exactly one of --data FILE or --dataset NAME")
    source = source_name(args)
    if not rows:
        raise TrainerError(f"no preference pairs in {source} (annotate some records first, or check the file)")
    missing = [c for c in REQUIRED if c not in rows[0]]
    if missing:
        raise TrainerError(f"{source} lacks column(s) {', '.join(missing)}; expected prompt, chosen, rejected")
    return rows


def _read_file(path: Path, plain_lines: bool = False) -> list[dict[str, Any]]:
    if not path.is_file():
        raise TrainerError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    if plain_lines and suffix in (".txt", ""):  # a prompts file: one prompt per line
        return [{"prompt": line.strip()} for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if suffix in (".jsonl", ".json", ".ndjson"):
        rows = []
        with path.open() as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError:
                        raise TrainerError(f"{path} line {n} is not JSON") from None
        return rows
    raise TrainerError(f"data file must be .parquet or .jsonl: {path}")


def prompt_key(row: dict[str, Any]) -> str:
    """Rows with the same key share a prompt: its text (chat prompts as canonical JSON).

    The text, not the record id: two records with the same prompt must not straddle the split either."""
    prompt = row["prompt"]
    return "prompt:" + (prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True))


def split_by_prompt(
    rows: list[dict[str, Any]], eval_fraction: float, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Hold out about `eval_fraction` of the prompts (at least one when asked for any); no prompt in both."""
    keys = sorted({prompt_key(r) for r in rows})
    if eval_fraction <= 0 or len(keys) < 2:
        return list(rows), []
    # Sort by a seeded hash rather than shuffling a list: adding rows later moves few prompts between splits.
    ranked = sorted(keys, key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())
    n_eval = min(len(keys) - 1, max(1, round(len(keys) * eval_fraction)))
    held_out = set(ranked[:n_eval])
    train = [r for r in rows if prompt_key(r) not in held_out]
    evaluation = [r for r in rows if prompt_key(r) in held_out]
    return train, evaluation


HOLDOUT_SALT = "rlhf-tui holdout v1:"  # changing it would move every prompt between the sides


def held_out(key: str, fraction: float) -> bool:
    """Whether `--holdout FRACTION` keeps this prompt (a `prompt_key`) out of training.

    A fixed hash of the prompt's text, no seed and no count: every run given the same fraction, whatever its
    kind, seed or data file, keeps out the same prompts, and a prompt added to the dataset later never moves
    the others. A larger fraction keeps out a superset."""
    if fraction <= 0:
        return False
    digest = hashlib.sha256((HOLDOUT_SALT + key).encode()).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2**64


def holdout_side(rows: list[dict[str, Any]], fraction: float, only: bool, source: str) -> list[dict[str, Any]]:
    """The rows a run trains on: without the held-out prompts, or (`only`, a judge) those prompts alone."""
    if fraction <= 0:
        return rows
    kept = [r for r in rows if held_out(prompt_key(r), fraction) == only]
    if not kept:
        prompts = len({prompt_key(r) for r in rows})
        side = "keeps none of" if only else "keeps out all"
        raise TrainerError(
            f"--holdout {fraction} {side} the {prompts} prompts of {source}: "
            + ("raise --holdout" if only else "lower --holdout")
        )
    return kept


@dataclass
class EncodedSplit:
    """The tokenised rows of one split and what happened to the others."""

    rows: list[dict[str, Any]]
    given: int  # pairs in the split before encoding
    dropped: int  # pairs whose answer leaves no room for the prompt within --max-length
    prompts_cut: int  # pairs kept with their prompt cut from the left
    answers_cut: int = 0  # pairs kept with their answers' ends cut (DPO, when an answer alone is too long)


def encode_split(
    rows: list[dict[str, Any]], encode: Callable[[dict[str, Any]], dict[str, Any] | None], with_group: bool = False
) -> EncodedSplit:
    """Each row through the kind's encoder; `group_id` (the prompt group) added when asked."""
    kept: list[dict[str, Any]] = []
    dropped = cut = answers_cut = 0
    ids: dict[str, int] = {}
    for row in rows:
        encoded = encode(row)
        if encoded is None:
            dropped += 1
            continue
        cut += bool(encoded.get("prompt_cut"))
        answers_cut += bool(encoded.get("answers_cut"))
        if with_group:
            encoded["group_id"] = ids.setdefault(prompt_key(row), len(ids))
        kept.append(encoded)
    return EncodedSplit(rows=kept, given=len(rows), dropped=dropped, prompts_cut=cut, answers_cut=answers_cut)


def to_dataset(rows: list[dict[str, Any]]) -> Any:
    """A `datasets.Dataset` of tokenised rows (TRL reads them as they are)."""
    from datasets import Dataset

    return Dataset.from_list(rows)
