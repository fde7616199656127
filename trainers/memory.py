"""Peak-memory estimate for `--dry-run`: from the model's config alone, no weights loaded.

Counted from first principles, the same formula for the GPU and the CPU (only the kernels differ):

- weights: 4-bit NF4 with double quantisation = 0.5 byte per parameter of the linear layers, plus one
  8-bit absmax per block of 64 and one fp32 second-level absmax per 256 blocks, plus a quant state per
  layer; embeddings, output head and norms stay 16-bit. On the CPU the process also keeps the
  memory-mapped checkpoint it loaded; weights kept in the checkpoint's dtype are views of that mapping
  (zero-copy), so they are counted once, as the mapping.
- LoRA adapter (+ the reward head): weights, gradients and AdamW's two moments (8-bit states for the
  paged 8-bit optimiser).
- activations: the chosen and rejected sequence of every pair, max length tokens each. With gradient
  checkpointing (non-reentrant) each decoder layer keeps its input; without, every layer keeps all its
  saved tensors (RMSNorm's fp32 copies, q/k/v and the rotary copies, the attention output, the MLP's
  gate/up/act/product, LoRA dropout outputs and masks). On the CPU, attention runs SDPA's math kernel
  (a padding mask selects it), which keeps each sequence's heads x length x length scores in float32, and the
  backward through a layer holds the gradients of its saved tensors beside them.
- the backward working set at the head of the backward pass: DPO's fused LM head (TRL) never builds the
  (tokens x vocab) logits; it works in tiles of at most 4096 tokens x 32768 vocabulary entries. With
  Triton (GPU) a tile is one 16-bit buffer plus an fp32 gradient of the hidden states; the torch fallback
  (CPU) keeps about eight fp32 copies of the tile while it forms the logits gradient. The reference pass
  (adapter disabled, no grad) needs fewer of them and is over before the backward, so the policy's
  backward is the peak either way. The reward head has one output. This working set and the recomputed
  layer of gradient checkpointing are not alive at the same time: the larger of the two counts.
- the 16-bit dequantised weight of the widest layer (4-bit), and a runtime overhead: CUDA context and
  caching-allocator slack on a GPU; on the CPU the imported Python, torch, transformers, trl, peft and
  datasets (measured: about 0.5 GiB).
Checked against benchmarks/bench_memory_estimate.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import TrainConfig, parse_size, required
from .errors import TrainerError
from .kinds import kind_of
from .precision import Device, Precision, resolve_precision

GiB = 2**30
GPU_RUNTIME_BYTES = int(0.6 * GiB)  # CUDA context + cuBLAS workspaces
GPU_SLACK = 1.10  # caching-allocator fragmentation
CPU_RUNTIME_BYTES = int(0.52 * GiB)  # python + torch + transformers + trl + peft + datasets, imported
# TRL's fused LM head (trl/kernels/chunked_logprob.py): tiles of tokens x vocabulary entries
HEAD_TILE_TOKENS = 4096
HEAD_TILE_VOCAB = 32768
CPU_HEAD_TILE_FP32_COPIES = 8  # the torch fallback of the backward tile: y, z, log p, p, grad and temporaries
SEQUENCES_PER_ROW = {"reward": 2, "dpo": 2, "kto": 2, "sft": 1, "rloo": 1}
_DTYPE_BYTES = {"float32": 4, "float": 4, "bfloat16": 2, "float16": 2, "half": 2}


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
    dtype_bytes: int = 2  # of the stored checkpoint

    @classmethod
    def from_config(cls, c: dict[str, Any]) -> ArchShape:
        c = c.get("text_config", c)
        try:
            hidden = int(c["hidden_size"])
            heads = int(c["num_attention_heads"])
            return cls(
                vocab=int(c["vocab_size"]),
                hidden=hidden,
                intermediate=int(c.get("intermediate_size") or 4 * hidden),
                layers=int(c["num_hidden_layers"]),
                heads=heads,
                kv_heads=int(c.get("num_key_value_heads") or heads),
                head_dim=int(c.get("head_dim") or hidden // heads),
                tied=bool(c.get("tie_word_embeddings", False)),
                dtype_bytes=_DTYPE_BYTES.get(
                    str(c.get("dtype") or c.get("torch_dtype") or "bfloat16").replace("torch.", ""), 2
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TrainerError(f"cannot estimate memory: the model config lacks {exc}") from None

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each linear layer of one decoder block, Llama naming."""
        h, i, q, kv = self.hidden, self.intermediate, self.heads * self.head_dim, self.kv_heads * self.head_dim
        return {
            "q_proj": (h, q),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (q, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    @property
    def linear_params(self) -> int:
        return self.layers * sum(a * b for a, b in self.linear_shapes().values())

    @property
    def total_params(self) -> int:
        heads = 0 if self.tied else self.vocab * self.hidden
        return self.linear_params + self.vocab * self.hidden + heads + self.layers * 2 * self.hidden


def _reward_base(spec: str) -> str:
    """The folder whose config.json describes a reward model: a merged model, or an adapter's base."""
    path = Path(spec).expanduser()
    if (path / "adapter_config.json").is_file():
        from .modeling import resolve_model_source

        return resolve_model_source(spec).path
    return spec


def read_model_config(model: str) -> dict[str, Any]:
    path = Path(model).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        return json.loads((path / "config.json").read_text())
    from .modeling import resolve_model_source  # a .gguf file or a hub id: let transformers read it

    source = resolve_model_source(model)
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source.path).to_dict()
    except OSError as exc:
        raise TrainerError(f"cannot read the config of {model}: {str(exc).splitlines()[0]}") from None


def resolved_precision(cfg: TrainConfig, device: str) -> Precision:
    """--bf16/--4bit as a run would resolve them: on the GPU assumed to compute bf16; on the CPU, this one."""
    gpu = Device(cuda=True, cuda_bf16=True, name="the GPU") if device == "gpu" else None
    return resolve_precision(cfg.training.bf16, cfg.model.load_in_4bit, gpu)


def estimate(
    cfg: TrainConfig,
    shape: ArchShape,
    device: str = "gpu",
    checkpoint_bytes: int = 0,
    continuing_adapter: bool = False,
) -> dict[str, int]:
    """Bytes by component, and 'total'.

    On the CPU the process also keeps the memory-mapped checkpoint it loaded (`checkpoint_bytes`).
    A reward model (sequence classification) has no LM head, only its one-output score head. DPO
    continuing an adapter keeps a frozen copy of it as the reference (`continuing_adapter`)."""
    m, t, d = cfg.model, cfg.training, cfg.data
    precision = resolved_precision(cfg, device)
    four_bit, bf16 = precision.load_in_4bit, precision.bf16
    sequence_classifier = kind_of(cfg.kind).head == "sequence-classification"
    half = 2 if bf16 else 4
    shapes = shape.linear_shapes()
    linear = shape.linear_params
    lm_head = 0 if shape.tied else shape.vocab * shape.hidden
    total_params = shape.total_params - (lm_head if sequence_classifier else 0)
    other = total_params - linear
    if four_bit:
        blocks = linear // 64
        quant_states = shape.layers * len(shapes) * 1024  # code table and Python objects of each QuantState
        # NF4 + 8-bit absmax per block (double quant) + fp32 absmax per 256 blocks; the rest stays 16-bit
        weights = linear // 2 + blocks + (blocks // 256) * 4 + quant_states
        sixteen_bit = other
    else:
        weights = 0
        sixteen_bit = total_params
    cpu_mapped = device != "gpu" and checkpoint_bytes > 0
    if not (cpu_mapped and half == shape.dtype_bytes):  # else: zero-copy views of the mapped checkpoint
        weights += sixteen_bit * half
    if sequence_classifier:
        weights += shape.hidden * half  # the new score head
    targets = (
        list(shapes)
        if m.lora_target_modules == "all-linear"
        else [n.strip() for n in m.lora_target_modules.split(",") if n.strip() in shapes]
    )
    lora_params = shape.layers * sum(m.lora_r * (shapes[n][0] + shapes[n][1]) for n in targets)
    if sequence_classifier:
        lora_params += shape.hidden  # the score head, trained in full
    param_bytes = 2 if four_bit else 4  # TRL keeps QLoRA adapters in bf16, LoRA over 16-bit in fp32
    optim = t.optim if t.optim != "auto" else ("paged_adamw_8bit" if device == "gpu" else "adamw_torch")
    state_bytes = 2 if "8bit" in optim else 2 * param_bytes
    adapter = lora_params * (param_bytes * 2 + state_bytes)  # weights + grads + two moments
    if continuing_adapter and kind_of(cfg.kind).name == "dpo":
        adapter += lora_params * param_bytes  # TRL's frozen "ref" copy of the adapter

    # sequences per row: chosen and rejected (reward, DPO), the answer and its KL mismatch (KTO), one (SFT, RLOO)
    tokens = SEQUENCES_PER_ROW.get(cfg.kind, 2) * t.batch_size * d.max_length
    a = 2 if bf16 else 4
    h, i = shape.hidden, shape.intermediate
    q, kv = shape.heads * shape.head_dim, shape.kv_heads * shape.head_dim
    # Saved for the backward, per token of one decoder layer:
    norms = 2 * (4 + a) * h  # two RMSNorms: fp32 input + 16-bit normalised output
    attention = a * (h + 7 * q + 4 * kv)  # input, q/k/v, rotate_half and rotated q/k, GQA-repeated k/v,
    #                                                 attention output, o_proj input
    mlp = a * (h + 4 * i)  # input, gate, up, act(gate), act*up
    # LoRA dropout output + its mask, per targeted input (active: run.py zeroes only the base's dropout)
    dropout = (a + 1) if m.lora_dropout > 0 else 0
    lora = sum(dropout * shapes[n][0] + a * m.lora_r for n in targets)
    per_layer = tokens * (norms + attention + mlp + lora)
    final = tokens * (4 + 2 * a) * h  # final norm, the hidden states the head reads
    # The CPU's attention (SDPA's math kernel, which a padding mask selects) keeps each sequence's scores
    # (heads x length x length, in float32 whatever the compute dtype) for the backward: one copy saved per
    # layer; the backward of a layer adds the scores' gradient and the softmax's.
    scores = (
        0 if device == "gpu" else SEQUENCES_PER_ROW.get(cfg.kind, 2) * t.batch_size * shape.heads * d.max_length**2 * 4
    )
    if t.gradient_checkpointing:
        saved, recompute = shape.layers * tokens * h * a + final, per_layer + scores
    else:
        saved, recompute = shape.layers * (per_layer + scores) + final, 0
    if device != "gpu":
        # The backward through a layer holds the gradients of its saved tensors (and of its scores and their
        # softmax) beside them; measured on the CPU, where freed memory also stays in the process.
        recompute += per_layer + 2 * scores
    if not sequence_classifier:
        tile = min(tokens, HEAD_TILE_TOKENS) * min(shape.vocab, HEAD_TILE_VOCAB)
        if device == "gpu":  # Triton: one 16-bit tile; fp32 gradient of the hidden states
            head = tile * 2 + tokens * h * 4
        else:  # torch fallback: fp32 copies of the tile, the 16-bit tile and a bool mask
            head = tile * (CPU_HEAD_TILE_FP32_COPIES * 4 + 2 + 1) + tokens * h * 4
    else:
        head = tokens * 8  # one output per token
    widest = max(a_ * b_ for a_, b_ in shapes.values())
    dequant = 2 * widest * 2 if four_bit else 0
    parts = {
        "weights": weights,
        "adapter_and_optimizer": adapter,
        "activations": saved,
        "backward_working_set": max(recompute, head),
        "dequant_buffers": dequant,
    }
    subtotal = sum(parts.values())
    if device == "gpu":
        parts["runtime"] = GPU_RUNTIME_BYTES + int(subtotal * (GPU_SLACK - 1))
    else:
        parts["runtime"] = CPU_RUNTIME_BYTES
        unread = lm_head * shape.dtype_bytes if sequence_classifier else 0
        parts["checkpoint_mapping"] = max(0, checkpoint_bytes - unread)  # only the pages read are resident:
        #                                                                  a reward model never reads lm_head
    parts["total"] = sum(parts.values())
    return parts


def rloo_extra(cfg: TrainConfig, policy: ArchShape, reward: ArchShape, device: str = "gpu") -> dict[str, int]:
    """What RLOO adds to the policy's training memory: the frozen reward model (4-bit on a GPU, float32 on the
    CPU, as `trainers.rewards` loads it), the KV cache of generating every completion of a step at once, and
    the completions' logits rows for the old and the reference log-probs (one fp32 vocabulary row per token)."""
    r, t, d = cfg.rloo, cfg.training, cfg.data
    completions = t.batch_size  # a forward batch counts completions (k per prompt)
    if device == "gpu":
        blocks = reward.linear_params // 64
        rm = reward.linear_params // 2 + blocks + (reward.total_params - reward.linear_params) * 2
    else:
        rm = reward.total_params * 4
    kv_bytes = 2 if resolved_precision(cfg, device).bf16 else 4
    kv = 2 * policy.layers * policy.kv_heads * policy.head_dim * completions * d.max_length * kv_bytes
    logits = completions * min(r.max_new_tokens, d.max_length) * 4 * 2  # log-probs kept per token, old and ref
    return {"reward_model": rm, "generation_kv_cache": kv, "completion_logprobs": logits}


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
    model = required(cfg.model.model, "--model")
    shape = ArchShape.from_config(read_model_config(model))
    continuing = (Path(model).expanduser() / "adapter_config.json").is_file()
    parts = estimate(cfg, shape, "gpu", continuing_adapter=continuing)
    rloo_note = None
    if cfg.kind == "rloo":
        reward_shape = shape
        if cfg.rloo.reward_model:
            reward_shape = ArchShape.from_config(read_model_config(_reward_base(cfg.rloo.reward_model)))
        total = parts.pop("total")
        extra = rloo_extra(cfg, shape, reward_shape, "gpu")
        parts.update(extra)
        parts["total"] = total + sum(extra.values())
        r = cfg.rloo
        rloo_note = (
            f"rloo: {cfg.training.batch_size} completions per forward pass ({cfg.training.batch_size // r.num_generations}"
            f" prompts x {r.num_generations}), up to {r.max_new_tokens} new tokens each; reward model "
            f"{reward_shape.total_params / 1e9:.2f}B parameters, 4-bit, frozen"
        )
    precision = resolved_precision(cfg, "gpu")
    available: int | None
    name: str | None
    if cfg.training.gpu_memory:
        available, name = parse_size(cfg.training.gpu_memory), f"--gpu-memory {cfg.training.gpu_memory}"
    else:
        available, name = detect_gpu_memory()
    t, m = cfg.training, cfg.model
    lines = [
        f"model: {cfg.model.model} ({shape.total_params / 1e9:.2f}B parameters, {shape.layers} layers, "
        f"hidden {shape.hidden}, vocab {shape.vocab})",
        f"setup: train {cfg.kind}, {'4-bit NF4 QLoRA' if precision.load_in_4bit else '16-bit LoRA'}, r={m.lora_r}, "
        f"max length {cfg.data.max_length}, batch {t.batch_size} x accumulation {t.grad_accum}, "
        f"gradient checkpointing {'on' if t.gradient_checkpointing else 'off'}",
    ]
    if rloo_note:
        lines.append(rloo_note)
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
            lines.append(
                f"try --max-length {max(64, cfg.data.max_length // 2)}, --batch-size 1 --grad-accum "
                f"{t.batch_size * t.grad_accum}" + (", --4bit" if not precision.load_in_4bit else "")
            )
    return lines, fits
