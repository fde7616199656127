"""`--bf16` / `--4bit` auto: on where the device computes bf16 fast, off otherwise, and why.

A CPU without bf16 instructions runs the 4-bit + bf16 recipe many times slower than float32 LoRA, so
there the default is float32. Imports torch only to ask about a GPU, and only when it is installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

CPUINFO = Path("/proc/cpuinfo")
# /proc/cpuinfo flags of the x86 instructions that compute bf16 natively, and how we name them
CPU_BF16_FLAGS = {"amx_bf16": "AMX-BF16", "avx512_bf16": "AVX-512 BF16"}


@dataclass(frozen=True)
class Precision:
    bf16: bool
    load_in_4bit: bool
    reason: str

    def describe(self) -> str:
        base = "4-bit NF4 base (QLoRA)" if self.load_in_4bit else "16-bit base (plain LoRA)"
        compute = "bf16 compute" if self.bf16 else "float32 compute"
        return f"precision: {base}, {compute} ({self.reason})"


def cpu_flags(cpuinfo: Path = CPUINFO) -> set[str]:
    """The CPU feature flags of the first processor in /proc/cpuinfo (empty where there is none)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")) and ":" in line:
            return set(line.split(":", 1)[1].split())
    return set()


@dataclass(frozen=True)
class Device:
    """What matters for the choice: a GPU and whether it computes bf16 natively, or the CPU's flags."""

    cuda: bool
    cuda_bf16: bool = False
    name: str = "CPU"
    flags: frozenset[str] = frozenset()


def detect_device() -> Device:
    try:
        import torch
    except ImportError:
        return Device(cuda=False, flags=frozenset(cpu_flags()))
    if torch.cuda.is_available():
        major, _minor = torch.cuda.get_device_capability(0)
        return Device(cuda=True, cuda_bf16=major >= 8, name=torch.cuda.get_device_name(0))
    return Device(cuda=False, flags=frozenset(cpu_flags()))


def resolve_precision(bf16: bool | None, load_in_4bit: bool | None, device: Device | None = None) -> Precision:
    """The flags given (None = auto) resolved for this device, with the reason in words."""
    if load_in_4bit and bf16 is False:
        # TRL casts QLoRA adapters to bf16 whatever the precision asked for; fp32 compute then fails mid-run.
        raise ConfigError("4-bit (QLoRA) training computes in bf16: drop --no-bf16, or add --no-4bit for plain LoRA")
    if bf16 is not None and load_in_4bit is not None:
        return Precision(bf16, load_in_4bit, "as given")
    device = device or detect_device()
    if device.cuda:
        fast = device.cuda_bf16
        why = f"auto: {device.name} " + ("computes bf16 natively" if fast else "emulates bf16 (slower)")
        four = load_in_4bit if load_in_4bit is not None else bf16 is not False  # on a GPU 4-bit is about memory
        half = bf16 if bf16 is not None else (fast or four)
        if four and not fast and load_in_4bit is None:
            why += "; 4-bit kept for memory, --no-4bit --no-bf16 for float32 LoRA if the model fits"
        return Precision(half, four, why)
    native = [label for flag, label in CPU_BF16_FLAGS.items() if flag in device.flags]
    if native:
        why = f"auto: this CPU has {' and '.join(native)}"
    else:
        why = "auto: this CPU has no AMX/AVX-512 BF16, where float32 LoRA is many times faster than 4-bit + bf16"
    four = load_in_4bit if load_in_4bit is not None else (bool(native) and bf16 is not False)
    half = bf16 if bf16 is not None else (bool(native) or four)
    return Precision(half, four, why)
