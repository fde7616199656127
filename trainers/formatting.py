"""One prompt format for training, generation and scoring, and the length rule that keeps the answer.

A prompt is a plain string or a list of chat messages; an answer a string or a list of (assistant)
messages. When the tokenizer has a chat template, every prompt goes through it — a plain-string
prompt is a one-turn chat — in training exactly as `generate`, `eval` and `score` present it. Without
a template a plain-string prompt is the raw text followed by the answer and the eos token (as TRL
does); chat data then needs a template (`--chat-template FILE`).

Too long for `--max-length`: the prompt is cut from the left (its end, the question being answered,
stays), the answer is kept whole. When an answer alone leaves too little room for the prompt, DPO
cuts the answers' ends (as TRL's own truncation does) and a reward model drops the pair (its score
would judge half an answer); both are counted. Pure Python: it calls the tokenizer it is given, never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import TrainerError

Tokenizer = Any  # a transformers tokenizer

# A cut prompt keeps at least this many of its last tokens (or a quarter of --max-length, if less).
MIN_PROMPT_TOKENS = 16


def has_chat_template(tokenizer: Tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def prompt_messages(prompt: Any) -> list[dict[str, str]]:
    """A prompt as chat messages (a plain string is one user turn)."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [_message(m) for m in prompt]


def answer_messages(answer: Any) -> list[dict[str, str]]:
    """An answer as chat messages (a plain string is one assistant turn)."""
    if isinstance(answer, str):
        return [{"role": "assistant", "content": answer}]
    return [_message(m) for m in answer]


def _message(m: Any) -> dict[str, str]:
    if isinstance(m, dict):
        return {"role": str(m["role"]), "content": str(m["content"])}
    return {"role": str(m.role), "content": str(m.content)}


def is_chat(value: Any) -> bool:
    return not isinstance(value, str)


def no_template_error(source: str) -> TrainerError:
    return TrainerError(
        f"the data has chat messages but the tokenizer of {source} has no chat template: "
        "give one with --chat-template FILE (a Jinja file), or use plain-text prompts"
    )


def encode_prompt(tokenizer: Tokenizer, prompt: Any, source: str = "the model") -> list[int]:
    """The prompt's tokens as the model sees them before it answers (chat template, assistant turn opened)."""
    if has_chat_template(tokenizer):
        return _chat_ids(tokenizer, prompt_messages(prompt), add_generation_prompt=True)
    if is_chat(prompt):
        raise no_template_error(source)
    return list(tokenizer(prompt)["input_ids"])


def encode_exchange(tokenizer: Tokenizer, prompt: Any, answer: Any, source: str = "the model") -> tuple[list, list]:
    """(prompt ids, answer ids): their concatenation is the whole exchange, tokenised in one go.

    With a template the answer starts where the tokenised prompt and the whole chat diverge (as TRL's
    DPO trainer splits them); without one, the answer ends with the eos token."""
    if has_chat_template(tokenizer):
        prompt_ids = _chat_ids(tokenizer, prompt_messages(prompt), add_generation_prompt=True)
        full = _chat_ids(tokenizer, prompt_messages(prompt) + answer_messages(answer))
    else:
        if is_chat(prompt) or is_chat(answer):
            raise no_template_error(source)
        prompt_ids = list(tokenizer(prompt)["input_ids"])
        text = prompt + answer
        eos = tokenizer.eos_token
        if eos and not text.endswith(eos):
            text += eos
        full = list(tokenizer(text)["input_ids"])
    split = _common_prefix(prompt_ids, full)
    return prompt_ids[:split], full[split:]


def _chat_ids(tokenizer: Tokenizer, messages: list[dict[str, str]], add_generation_prompt: bool = False) -> list[int]:
    encoded = tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, add_generation_prompt=add_generation_prompt
    )
    return list(encoded["input_ids"])


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def min_prompt_tokens(max_length: int) -> int:
    return max(1, min(MIN_PROMPT_TOKENS, max_length // 4))


def cut_prompt(tokenizer: Tokenizer, prompt_ids: list[int], budget: int) -> list[int]:
    """The last `budget` tokens of the prompt, after its bos token when it starts with one."""
    if len(prompt_ids) <= budget:
        return prompt_ids
    head = prompt_ids[:1] if prompt_ids and prompt_ids[0] == getattr(tokenizer, "bos_token_id", None) else []
    tail = budget - len(head)
    return head + prompt_ids[len(prompt_ids) - tail :] if tail > 0 else prompt_ids[len(prompt_ids) - budget :]


@dataclass
class EncodedPair:
    """A preference pair in tokens, fitting --max-length; `prompt_cut` when the prompt lost its start,
    `answers_cut` when the answers lost their ends."""

    prompt_ids: list[int]
    chosen_ids: list[int]
    rejected_ids: list[int]
    prompt_cut: bool
    answers_cut: bool = False


def encode_pair(
    tokenizer: Tokenizer,
    prompt: Any,
    chosen: Any,
    rejected: Any,
    max_length: int,
    source: str = "the model",
    cut_answers: bool = False,
) -> EncodedPair | None:
    """The pair in tokens, its prompt cut from the left to fit. When an answer alone leaves too little
    room: with `cut_answers` the answers keep their starts, else None (the pair is dropped)."""
    prompt_ids, chosen_ids = encode_exchange(tokenizer, prompt, chosen, source)
    rejected_prompt, rejected_ids = encode_exchange(tokenizer, prompt, rejected, source)
    if rejected_prompt != prompt_ids:  # the split point differs: keep the shorter prompt, give the rest to the answer
        split = _common_prefix(prompt_ids, rejected_prompt)
        chosen_ids, rejected_ids = prompt_ids[split:] + chosen_ids, rejected_prompt[split:] + rejected_ids
        prompt_ids = prompt_ids[:split]
    budget = max_length - max(len(chosen_ids), len(rejected_ids))
    if budget >= len(prompt_ids):
        return EncodedPair(prompt_ids, chosen_ids, rejected_ids, prompt_cut=False)
    floor = min(len(prompt_ids), min_prompt_tokens(max_length))
    if budget >= floor:
        return EncodedPair(cut_prompt(tokenizer, prompt_ids, budget), chosen_ids, rejected_ids, prompt_cut=True)
    if not cut_answers:
        return None
    room = max_length - floor
    return EncodedPair(
        cut_prompt(tokenizer, prompt_ids, floor),
        chosen_ids[:room],
        rejected_ids[:room],
        prompt_cut=floor < len(prompt_ids),
        answers_cut=True,
    )


def scoring_ids(tokenizer: Tokenizer, prompt: Any, answer: Any, max_length: int) -> list[int]:
    """The tokens a reward model reads for (prompt, answer), as in training, within `max_length`.

    The prompt is cut from the left; an answer too long even then keeps its start (a score is always given)."""
    prompt_ids, answer_ids = encode_exchange(tokenizer, prompt, answer)
    budget = max_length - len(answer_ids)
    floor = min(len(prompt_ids), min_prompt_tokens(max_length))
    if budget >= floor:
        return cut_prompt(tokenizer, prompt_ids, budget) + answer_ids
    return cut_prompt(tokenizer, prompt_ids, floor) + answer_ids[: max_length - floor]
