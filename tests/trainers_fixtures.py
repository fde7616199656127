"""Fixtures for the trainer tests: a tiny Llama-architecture model and tokenizer built offline.

Import the fixtures into a test module with `from trainers_fixtures import *  # noqa: F401,F403`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)

_WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "seven",
    "wizards",
    "quietly",
    "judge",
    "boxing",
    "matches",
    "please",
    "explain",
    "why",
    "water",
    "boils",
    "at",
    "lower",
    "temperature",
    "on",
    "high",
    "mountains",
    "because",
    "air",
    "pressure",
    "drops",
    "so",
    "molecules",
    "escape",
    "more",
    "easily",
    "answer",
    "briefly",
    "and",
    "politely",
    "thank",
    "you",
    "very",
    "much",
    "python",
    "code",
    "list",
    "sort",
    "reverse",
    "function",
    "return",
    "value",
    "error",
    "message",
    "file",
    "path",
    "data",
    "model",
    "train",
]

TOPICS = [
    "water",
    "mountains",
    "python",
    "fox",
    "wizards",
    "boxing",
    "pressure",
    "files",
    "errors",
    "data",
    "models",
    "lists",
    "functions",
    "dogs",
    "paths",
    "values",
    "messages",
    "training",
    "sorting",
    "air",
]


def sample_texts(n: int = 400, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(5, 20))) for _ in range(n)]


def build_tiny_model(
    directory: Path, vocab_size: int = 512, hidden: int = 64, layers: int = 2, initializer_range: float = 0.02
) -> Path:
    """Train a BPE tokenizer on sample text and save a random tiny LlamaForCausalLM beside it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "<|user|>", "<|assistant|>", "<|system|>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(sample_texts() + TOPICS, trainer=trainer)
    # No pad token on purpose: the loading code must fix it, as for Llama tokenizers.
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    fast.chat_template = CHAT_TEMPLATE
    directory.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(directory)

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=256,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        tie_word_embeddings=False,
        initializer_range=initializer_range,
    )
    LlamaForCausalLM(config).save_pretrained(directory)
    return directory


def preference_rows(n_prompts: int = 20, pairs_per_prompt: int = 3, seed: int = 0, chat: bool = False) -> list[dict]:
    """TRL preference rows: several pairs per prompt, as a ranking of K answers yields."""
    rng = random.Random(seed)
    rows = []
    for p in range(n_prompts):
        topic = TOPICS[p % len(TOPICS)]
        prompt = f"please explain {topic} {p} briefly"
        for k in range(pairs_per_prompt):
            good = f"the answer about {topic} is " + " ".join(rng.choice(_WORDS) for _ in range(6))
            bad = "error error " + " ".join(rng.choice(_WORDS) for _ in range(4))
            row = {
                "prompt": prompt,
                "chosen": good,
                "rejected": bad,
                "margin": float(k % 2),
                "record_id": p,
                "annotator": "ann",
            }
            if chat:
                row["prompt"] = [{"role": "user", "content": prompt}]
                row["chosen"] = [{"role": "assistant", "content": good}]
                row["rejected"] = [{"role": "assistant", "content": bad}]
            rows.append(row)
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def peaked_tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny model with larger random weights: peaked next-token distributions that a few RL steps can move
    (the default 0.02 init gives near-uniform ones that no toy reward can shift in a handful of steps)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama-peaked"), initializer_range=0.2)


@pytest.fixture()
def pref_jsonl(tmp_path) -> Path:
    return write_jsonl(tmp_path / "prefs.jsonl", preference_rows())


@pytest.fixture()
def chat_pref_jsonl(tmp_path) -> Path:
    return write_jsonl(tmp_path / "chat_prefs.jsonl", preference_rows(chat=True))
