"""Tokenizer and model loading (local folder, .gguf file, hub id), quantisation, LoRA, merging.

Imported only by the training commands: it imports torch and transformers at module level.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .config import ModelArgs
from .errors import TrainerError

_HEAD_NAMES = {"score", "lm_head", "classifier", "output"}


@dataclass
class ModelSource:
    """Where from_pretrained should look: a folder or hub id, plus the GGUF file name inside it."""

    path: str
    gguf_file: str | None = None

    def kwargs(self) -> dict[str, Any]:
        return {"gguf_file": self.gguf_file} if self.gguf_file else {}


def resolve_model_source(model: str) -> ModelSource:
    """A local folder, a local .gguf file, or (when it does not look like a path) a hub id."""
    path = Path(model).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        try:
            import gguf  # noqa: F401
        except ImportError:
            raise TrainerError("reading a .gguf model needs the gguf package: pip install gguf") from None
        return ModelSource(str(path.parent), path.name)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise TrainerError(f"{path} has no config.json: not a Hugging Face model folder")
        return ModelSource(str(path))
    looks_like_path = model.startswith(("/", "./", "../", "~")) or model.lower().endswith(".gguf") or model.count("/") > 1
    if looks_like_path:
        raise TrainerError(f"model not found: {model}")
    return ModelSource(model)  # a hub id: works where the machine is online


def load_tokenizer(source: ModelSource, trust_remote_code: bool = False):
    """The tokenizer, with a pad token (Llama tokenizers have none: use eos, never a new token)."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(source.path, trust_remote_code=trust_remote_code, **source.kwargs())
    except OSError as exc:
        raise TrainerError(f"cannot load the tokenizer of {source.path}: {str(exc).splitlines()[0]}") from None
    if tok.pad_token is None:
        if tok.eos_token is None:
            raise TrainerError(f"the tokenizer of {source.path} has neither a pad nor an eos token")
        tok.pad_token = tok.eos_token
    return tok


def compute_dtype(bf16: bool) -> torch.dtype:
    return torch.bfloat16 if bf16 else torch.float32


def quantization_config(bf16: bool):
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype(bf16),
        bnb_4bit_quant_storage=torch.uint8,
    )


def device_map() -> Any:
    """One whole model per process: this process's GPU under accelerate, the CPU otherwise."""
    if torch.cuda.is_available():
        from accelerate import PartialState

        return {"": PartialState().local_process_index}
    return None


def load_model(args: ModelArgs, kind: str, bf16: bool, quantize: bool | None = None, on_cpu: bool = False):
    """The base for `kind` ('reward': one-output sequence classifier; 'dpo': causal LM)."""
    import logging

    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    source = resolve_model_source(args.model)
    quantize = args.load_in_4bit if quantize is None else quantize
    kwargs: dict[str, Any] = dict(dtype=compute_dtype(bf16), trust_remote_code=args.trust_remote_code,
                                  device_map=None if on_cpu else device_map(), **source.kwargs())
    if quantize:
        kwargs["quantization_config"] = quantization_config(bf16)
    if kind == "reward":
        cls = AutoModelForSequenceClassification
        kwargs["num_labels"] = 1
    else:
        cls = AutoModelForCausalLM
    try:
        if kind == "reward":
            from trl.trainer.reward_trainer import suppress_seqcls_warning

            with suppress_seqcls_warning():
                model = cls.from_pretrained(source.path, **kwargs)
        else:
            model = cls.from_pretrained(source.path, **kwargs)
    except OSError as exc:
        raise TrainerError(f"cannot load model {args.model}: {str(exc).splitlines()[0]}") from None
    except ValueError as exc:
        raise TrainerError(f"cannot load model {args.model}: {str(exc).splitlines()[0]}") from None
    logging.getLogger("transformers").setLevel(logging.ERROR)
    return model


def lora_target_modules(model, spec: str) -> list[str]:
    """'all-linear' → the names of every linear layer but the output heads; else the comma list."""
    if spec != "all-linear":
        return [s.strip() for s in spec.split(",") if s.strip()]
    import bitsandbytes as bnb

    names = set()
    for full_name, module in model.named_modules():
        if isinstance(module, (torch.nn.Linear, bnb.nn.Linear4bit)):
            leaf = full_name.rsplit(".", 1)[-1]
            if leaf not in _HEAD_NAMES:
                names.add(leaf)
    return sorted(names)


def lora_config(model, args: ModelArgs, kind: str):
    from peft import LoraConfig

    return LoraConfig(
        r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        target_modules=lora_target_modules(model, args.lora_target_modules),
        task_type="SEQ_CLS" if kind == "reward" else "CAUSAL_LM",
        # The reward head is new: train it fully and save it with the adapter.
        modules_to_save=["score"] if kind == "reward" else None,
        bias="none",
    )


def load_trained(output_dir: str | Path, base_model: str, kind: str, load_in_4bit: bool = True, bf16: bool = True):
    """The base with the saved adapter (and reward head) applied, for scoring or generation."""
    from peft import PeftModel

    base = load_model(ModelArgs(model=base_model, load_in_4bit=load_in_4bit), kind, bf16)
    tok = load_tokenizer(ModelSource(str(output_dir)))
    base.config.pad_token_id = tok.pad_token_id
    model = PeftModel.from_pretrained(base, str(output_dir))
    if load_in_4bit and bf16:
        # TRL trains QLoRA adapters (and the saved head) in bf16; compute with them the same way.
        for name, param in model.named_parameters():
            if "lora_" in name or "modules_to_save" in name:
                param.data = param.data.to(torch.bfloat16)
    model.eval()
    return model, tok


@torch.no_grad()
def reward_scores(model, tokenizer, texts: list[str], max_length: int = 1024) -> list[float]:
    """One scalar per text from a reward model."""
    scores = []
    for text in texts:
        enc = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_length)
        enc = {k: v.to(model.device) for k, v in enc.items()}
        scores.append(float(model(**enc).logits.float().squeeze()))
    return scores


def merge_and_save(output_dir: Path, base_model: str, kind: str, trust_remote_code: bool = False) -> Path:
    """Reload the base in 16-bit (never merge into 4-bit weights), merge the adapter, save OUTPUT/merged."""
    from peft import PeftModel

    target = output_dir / "merged"
    base = load_model(ModelArgs(model=base_model, load_in_4bit=False, trust_remote_code=trust_remote_code),
                      kind, bf16=True, quantize=False, on_cpu=True)
    tok = load_tokenizer(ModelSource(str(output_dir)))
    base.config.pad_token_id = tok.pad_token_id
    merged = PeftModel.from_pretrained(base, str(output_dir)).merge_and_unload()
    merged.save_pretrained(target)
    tok.save_pretrained(target)
    return target
