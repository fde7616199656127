"""RLOO's rewards: the reward model from `train reward` as a callable, a length penalty, sample logging.

A callable, not the reward model itself, because TRL 1.16 scores a sequence-classification reward model
with the policy's view of the text: `prompt + completion` without special tokens, and (for a peft reward
model, which is not a `PreTrainedModel`) no tokenizer or pad id of its own. Ours scores exactly as
`train reward` trained and `score`/`eval` read: the reward model's own tokenizer, chat template, BOS/EOS,
the prompt cut from the left (`trainers.scoring.score_answers`). Imported only by `train rloo`: torch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .modeling import Model, Tokenizer
from .scoring import score_answers

RewardFunc = Callable[..., list[float]]
SAMPLES_PER_TABLE = 4


def completion_text(completion: Any) -> str:
    """TRL's completion: a string, or (chat prompts) a list with one assistant message."""
    if isinstance(completion, str):
        return completion
    return "".join(str(m["content"]) for m in completion)


def freeze(model: Model) -> Model:
    """Eval mode (no dropout) and no gradients: the reward model is a fixed judge."""
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model


def load_reward_model(spec: str, trust_remote_code: bool = False) -> tuple[Model, Tokenizer]:
    """The reward model once, frozen: 4-bit NF4 on a GPU (room for the policy and its KV cache), float32 on
    the CPU, where bnb's 4-bit kernels are slower than plain float32 for a model that only scores."""
    from .modeling import load_for_inference

    model, tokenizer = load_for_inference(spec, "reward", trust_remote_code=trust_remote_code)
    return freeze(model), tokenizer


def reward_model_reward(model: Model, tokenizer: Tokenizer, max_length: int, batch_size: int = 8) -> RewardFunc:
    """TRL's reward-function signature over `score_answers`: one score per (prompt, completion)."""

    def reward_model(prompts: Sequence[Any], completions: Sequence[Any], **_: Any) -> list[float]:
        pairs = [(p, completion_text(c)) for p, c in zip(prompts, completions)]
        return score_answers(model, tokenizer, pairs, batch_size=batch_size, max_length=max_length)

    return reward_model


def length_penalty_reward(coefficient: float) -> RewardFunc:
    """−c × completion tokens, added to the reward (TRL sums reward functions; logged on its own)."""

    def length_penalty(completion_ids: Sequence[Sequence[int]], **_: Any) -> list[float]:
        return [-coefficient * len(ids) for ids in completion_ids]

    return length_penalty


class SampleLog:
    """Every `every` steps, a few prompts with their completions and rewards appended to a JSONL file.

    Wraps the main reward function, which sees the prompts, the completions and its own scores."""

    def __init__(self, path: Path, every: int, count: int = SAMPLES_PER_TABLE) -> None:
        self.path, self.every, self.count = path, every, count
        self._written_step = -1

    def wrap(self, func: RewardFunc) -> RewardFunc:
        def logged(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
            rewards = func(prompts=prompts, completions=completions, **kwargs)
            state = kwargs.get("trainer_state")
            step = int(getattr(state, "global_step", 0))
            if step % self.every == 0 and step != self._written_step:
                self._written_step = step
                self.write(step, prompts, completions, rewards, kwargs.get("completion_ids"))
            return rewards

        logged.__name__ = getattr(func, "__name__", "reward")
        return logged

    def write(
        self,
        step: int,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        rewards: Sequence[float],
        completion_ids: Sequence[Sequence[int]] | None,
    ) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            for i in range(min(self.count, len(prompts))):
                row = {
                    "step": step,
                    "prompt": prompts[i],
                    "completion": completion_text(completions[i]),
                    "reward": float(rewards[i]),
                    "tokens": len(completion_ids[i]) if completion_ids is not None else None,
                }
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
