"""Sampling answers from a causal LM, batched: the next round of candidates, or eval's answers.

Imported only by `rlhf-tui generate` and `rlhf-tui eval`: it imports torch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .errors import TrainerError
from .formatting import has_chat_template, prompt_messages
from .modeling import Model, Tokenizer

if TYPE_CHECKING:
    from store import PreferenceStore

Prompt = Any  # a string, or a list of chat messages {role, content}
ProgressFn = Callable[[int], None]  # called with the number of prompts just finished


@dataclass
class GenerationSettings:
    """How answers are sampled."""

    max_new_tokens: int = 256
    temperature: float = 0.7  # 0: greedy decoding (one answer per prompt makes sense then)
    top_p: float = 0.95
    batch_size: int = 8  # prompts per forward pass; each brings its n samples
    seed: int = 0
    use_chat_template: bool = True  # when the tokenizer has one


def prompt_for_generation(tokenizer: Tokenizer, prompt: Prompt, use_chat_template: bool = True) -> str:
    """The text the model continues: the chat template with the assistant turn opened, for chat models
    (as training presents every prompt, `trainers.formatting.encode_prompt`)."""
    if use_chat_template and has_chat_template(tokenizer):
        return tokenizer.apply_chat_template(prompt_messages(prompt), tokenize=False, add_generation_prompt=True)
    if isinstance(prompt, str):
        return prompt
    return "\n\n".join(m["content"] for m in prompt_messages(prompt)) + "\n\n"


@torch.no_grad()
def sample_answers(
    model: Model,
    tokenizer: Tokenizer,
    prompts: Sequence[Prompt],
    n: int,
    settings: GenerationSettings,
    on_progress: ProgressFn | None = None,
) -> list[list[str]]:
    """`n` answers for every prompt, in prompt order. Prompts are batched by length (left padding)."""
    if n < 1:
        raise TrainerError("--n must be at least 1")
    texts = [prompt_for_generation(tokenizer, p, settings.use_chat_template) for p in prompts]
    templated = settings.use_chat_template and has_chat_template(tokenizer)
    lengths = [len(tokenizer(t, add_special_tokens=not templated)["input_ids"]) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    answers: list[list[str]] = [[] for _ in texts]
    greedy = settings.temperature <= 0
    torch.manual_seed(settings.seed)
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # decoder-only: new tokens must follow the prompt directly
    try:
        for start in range(0, len(order), settings.batch_size):
            chunk = order[start : start + settings.batch_size]
            enc = tokenizer(
                [texts[i] for i in chunk], return_tensors="pt", padding=True, add_special_tokens=not templated
            )
            enc = {k: v.to(model.device) for k, v in enc.items()}
            kwargs: dict[str, Any] = dict(
                max_new_tokens=settings.max_new_tokens, num_return_sequences=n, pad_token_id=tokenizer.pad_token_id
            )
            if greedy:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
                if n > 1:  # identical greedy answers are useless: beams give n different ones
                    kwargs.update(num_beams=n)
            else:
                kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p, top_k=None)
            out = model.generate(**enc, **kwargs)
            new_tokens = out[:, enc["input_ids"].shape[1] :]
            decoded = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            for j, i in enumerate(chunk):
                answers[i] = [text.strip() for text in decoded[j * n : (j + 1) * n]]
            if on_progress:
                on_progress(len(chunk))
    finally:
        tokenizer.padding_side = padding_side
    return answers


@dataclass
class PromptItem:
    """One prompt to answer: an id (the record's external id), the prompt, and where it came from."""

    id: str
    prompt: Prompt
    metadata: dict[str, Any]
    record_id: int | None = None  # the store record, when the prompt came from a dataset


def read_prompts_file(path: str | Path) -> list[PromptItem]:
    """JSONL ({"prompt": text or messages, "id"?, "metadata"?}) or plain text, one prompt per line."""
    path = Path(path)
    if not path.is_file():
        raise TrainerError(f"prompts file not found: {path}")
    items: list[PromptItem] = []
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson", ".json")
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        if not jsonl:
            items.append(PromptItem(id=f"{path.stem}-{n}", prompt=line.strip(), metadata={}))
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise TrainerError(f"{path} line {n} is not JSON") from None
        if not isinstance(row, dict) or not row.get("prompt"):
            raise TrainerError(f"{path} line {n} has no 'prompt'")
        items.append(
            PromptItem(
                id=str(row.get("id", f"{path.stem}-{n}")), prompt=row["prompt"], metadata=row.get("metadata") or {}
            )
        )
    if not items:
        raise TrainerError(f"no prompts in {path}")
    return items


def dataset_prompts(store: PreferenceStore, dataset: str, limit: int | None = None) -> list[PromptItem]:
    """The prompts of a store dataset, in import order (the store file or `rlhf-tui serve`)."""
    ids = store.record_ids(dataset)
    if limit:
        ids = ids[:limit]
    items = []
    for record in store.get_records(ids) if ids else []:
        prompt = record.prompt if isinstance(record.prompt, str) else prompt_messages(record.prompt)
        items.append(
            PromptItem(id=record.external_id, prompt=prompt, metadata=dict(record.metadata), record_id=record.id)
        )
    if not items:
        raise TrainerError(f"dataset '{dataset}' has no records")
    return items


def split_count(total: int, parts: int) -> list[int]:
    """`total` answers shared among `parts` models as evenly as possible, the first ones taking the rest."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def native_rows(
    items: Sequence[PromptItem],
    answers_by_model: Sequence[tuple[str, list[list[str]]]],
    round_tag: str,
    source_dataset: str | None,
    settings: GenerationSettings,
) -> list[dict]:
    """Native-format rows ({id, prompt, responses: [{text, source}], metadata}) for `store.import_file`."""
    rows = []
    for k, item in enumerate(items):
        responses = []
        for source, answers in answers_by_model:
            for text in answers[k]:
                responses.append({"text": text or "(the model wrote nothing)", "source": source})
        metadata = {
            **item.metadata,
            "round": round_tag,
            "source_id": item.id,
            "generation": {
                "temperature": settings.temperature,
                "top_p": settings.top_p,
                "max_new_tokens": settings.max_new_tokens,
                "seed": settings.seed,
            },
        }
        if source_dataset:
            metadata["source_dataset"] = source_dataset
        rows.append(
            {"id": f"{item.id}@{round_tag}", "prompt": item.prompt, "responses": responses, "metadata": metadata}
        )
    return rows
