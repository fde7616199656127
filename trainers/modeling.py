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
        if model and (Path(model).expanduser() / "adapter_config.json").is_file():
            return _adapter_base(Path(model).expanduser())  # the run continued that adapter: same base
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


def load_tokenizer(source: ModelSource, trust_remote_code: bool = False, chat_template: str | None = None) -> Tokenizer:
    """The tokenizer, with a pad token (Llama tokenizers have none: use eos, never a new token).

    `chat_template`: a Jinja file that replaces (or supplies) the tokenizer's chat template."""
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
    if chat_template:
        path = Path(chat_template).expanduser()
        try:
            tok.chat_template = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TrainerError(f"cannot read the chat template {path}: {exc}") from None
    return tok


def compute_dtype(bf16: bool) -> torch.dtype:
    return torch.bfloat16 if bf16 else torch.float32


def quantization_config(bf16: bool) -> BitsAndBytesConfig:
    """NF4 with double quantisation; the packed weights stored in the compute dtype, as FSDP needs.

    FSDP flattens every parameter of a unit into one buffer of one dtype: with the 4-bit weights in
    uint8 beside bf16 norms and adapters, FSDP-QLoRA under `accelerate launch` fails. The bytes are the same."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype(bf16),
        bnb_4bit_quant_storage=compute_dtype(bf16),
    )


def under_fsdp() -> bool:
    """`accelerate launch` with an FSDP config sets this for every process."""
    return os.environ.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true")


def device_map() -> dict[str, int] | None:
    """One whole model per process: this process's GPU under accelerate, the CPU otherwise.

    Under FSDP no device map: FSDP shards the model over the processes and places the shards itself."""
    if under_fsdp():
        return None
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


def load_model(
    args: ModelArgs,
    kind: str,
    bf16: bool,
    quantize: bool | None = None,
    on_cpu: bool = False,
    trainable: bool = False,
) -> Model:
    """The model for `kind` ('reward': one-output sequence classifier; 'dpo' and other policies: causal LM).

    When `args.model` is an adapter folder its base is loaded and the adapter applied. For training
    (`trainable`) the adapter itself is trained further: see `continue_adapter`. Otherwise it is merged
    into the weights over a 16-bit base, and kept as a peft model over a 4-bit one (never merge into
    4-bit weights)."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    from .kinds import KINDS

    name = required(args.model, "--model")
    source = resolve_model_source(name)
    if quantize is None:
        from .precision import resolve_precision

        quantize = resolve_precision(bf16 if args.load_in_4bit is None else None, args.load_in_4bit).load_in_4bit
    if trainable and source.adapter:  # refuse before loading any weight
        check_continuable(source, kind)
    kwargs: dict[str, Any] = dict(
        dtype=compute_dtype(bf16),
        trust_remote_code=args.trust_remote_code,
        device_map=None if on_cpu else device_map(),
        attn_implementation=args.attn_implementation,
    )
    if quantize:
        kwargs["quantization_config"] = quantization_config(bf16)
    model: Model
    sequence_classifier = kind in KINDS and KINDS[kind].head == "sequence-classification"
    try:
        if sequence_classifier:
            from trl.trainer.reward_trainer import suppress_seqcls_warning

            with suppress_seqcls_warning():
                model = AutoModelForSequenceClassification.from_pretrained(source.path, num_labels=1, **kwargs)
        else:
            model = AutoModelForCausalLM.from_pretrained(source.path, **kwargs)
    except (OSError, ValueError, ImportError) as exc:
        raise TrainerError(f"cannot load model {name}: {str(exc).splitlines()[0]}") from None
    if quantize:
        keep_4bit_weights_as_loaded(model)
    if source.adapter and trainable:
        return continue_adapter(model, source)
    if source.adapter:
        model = _apply_adapter(model, source.adapter, source.adapter_task, kind, quantized=bool(quantize), bf16=bf16)
    return model


def check_continuable(source: ModelSource, kind: str) -> None:
    """A one-line refusal when a run of `kind` cannot continue the adapter of `source`."""
    from .kinds import kind_of

    entry = kind_of(kind)
    if source.adapter_task not in entry.continues_from:
        raise TrainerError(entry.refuse_adapter(str(source.adapter), source.adapter_task))


def continue_adapter(model: Model, source: ModelSource) -> Model:
    """The adapter of `source` loaded as trainable over `model`: the run trains it further.

    Chosen over stacking a new adapter on top: the output stays one adapter over the same base, which
    generate, eval, score and --merge load as they load any other (a stack would need every earlier
    adapter beside it, in order, and cannot be merged into a 4-bit base); its LoRA settings (r, alpha,
    targets, dropout) are the adapter's own, so --lora-* do not apply. TRL gets no peft_config then (it
    refuses a peft model together with one). For DPO the reference becomes a frozen copy of the adapter
    (TRL's "ref" adapter): each round moves away from the policy it started from."""
    from peft import PeftModel

    try:
        return PeftModel.from_pretrained(model, str(source.adapter), is_trainable=True)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise TrainerError(f"cannot continue adapter {source.adapter}: {str(exc).splitlines()[0]}") from None


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
    """'all-linear' → the names of every linear layer but the output heads; else the comma list.

    On a peft model the layers it wrapped count under their own names, never its internals
    (base_layer, lora_A/lora_B and their adapter names, modules_to_save copies)."""
    if spec != "all-linear":
        return [s.strip() for s in spec.split(",") if s.strip()]
    import bitsandbytes as bnb

    names = set()
    for full_name, module in model.named_modules():
        if not isinstance(module, (torch.nn.Linear, bnb.nn.Linear4bit)):
            continue
        parts = full_name.split(".")
        if any(p.startswith("lora_") or p in ("modules_to_save", "original_module") for p in parts):
            continue
        if parts[-1] == "base_layer":
            parts = parts[:-1]
        if parts and parts[-1] not in _HEAD_NAMES:
            names.add(parts[-1])
    return sorted(names)


def lora_config(model: Model, args: ModelArgs, kind: str) -> LoraConfig:
    from peft import LoraConfig

    from .kinds import kind_of

    entry = kind_of(kind)
    return LoraConfig(
        r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        target_modules=lora_target_modules(model, args.lora_target_modules),
        task_type=entry.peft_task,
        modules_to_save=list(entry.modules_to_save) or None,
        bias="none",
    )


def keep_only_lora_dropout(model: Model) -> int:
    """Zero every dropout but the LoRA branches' (TRL's disable_dropout would zero those too).

    The base model's dropout stays off as TRL wants (the DPO reference pass and the policy must see
    the same base); `--lora-dropout` does what it says. Returns how many LoRA dropouts are active."""
    active = 0
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Dropout):
            if ".lora_dropout." in f".{name}.":
                active += module.p > 0
            else:
                module.p = 0.0
    return active


def load_trained(
    output_dir: str | Path, base_model: str, kind: str, load_in_4bit: bool = True, bf16: bool = True
) -> tuple[Model, Tokenizer]:
    """The base with the saved adapter (and reward head) applied as a peft model, for scoring or generation."""
    from peft import PeftModel

    base = load_model(ModelArgs(model=base_model, load_in_4bit=load_in_4bit), kind, bf16, quantize=load_in_4bit)
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
