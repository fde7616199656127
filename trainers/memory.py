"""Peak-memory estimate for `--dry-run`: from the model's config alone, no weights loaded.

The model: weights (4-bit NF4 with double quantisation = 0.5 byte + 1/64 byte of 8-bit absmax per
parameter of the linear layers; embeddings and output head stay 16-bit), LoRA adapter with its
gradients and AdamW states, activations (chosen + rejected sequences; with gradient checkpointing
one saved hidden state per layer plus one layer recomputed), the 16-bit dequantised weight of the
widest layer, and a fixed runtime overhead (CUDA context and allocator slack on a GPU; the Python,
torch and transformers process on the CPU). Calibrated against benchmarks/bench_memory_estimate.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import TrainConfig, parse_size
from .errors import TrainerError

GiB = 2**30
GPU_RUNTIME_BYTES = int(0.6 * GiB)   # CUDA context + cuBLAS workspaces
GPU_SLACK = 1.10                     # caching-allocator fragmentation
CPU_RUNTIME_BYTES = int(0.62 * GiB)  # python + torch + transformers + trl + peft + datasets, imported


@dataclass
class ArchShape:
    vocab: int
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    tied: bool

    @classmethod
    def from_config(cls, c: dict[str, Any]) -> "ArchShape":
        c = c.get("text_config", c)
        try:
            hidden = int(c["hidden_size"])
            heads = int(c["num_attention_heads"])
            return cls(vocab=int(c["vocab_size"]), hidden=hidden,
                       intermediate=int(c.get("intermediate_size") or 4 * hidden),
                       layers=int(c["num_hidden_layers"]), heads=heads,
                       kv_heads=int(c.get("num_key_value_heads") or heads),
                       head_dim=int(c.get("head_dim") or hidden // heads),
                       tied=bool(c.get("tie_word_embeddings", False)))
        except (KeyError, TypeError, ValueError) as exc:
            raise TrainerError(f"cannot estimate memory: the model config lacks {exc}") from None

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each linear layer of one decoder block, Llama naming."""
        h, i, q, kv = self.hidden, self.intermediate, self.heads * self.head_dim, self.kv_heads * self.head_dim
        return {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
                "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}

    @property
    def linear_params(self) -> int:
        return self.layers * sum(a * b for a, b in self.linear_shapes().values())

    @property
    def total_params(self) -> int:
        heads = 0 if self.tied else self.vocab * self.hidden
        return self.linear_params + self.vocab * self.hidden + heads + self.layers * 2 * self.hidden


def read_model_config(model: str) -> dict[str, Any]:
    path = Path(model).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        return json.loads((path / "config.json").read_text())
    from .modeling import resolve_model_source  # a .gguf file or a hub id: let transformers read it

    source = resolve_model_source(model)
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source.path, **source.kwargs()).to_dict()
    except OSError as exc:
        raise TrainerError(f"cannot read the config of {model}: {str(exc).splitlines()[0]}") from None


def estimate(cfg: TrainConfig, shape: ArchShape, device: str = "gpu", checkpoint_bytes: int = 0) -> dict[str, int]:
    """Bytes by component, and 'total'.

    On the CPU the process also keeps the memory-mapped checkpoint it loaded (`checkpoint_bytes`)."""
    m, t, d = cfg.model, cfg.training, cfg.data
    half = 2 if t.bf16 or device == "gpu" else 4
    linear = shape.linear_params
    other = shape.total_params - linear
    if m.load_in_4bit:
        weights = linear // 2 + linear // 64 + other * 2  # NF4 + 8-bit absmax (double quant); rest in 16-bit
    else:
        weights = shape.total_params * half
    if cfg.kind == "reward":
        weights += shape.hidden * half
    shapes = shape.linear_shapes()
    targets = list(shapes) if m.lora_target_modules == "all-linear" else \
        [n.strip() for n in m.lora_target_modules.split(",") if n.strip() in shapes]
    lora_params = shape.layers * sum(m.lora_r * (shapes[n][0] + shapes[n][1]) for n in targets)
    if cfg.kind == "reward":
        lora_params += shape.hidden  # the score head, trained in full
    param_bytes = 2 if m.load_in_4bit else 4  # TRL keeps QLoRA adapters in bf16, LoRA over 16-bit in fp32
    optim = t.optim if t.optim != "auto" else ("paged_adamw_8bit" if device == "gpu" else "adamw_torch")
    state_bytes = 2 if "8bit" in optim else 2 * param_bytes
    adapter = lora_params * (param_bytes * 2 + state_bytes)  # weights + grads + two moments

    tokens = 2 * t.batch_size * d.max_length  # chosen and rejected of every pair
    act_dtype = 2 if t.bf16 else 4
    per_layer = tokens * (14 * shape.hidden + 4 * shape.intermediate) * act_dtype
    if t.gradient_checkpointing:
        activations = shape.layers * tokens * shape.hidden * act_dtype + per_layer
    else:
        activations = shape.layers * per_layer
    # Logits: DPO's fused head works in tiles (4096 tokens x 4096 vocab, fp32) plus per-token log-probs;
    # the reward head has one output.
    logits = (4096 * 4096 * 4 + tokens * 16) if cfg.kind == "dpo" else tokens * 8
    widest = max(a * b for a, b in shapes.values())
    dequant = 2 * widest * 2 if m.load_in_4bit else 0
    parts = {"weights": weights, "adapter_and_optimizer": adapter, "activations": activations,
             "logits": logits, "dequant_buffers": dequant}
    subtotal = sum(parts.values())
    if device == "gpu":
        parts["runtime"] = GPU_RUNTIME_BYTES + int(subtotal * (GPU_SLACK - 1))
    else:
        parts["runtime"] = CPU_RUNTIME_BYTES
        parts["checkpoint_mapping"] = checkpoint_bytes
    parts["total"] = sum(parts.values())
    return parts


def detect_gpu_memory() -> tuple[int | None, str | None]:
    """(bytes, name) of GPU 0, or (None, None) without one; imports torch only if it is installed."""
    try:
        import torch
    except ImportError:
        return None, None
    if not torch.cuda.is_available():
        return None, None
    props = torch.cuda.get_device_properties(0)
    return int(props.total_memory), props.name


def fmt(n: int) -> str:
    return f"{n / GiB:.2f} GiB" if n >= GiB // 10 else f"{n / 2**20:.1f} MiB"


def dry_run_report(cfg: TrainConfig) -> tuple[list[str], bool | None]:
    """Lines to print, and whether it fits (None: no GPU to check against)."""
    shape = ArchShape.from_config(read_model_config(cfg.model.model))
    parts = estimate(cfg, shape, "gpu")
    if cfg.training.gpu_memory:
        available, name = parse_size(cfg.training.gpu_memory), f"--gpu-memory {cfg.training.gpu_memory}"
    else:
        available, name = detect_gpu_memory()
    t, m = cfg.training, cfg.model
    lines = [
        f"model: {cfg.model.model} ({shape.total_params / 1e9:.2f}B parameters, {shape.layers} layers, "
        f"hidden {shape.hidden}, vocab {shape.vocab})",
        f"setup: train {cfg.kind}, {'4-bit NF4 QLoRA' if m.load_in_4bit else '16-bit LoRA'}, r={m.lora_r}, "
        f"max length {cfg.data.max_length}, batch {t.batch_size} x accumulation {t.grad_accum}, "
        f"gradient checkpointing {'on' if t.gradient_checkpointing else 'off'}",
    ]
    for key, value in parts.items():
        if key != "total":
            lines.append(f"  {key.replace('_', ' '):<24}{fmt(value):>12}")
    lines.append(f"estimated peak GPU memory: {fmt(parts['total'])}")
    fits = None
    if available is None:
        lines.append("no GPU found; name one with --gpu-memory 24GB to check the fit")
    else:
        fits = parts["total"] <= available
        verdict = "fits" if fits else "does NOT fit"
        lines.append(f"{verdict} in {fmt(available)} ({name})")
        if not fits:
            lines.append(f"try --max-length {max(64, cfg.data.max_length // 2)}, --batch-size 1 --grad-accum "
                         f"{t.batch_size * t.grad_accum}" + (", --4bit" if not m.load_in_4bit else ""))
    return lines, fits
