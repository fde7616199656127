"""Tokenizer and model loading, quantisation, LoRA, merging.

Every `--model` may be a local Hugging Face folder, a `.gguf` file (converted once into a cached
Hugging Face folder), a trained adapter folder (its base read from `adapter_config.json`), or a hub
id where the machine is online. Imported only by the commands that need torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .config import ModelArgs, required
from .errors import TrainerError

if TYPE_CHECKING:
    from peft import LoraConfig
    from transformers import BitsAndBytesConfig

# transformers, peft and bitsandbytes objects are typed loosely upstream; ours pass them on as Any.
Model = Any
Tokenizer = Any

_HEAD_NAMES = {"score", "lm_head", "classifier", "output"}


MODEL_CACHE_ENV_VAR = "RLHF_TUI_MODEL_CACHE"


@dataclass
class ModelSource:
    """Where from_pretrained should look (a folder or hub id), and the adapter to apply on top, if any."""

    path: str
    adapter: str | None = None  # a peft adapter folder applied over `path`
    adapter_task: str | None = None  # the adapter's peft task type: SEQ_CLS (reward) or CAUSAL_LM (policy)

    @property
    def tokenizer_path(self) -> str:
        """Training saves the tokenizer (with its pad-token fix) beside the adapter: prefer that one."""
        if self.adapter and (Path(self.adapter) / "tokenizer_config.json").is_file():
            return self.adapter
        return self.path


def model_cache_dir() -> Path:
    """Converted models live here: $RLHF_TUI_MODEL_CACHE, else ~/.cache/rlhf-tui/models."""
    env = os.environ.get(MODEL_CACHE_ENV_VAR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rlhf-tui" / "models"


def _gguf_cache_folder(path: Path) -> Path:
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    return model_cache_dir() / f"{path.stem}-{key}"


def convert_gguf(path: str | Path, target: str | Path | None = None) -> Path:
    """A .gguf file as a plain Hugging Face folder (dequantised weights, tokenizer), converted once.

    The saved config keeps no GGUF `quantization_config`: with one, transformers refuses to save the
    model and training refuses to load it."""
    path = Path(path).expanduser()
    try:
        import gguf  # noqa: F401
    except ImportError:
        raise TrainerError("reading a .gguf model needs the gguf package: pip install gguf") from None
    target = Path(target).expanduser() if target else _gguf_cache_folder(path)
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    except (OSError, ValueError, KeyError) as exc:
        raise TrainerError(f"cannot convert {path}: {str(exc).splitlines()[0]}") from None
    # The weights are already dequantised in memory; drop the GGUF marker so the folder is a plain model.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None  # type: ignore[assignment]  # set by from_pretrained, undeclared on PreTrainedModel
    model.config.name_or_path = str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "rlhf_tui_source.json").write_text(json.dumps({"converted_from": str(path.resolve())}) + "\n")
        if target.exists():
            shutil.rmtree(target)
        staging.chmod(0o755)  # mkdtemp makes it private; the finished folder is an ordinary one
        staging.rename(target)  # a half-written folder is never mistaken for a finished one
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _adapter_base(folder: Path) -> str:
    """The base model of an adapter: adapter_config.json, or the --model its training run recorded."""
    config = json.loads((folder / "adapter_config.json").read_text())
    base = config.get("base_model_name_or_path")
    if base and (Path(base).expanduser().exists() or not _looks_like_path(base)):
        return str(base)
    recorded = folder / "train_config.yaml"
    if recorded.is_file():
        import yaml

        model = (yaml.safe_load(recorded.read_text()) or {}).get("model", {}).get("model")
        if model:
            return str(model)
    if not base:
        raise TrainerError(f"{folder}/adapter_config.json names no base model")
    raise TrainerError(f"the base model of {folder} is missing: {base}")


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or model.lower().endswith(".gguf") or model.count("/") > 1


def resolve_model_source(model: str) -> ModelSource:
    """A local folder, a .gguf file (converted once), an adapter folder, or (not a path) a hub id."""
    path = Path(model).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        return ModelSource(str(convert_gguf(path)))
    if path.is_dir():
        if (path / "adapter_config.json").is_file():
            base = resolve_model_source(_adapter_base(path))
            if base.adapter:
                raise TrainerError(f"the base of adapter {path} is itself an adapter: merge it first")
            task = json.loads((path / "adapter_config.json").read_text()).get("task_type")
            return ModelSource(base.path, adapter=str(path), adapter_task=task)
        if not (path / "config.json").is_file():
            raise TrainerError(f"{path} has no config.json (nor adapter_config.json): not a model folder")
        return ModelSource(str(path))
    if _looks_like_path(model):
        raise TrainerError(f"model not found: {model}")
    return ModelSource(model)  # a hub id: works where the machine is online


def load_tokenizer(source: ModelSource, trust_remote_code: bool = False) -> Tokenizer:
    """The tokenizer, with a pad token (Llama tokenizers have none: use eos, never a new token)."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(source.tokenizer_path, trust_remote_code=trust_remote_code)
    except OSError as exc:
        raise TrainerError(
            f"cannot load the tokenizer of {source.tokenizer_path}: {str(exc).splitlines()[0]}"
        ) from None
    if tok.pad_token is None:
        if tok.eos_token is None:
            raise TrainerError(f"the tokenizer of {source.tokenizer_path} has neither a pad nor an eos token")
        tok.pad_token = tok.eos_token
    return tok


def compute_dtype(bf16: bool) -> torch.dtype:
    return torch.bfloat16 if bf16 else torch.float32


def quantization_config(bf16: bool) -> BitsAndBytesConfig:
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype(bf16),
        bnb_4bit_quant_storage=torch.uint8,
    )


def device_map() -> dict[str, int] | None:
    """One whole model per process: this process's GPU under accelerate, the CPU otherwise."""
    if torch.cuda.is_available():
        from accelerate import PartialState

        return {"": PartialState().local_process_index}
    return None


def keep_4bit_weights_as_loaded(model: Model) -> None:
    """Turn off bitsandbytes' repacking of 4-bit weights for its AVX512-BF16 CPU kernel.

    bnb repacks a Linear4bit on its first eval-mode forward (rounding the block scales to bf16) and
    undoes it, lossily, whenever the state dict is read: saving a checkpoint or the adapter after an
    evaluation left the frozen base different from the checkpoint it came from, so a trained model and
    the same adapter reloaded gave different rewards. GPUs never take this path."""
    import bitsandbytes as bnb

    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False


def load_model(args: ModelArgs, kind: str, bf16: bool, quantize: bool | None = None, on_cpu: bool = False) -> Model:
    """The model for `kind` ('reward': one-output sequence classifier; 'dpo': causal LM).

    When `args.model` is an adapter folder its base is loaded and the adapter applied: merged into the
    weights over a 16-bit base, kept as a peft model over a 4-bit one (never merge into 4-bit weights)."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    name = required(args.model, "--model")
    source = resolve_model_source(name)
    quantize = args.load_in_4bit if quantize is None else quantize
    kwargs: dict[str, Any] = dict(
        dtype=compute_dtype(bf16),
        trust_remote_code=args.trust_remote_code,
        device_map=None if on_cpu else device_map(),
    )
    if quantize:
        kwargs["quantization_config"] = quantization_config(bf16)
    model: Model
    try:
        if kind == "reward":
            from trl.trainer.reward_trainer import suppress_seqcls_warning

            with suppress_seqcls_warning():
                model = AutoModelForSequenceClassification.from_pretrained(source.path, num_labels=1, **kwargs)
        else:
            model = AutoModelForCausalLM.from_pretrained(source.path, **kwargs)
    except (OSError, ValueError) as exc:
        raise TrainerError(f"cannot load model {name}: {str(exc).splitlines()[0]}") from None
    if quantize:
        keep_4bit_weights_as_loaded(model)
    if source.adapter:
        model = _apply_adapter(model, source.adapter, source.adapter_task, kind, quantized=bool(quantize), bf16=bf16)
    return model


def _adapters_in_bf16(model: Model) -> None:
    """TRL trains QLoRA adapters (and the saved head) in bf16; compute with them the same way."""
    for name, param in model.named_parameters():
        if "lora_" in name or "modules_to_save" in name:
            param.data = param.data.to(torch.bfloat16)


def _apply_adapter(
    model: Model, adapter: str, adapter_task: str | None, kind: str, quantized: bool, bf16: bool
) -> Model:
    from peft import PeftModel

    if adapter_task == "SEQ_CLS" and kind != "reward":
        raise TrainerError(f"{adapter} is a reward-model adapter; it cannot generate text")
    if adapter_task == "CAUSAL_LM" and kind == "reward" and quantized:
        raise TrainerError(f"{adapter} is a policy adapter; a reward model on it needs --no-4bit")
    try:
        model = PeftModel.from_pretrained(model, adapter)
    except (OSError, ValueError, RuntimeError) as exc:
        raise TrainerError(f"cannot apply adapter {adapter}: {str(exc).splitlines()[0]}") from None
    if quantized:
        if bf16:
            _adapters_in_bf16(model)
        return model
    return model.merge_and_unload()


def load_for_inference(
    model: str, kind: str, load_in_4bit: bool | None = None, bf16: bool | None = None, trust_remote_code: bool = False
) -> tuple[Model, Tokenizer]:
    """(model, tokenizer) ready to generate ('dpo'/'policy') or score ('reward'), in eval mode.

    Defaults: on a GPU a 4-bit base computing in bf16 (as trained); on the CPU a float32 base, where
    bnb's 4-bit kernels and bf16 matmuls are slower than plain float32 for small models."""
    on_gpu = torch.cuda.is_available()
    load_in_4bit = on_gpu if load_in_4bit is None else load_in_4bit
    bf16 = on_gpu if bf16 is None else bf16
    kind = "reward" if kind == "reward" else "dpo"
    source = resolve_model_source(model)
    tokenizer = load_tokenizer(source, trust_remote_code)
    loaded = load_model(
        ModelArgs(model=model, load_in_4bit=load_in_4bit, trust_remote_code=trust_remote_code),
        kind,
        bf16,
        quantize=load_in_4bit,
    )
    loaded.config.pad_token_id = tokenizer.pad_token_id
    if kind == "dpo" and getattr(loaded, "generation_config", None) is not None:
        loaded.generation_config.pad_token_id = tokenizer.pad_token_id
    loaded.eval()
    return loaded, tokenizer


def lora_target_modules(model: Model, spec: str) -> list[str]:
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


def lora_config(model: Model, args: ModelArgs, kind: str) -> LoraConfig:
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


def load_trained(
    output_dir: str | Path, base_model: str, kind: str, load_in_4bit: bool = True, bf16: bool = True
) -> tuple[Model, Tokenizer]:
    """The base with the saved adapter (and reward head) applied as a peft model, for scoring or generation."""
    from peft import PeftModel

    base = load_model(ModelArgs(model=base_model, load_in_4bit=load_in_4bit), kind, bf16)
    tok = load_tokenizer(ModelSource(str(output_dir)))
    base.config.pad_token_id = tok.pad_token_id
    model = PeftModel.from_pretrained(base, str(output_dir))
    if load_in_4bit and bf16:
        _adapters_in_bf16(model)
    model.eval()
    return model, tok


def merge_and_save(output_dir: Path, base_model: str, kind: str, trust_remote_code: bool = False) -> Path:
    """Reload the base in 16-bit (never merge into 4-bit weights), merge the adapter, save OUTPUT/merged."""
    from peft import PeftModel

    target = output_dir / "merged"
    base = load_model(
        ModelArgs(model=base_model, load_in_4bit=False, trust_remote_code=trust_remote_code),
        kind,
        bf16=True,
        quantize=False,
        on_cpu=True,
    )
    tok = load_tokenizer(ModelSource(str(output_dir)))
    base.config.pad_token_id = tok.pad_token_id
    merged = PeftModel.from_pretrained(base, str(output_dir)).merge_and_unload()
    merged.save_pretrained(target)
    tok.save_pretrained(target)
    return target
